"""Checks of codes that come from outside: currencies, time zones, locales."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_currency(code: str) -> str | None:
    if code.upper() not in _currencies():
        return f"{code!r} is not an ISO 4217 currency code."
    return None


def check_time_zone(name: str) -> str | None:
    if name not in _zones():
        return f"{name!r} is not a known time zone."
    return None


def check_locale(code: str) -> str | None:
    try:
        Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        return f"{code!r} is not a known locale."
    return None


def currency_choices() -> list[str]:
    return sorted(_currencies())
