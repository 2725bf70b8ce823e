"""Template filters and globals: money and dates for people, through Babel."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, get_currency_precision
from flask import Flask, g

from portal.models import Role


def _locale() -> str:
    actor = g.get("actor")
    return actor.business.locale if actor is not None else "en"


def money(minor: int, currency: str) -> str:
    amount = Decimal(minor).scaleb(-get_currency_precision(currency))
    return format_currency(amount, currency, locale=_locale())


def local_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    actor = g.get("actor")
    zone = ZoneInfo(actor.business.time_zone if actor is not None else "UTC")
    return format_datetime(value.astimezone(zone), "medium", locale=_locale())


def amount(value: Decimal, currency: str) -> str:
    """A typed amount for people; a unit price finer than the currency keeps its digits."""
    exponent = value.normalize().as_tuple().exponent
    finer = isinstance(exponent, int) and -exponent > get_currency_precision(currency)
    return format_currency(
        value,
        currency,
        locale=_locale(),
        currency_digits=not finer,
        decimal_quantization=not finer,
    )


def percent(rate: Decimal) -> str:
    """``Decimal("20.0000")`` as ``20``, ``Decimal("7.7500")`` as ``7.75``."""
    return format(rate.normalize(), "f")


def init_app(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(amount, "amount")
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_global(Role, "Role")

    @app.context_processor
    def actor_context() -> dict[str, object]:
        return {"actor": g.get("actor"), "memberships": g.get("memberships", [])}
