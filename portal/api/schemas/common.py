"""Fields and schemas every resource shares: safe text, decimals as strings, money, pages,
problems."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import marshmallow as ma
from babel.numbers import format_currency, get_currency_precision
from marshmallow import fields, validate

from portal.models import Business

# Dates the billing rules can compute with (terms add days, schedules add months).
EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)
PUBLIC_ID = r"^[0-9A-Za-z]{1,40}$"
DECIMAL = r"^-?[0-9]{1,12}(\.[0-9]{1,6})?$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Text(fields.String):
    """A string the databases can store: no control characters, valid UTF-8, bounded."""

    def __init__(self, *, max_length: int = 200, **kwargs: Any) -> None:
        validators = [validate.Length(max=max_length), *kwargs.pop("validate", [])]
        super().__init__(validate=validators, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ma.ValidationError("Not valid text.") from exc
        if _CONTROL.search(text):
            raise ma.ValidationError("Control characters are not allowed.")
        return text


class PublicId(fields.String):
    """The public id of one of the business's records."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Regexp(PUBLIC_ID, error="Not an id."), **kwargs)


class DecimalString(fields.Decimal):
    """An exact decimal sent and returned as a string ("12.50"): never a binary float."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {})
        kwargs["metadata"].setdefault("pattern", DECIMAL)
        super().__init__(as_string=True, allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or not re.match(DECIMAL, value):
            raise ma.ValidationError('Send a decimal number as a string, e.g. "12.50".')
        result: Decimal = super()._deserialize(value, attr, data, **kwargs)
        return result


class Day(fields.Date):
    """A calendar date the billing rules can work with."""

    def __init__(self, **kwargs: Any) -> None:
        validators = [
            validate.Range(min=EARLIEST, max=LATEST, error="Choose a date between 1970 and 2999.")
        ]
        super().__init__(validate=validators, **kwargs)


def Count(low: int = 0, high: int = 1_000_000, **kwargs: Any) -> fields.Integer:
    """A bounded whole number (``strict``: a JSON number, never a string, unless a query)."""
    kwargs.setdefault("strict", True)
    return fields.Integer(validate=validate.Range(min=low, max=high), **kwargs)


class MoneySchema(ma.Schema):
    minor = fields.Integer(
        required=True, metadata={"description": "Integer minor units (cents; yen for JPY)."}
    )
    currency = fields.String(required=True, metadata={"description": "ISO 4217 code."})
    display = fields.String(
        required=True, metadata={"description": "Formatted for people in the business's locale."}
    )


def _babel(minor: int, currency: str, locale: str) -> str:
    amount = Decimal(minor).scaleb(-get_currency_precision(currency))
    return str(format_currency(amount, currency, locale=locale))


@lru_cache(maxsize=512)
def _shape(currency: str, locale: str) -> tuple[str, str, str, int] | None:
    """How Babel writes ``currency`` in ``locale``: around one sample amount, the positive
    prefix and suffix, group and decimal marks, and the digits. None: use Babel every time
    (patterns this shortcut does not reproduce, e.g. Indian grouping)."""
    digits = get_currency_precision(currency)
    sample = _babel(123456789 * 10**digits + (10**digits - 1 if digits else 0), currency, locale)
    match = re.search(r"123(?P<g>\D?)456(?P=g)789(?:(\D)(\d+))?", sample)
    if match is None:
        return None
    group, decimal = match.group("g"), match.group(2) or ""
    prefix, suffix = sample[: match.start()], sample[match.end() :]
    shape = (prefix + "\x00" + suffix, group, decimal, digits)
    for probe in (0, 1, 7, 1000, 123456, -1, -123456789, 10**15):
        if _fast(probe, shape) != _babel(probe, currency, locale):
            return None
    return shape


def _fast(minor: int, shape: tuple[str, str, str, int]) -> str:
    frame, group, decimal, digits = shape
    whole, part = divmod(abs(minor), 10**digits) if digits else (abs(minor), 0)
    text = f"{whole:,}".replace(",", group)
    if digits:
        text += decimal + str(part).zfill(digits)
    shown = frame.replace("\x00", text)
    return ("-" + shown) if minor < 0 else shown


def display(minor: int, currency: str, locale: str) -> str:
    """``format_currency`` of the amount, taken apart once per currency and locale: a page of
    50 invoices shows 250 amounts."""
    shape = _shape(currency, locale)
    return _babel(minor, currency, locale) if shape is None else _fast(minor, shape)


def money(minor: int, currency: str, business: Business) -> dict[str, Any]:
    return {
        "minor": int(minor),
        "currency": currency,
        "display": display(int(minor), currency, business.locale or "en"),
    }


def Money(**kwargs: Any) -> fields.Nested:
    return fields.Nested(MoneySchema, required=True, **kwargs)


class ListQuery(ma.Schema):
    """Paging shared by every list: an opaque cursor and a page size."""

    class Meta:
        unknown = ma.EXCLUDE

    limit = Count(
        1, 100, strict=False, load_default=50, metadata={"description": "Items per page (1-100)."}
    )
    cursor = Text(
        max_length=400,
        load_default=None,
        metadata={"description": "The `next_cursor` of the previous page."},
    )
    updated_since = fields.AwareDateTime(
        load_default=None,
        metadata={"description": "Only records changed at or after this time (RFC 3339)."},
    )


_PAGES: dict[str, type[ma.Schema]] = {}


def page_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page of ``item``: ``data`` and the cursor of the next page (null on the last)."""
    if name in _PAGES:
        return _PAGES[name]
    _PAGES[name] = ma.Schema.from_dict(
        {
            "data": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(required=True, allow_none=True),
        },
        name=name,
    )
    return _PAGES[name]


class ProblemFieldSchema(ma.Schema):
    field = fields.String(required=True)
    message = fields.String(required=True)


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.List(fields.Nested(ProblemFieldSchema))


class ActionReason(ma.Schema):
    reason = Text(required=True, max_length=500, validate=[validate.Length(min=1)])


def csv_list(value: str | None, allowed: set[str], field: str) -> set[str]:
    """``expand=client,lines``: the names asked for, each one of ``allowed``."""
    from portal.services.errors import InvalidInput

    names = {part.strip() for part in (value or "").split(",") if part.strip()}
    unknown = names - allowed
    if unknown:
        raise InvalidInput({field: f"Choose from {', '.join(sorted(allowed))}."})
    return names


EXPAND = Text(
    max_length=200,
    load_default=None,
    metadata={"description": "Related objects to embed, comma separated."},
)
