"""One invoice line: what the user entered (``LineInput``) and what it comes to (``LineTotals``).

The net follows EN 16931 (BT-131): quantity * price / base quantity, minus the line allowance,
plus the line charge, each step rounded to the currency's precision. For a price that already
includes tax the same arithmetic gives the gross the user sees, and the net is derived from it
(see ``price_line``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portal.billing.errors import BillingError
from portal.billing.money import (
    Money,
    Rounding,
    exponent,
    require_decimal,
    require_minor,
    round_minor,
)
from portal.billing.tax import TaxRate, check_percent, check_taxes, inclusive_factor

__all__ = ["LineInput", "LineTotals", "price_line"]

_QUANTITY_STEP = Decimal("0.0001")


def _reject_float(value: object, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, Decimal | int)):
        raise TypeError(f"{name} must be a Decimal or int, not {type(value).__name__}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LineInput:
    """A line as entered. Prices are in major units and may carry more precision than the
    currency (a unit price of 0.0125 EUR is fine); quantities have at most 4 decimal places and
    may be negative for credited items. Use either ``discount_percent`` (0..100, applied to the
    rounded line amount) or ``discount_amount`` (major units, same sign as the line amount).
    """

    quantity: Decimal
    unit_price: Decimal
    taxes: tuple[TaxRate, ...] = ()
    base_quantity: Decimal = Decimal(1)
    discount_percent: Decimal | None = None
    discount_amount: Decimal | None = None
    charge_amount: Decimal = Decimal(0)
    price_includes_tax: bool = False

    def __post_init__(self) -> None:
        for name in ("quantity", "unit_price", "base_quantity", "charge_amount"):
            _reject_float(getattr(self, name), name)
        _reject_float(self.discount_percent, "discount_percent")
        _reject_float(self.discount_amount, "discount_amount")
        object.__setattr__(self, "taxes", tuple(self.taxes))


@dataclass(frozen=True, slots=True)
class LineTotals:
    """What one line comes to.

    ``amount``, ``allowance``, ``charge`` and ``total`` are in the line's own price terms: tax
    inclusive when ``includes_tax``, otherwise net (then ``total == net``). ``net`` is always
    tax exclusive and is what enters the document totals (BT-131).
    """

    amount: Money
    allowance: Money
    charge: Money
    total: Money
    net: Money
    includes_tax: bool


def price_line(
    line: LineInput, number: int, currency: str, rounding: Rounding = Rounding.HALF_UP
) -> LineTotals:
    """Compute one line; ``number`` (1-based) only labels error messages ("line 2: ...").

    Tax-inclusive prices: the line total ``G`` (rounded, after discount and charge) is what the
    user sees. Its tax is ``round(G - G / f)`` where ``f`` is 1 plus every rate on the line (a
    compound rate counting on top of the rates before it), and ``net = G - tax``. The document
    then taxes the net per category, so ``net + tax`` can differ from ``G`` by at most one minor
    unit per line; deriving the net this way keeps that gap as small as rounding allows.
    """
    where = f"line {number}"
    quantity = require_decimal(line.quantity, f"{where}: quantity")
    if quantity != quantity.quantize(_QUANTITY_STEP):
        raise BillingError(f"{where}: quantity has more than 4 decimal places")
    price = require_decimal(line.unit_price, f"{where}: unit_price")
    base_quantity = require_decimal(line.base_quantity, f"{where}: base_quantity")
    if base_quantity <= 0:
        raise BillingError(f"{where}: base_quantity must be greater than 0")
    check_taxes(line.taxes, where)

    places = exponent(currency)
    amount = round_minor((quantity * price / base_quantity).scaleb(places), rounding)

    if line.discount_percent is not None and line.discount_amount is not None:
        raise BillingError(f"{where}: give discount_percent or discount_amount, not both")
    allowance = 0
    if line.discount_percent is not None:
        percent = check_percent(line.discount_percent, f"{where}: discount_percent")
        allowance = round_minor(Decimal(amount) * percent / 100, rounding)
    elif line.discount_amount is not None:
        allowance = require_minor(line.discount_amount, f"{where}: discount_amount", currency)
        if allowance and amount and (allowance > 0) != (amount > 0):
            raise BillingError(f"{where}: discount_amount must have the same sign as the line")
        if abs(allowance) > abs(amount):
            raise BillingError(f"{where}: discount exceeds the line amount")
    charge = require_minor(line.charge_amount, f"{where}: charge_amount", currency)

    total = amount - allowance + charge
    net = total
    if line.price_includes_tax:
        gross = Decimal(total)
        net = total - round_minor(gross - gross / inclusive_factor(line.taxes), rounding)

    return LineTotals(
        amount=Money(amount, currency),
        allowance=Money(allowance, currency),
        charge=Money(charge, currency),
        total=Money(total, currency),
        net=Money(net, currency),
        includes_tax=line.price_includes_tax,
    )
