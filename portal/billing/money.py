"""Money as integer minor units plus an ISO 4217 currency.

Amounts are stored exactly as the database holds them (integer minor units) and converted to
``Decimal`` only for arithmetic, with an explicit rounding mode. The number of minor digits comes
from Babel's currency table, so zero-decimal (JPY) and three-decimal (KWD) currencies need no
special cases. ``float`` is refused everywhere: binary fractions cannot represent cents exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import Enum
from functools import cache

from babel.numbers import get_currency_precision, is_currency

from portal.billing.errors import BillingError, CurrencyMismatch

__all__ = [
    "Money",
    "Rounding",
    "allocate",
    "exponent",
    "is_known_currency",
    "quantize",
    "require_decimal",
    "require_minor",
    "round_minor",
    "split_evenly",
]


class Rounding(Enum):
    """How a computed amount is brought to the currency's precision.

    ``HALF_UP`` rounds ties away from zero (what most people and most tax offices expect);
    ``HALF_EVEN`` (banker's rounding) is offered as a business setting.
    """

    HALF_UP = ROUND_HALF_UP
    HALF_EVEN = ROUND_HALF_EVEN

    @property
    def decimal_mode(self) -> str:
        """The ``decimal`` module's rounding constant for this mode."""
        return str(self.value)


def is_known_currency(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 code (upper case) in Babel's currency table."""
    return isinstance(code, str) and code.isupper() and is_currency(code)


@cache
def exponent(code: str) -> int:
    """Number of minor-unit digits of a currency: JPY 0, EUR 2, KWD 3.

    Raises ``BillingError`` (a ``ValueError``) for a code that is not a known currency, because
    Babel silently answers 2 for anything it does not know.
    """
    if not is_known_currency(code):
        raise BillingError(f"unknown currency code: {code!r}")
    return int(get_currency_precision(code))


def require_decimal(value: object, field: str) -> Decimal:
    """Return ``value`` as a finite ``Decimal``; ints are accepted, floats and others are not.

    Floats raise ``TypeError`` (they carry binary rounding error before any computation starts);
    NaN and infinities raise ``BillingError``.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{field} must be a Decimal or int, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise BillingError(f"{field} must be a finite number")
    return number


def round_minor(value: Decimal, rounding: Rounding) -> int:
    """Round an amount already expressed in minor units to a whole number of them."""
    return int(value.quantize(Decimal(1), rounding=rounding.decimal_mode))


def require_minor(value: object, field: str, currency: str) -> int:
    """Convert a major-unit input amount to minor units, refusing sub-minor precision.

    Amounts the user states (a discount, a prepayment) must already be payable in the currency;
    rounding them silently would change what the user typed.
    """
    places = exponent(currency)
    scaled = require_decimal(value, field).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise BillingError(f"{field} has more than {places} decimal places for {currency}")
    return int(scaled)


def quantize(amount: Decimal, currency: str, rounding: Rounding = Rounding.HALF_UP) -> Decimal:
    """Round a major-unit amount to the currency's precision (``Decimal("1.005")`` → ``1.01``)."""
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=rounding.decimal_mode)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in integer minor units: EUR 12.34 is ``Money(1234, "EUR")``."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(f"Money.minor must be an int, not {type(self.minor).__name__}")
        exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(
        cls, amount: Decimal | int, currency: str, rounding: Rounding = Rounding.HALF_UP
    ) -> Money:
        """Money from a major-unit amount, rounded to the currency's precision with ``rounding``."""
        value = require_decimal(amount, "amount")
        return cls(int(quantize(value, currency, rounding).scaleb(exponent(currency))), currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units with exactly the currency's number of places."""
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._check(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._check(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __bool__(self) -> bool:
        return self.minor != 0


def allocate(total: Money, ratios: Sequence[int | Decimal]) -> list[Money]:
    """Split ``total`` in proportion to ``ratios`` without losing or inventing a minor unit.

    Largest-remainder method: every part gets its exact share truncated toward zero, then the
    units left over go one each to the parts with the largest remainders (earlier parts win ties).
    The parts always add up to ``total`` and each differs from its exact share by less than one
    minor unit. Used to spread a document discount over tax categories or a payment over invoices.
    """
    weights = [require_decimal(ratio, f"ratios[{i}]") for i, ratio in enumerate(ratios)]
    if not weights:
        raise BillingError("ratios must not be empty")
    if any(weight < 0 for weight in weights):
        raise BillingError("ratios must not be negative")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        raise BillingError("ratios must not all be zero")

    sign = -1 if total.minor < 0 else 1
    units = abs(total.minor)
    exact = [Decimal(units) * weight / weight_sum for weight in weights]
    parts = [int(share.to_integral_value(rounding=ROUND_DOWN)) for share in exact]
    leftover = units - sum(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return [Money(sign * part, total.currency) for part in parts]


def split_evenly(total: Money, n: int) -> list[Money]:
    """Split ``total`` into ``n`` parts differing by at most one minor unit, larger ones first."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, not {type(n).__name__}")
    if n < 1:
        raise BillingError("n must be at least 1")
    return allocate(total, [1] * n)
