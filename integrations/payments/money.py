"""Integer minor units <-> the decimal strings providers put on the wire ("12.34", "1234" for JPY).

The exponent is the currency's number of decimal digits in CLDR (Babel), which follows ISO 4217.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision


def exponent(currency: str) -> int:
    """Decimal digits of the currency: EUR 2, JPY 0, KWD 3."""
    return int(get_currency_precision(currency.upper()))


def to_decimal_string(amount_minor: int, currency: str) -> str:
    """12345 EUR -> "123.45"; 500 JPY -> "500"; -5 EUR -> "-0.05"."""
    digits = exponent(currency)
    value = Decimal(amount_minor).scaleb(-digits)
    return f"{value:.{digits}f}"


def to_minor(value: str, currency: str) -> int:
    """ "123.45" EUR -> 12345; "500" JPY -> 500. More digits than the currency has is an error,
    never a silent rounding."""
    try:
        amount = Decimal(value)
    except InvalidOperation as error:
        raise ValueError(f"not an amount: {value!r}") from error
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    minor = amount.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{value!r} has more decimals than {currency.upper()} allows")
    return int(minor)
