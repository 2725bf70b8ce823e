"""Document totals and the tax breakdown, following the EN 16931 calculation rules.

    sum_of_line_nets = Σ line nets                                  BR-CO-10
    allowance_total  = Σ document allowances                        BR-CO-11
    charge_total     = Σ document charges                           BR-CO-12
    tax_exclusive    = sum_of_line_nets - allowance_total + charge_total    BR-CO-13
    breakdown row    : base = Σ nets - allowances + charges of that rate    BR-S-08 (and siblings)
                       tax  = base * rate, rounded once per row, not per line   BR-CO-17
    tax_total        = Σ row taxes                                  BR-CO-14
    tax_inclusive    = tax_exclusive + tax_total                    BR-CO-15
    amount_due       = tax_inclusive - prepaid + rounding           BR-CO-16

Rounding per row rather than per line is what the standard requires and what a receiving
validator recomputes; rounding per line would drift by a cent on long invoices.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portal.billing.errors import BillingError
from portal.billing.lines import LineInput, LineTotals, price_line
from portal.billing.money import (
    Money,
    Rounding,
    exponent,
    require_decimal,
    require_minor,
    round_minor,
)
from portal.billing.tax import TaxRate, check_taxes, layered_bases

__all__ = [
    "DocumentAllowance",
    "DocumentCharge",
    "DocumentInput",
    "DocumentTotals",
    "TaxBreakdownRow",
    "compute_totals",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentAllowance:
    """A discount on the whole document (BG-20), net of tax, in major units, never negative."""

    amount: Decimal
    taxes: tuple[TaxRate, ...] = ()
    reason: str = ""

    def __post_init__(self) -> None:
        require_decimal(self.amount, "allowance amount")
        object.__setattr__(self, "taxes", tuple(self.taxes))


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentCharge:
    """A charge on the whole document such as shipping (BG-21), net of tax, never negative."""

    amount: Decimal
    taxes: tuple[TaxRate, ...] = ()
    reason: str = ""

    def __post_init__(self) -> None:
        require_decimal(self.amount, "charge amount")
        object.__setattr__(self, "taxes", tuple(self.taxes))


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentInput:
    """Everything the totals depend on.

    ``prepaid`` and ``rounding_adjustment`` are in major units and must fit the currency.
    Give either an explicit ``rounding_adjustment`` (BT-114) or a ``cash_rounding_step`` (such as
    ``Decimal("0.05")`` for CHF cash) to round the amount due; not both.
    """

    currency: str
    lines: tuple[LineInput, ...]
    allowances: tuple[DocumentAllowance, ...] = ()
    charges: tuple[DocumentCharge, ...] = ()
    prepaid: Decimal = Decimal(0)
    rounding_mode: Rounding = Rounding.HALF_UP
    rounding_adjustment: Decimal | None = None
    cash_rounding_step: Decimal | None = None

    def __post_init__(self) -> None:
        exponent(self.currency)
        require_decimal(self.prepaid, "prepaid")
        if self.rounding_adjustment is not None:
            require_decimal(self.rounding_adjustment, "rounding_adjustment")
        if self.cash_rounding_step is not None:
            require_decimal(self.cash_rounding_step, "cash_rounding_step")
        for name in ("lines", "allowances", "charges"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True, slots=True)
class TaxBreakdownRow:
    """One row of the tax breakdown (BG-23): a rate, its taxable base and the tax on it."""

    category: str
    percent: Decimal
    name: str
    compound: bool
    base: Money
    tax: Money


@dataclass(frozen=True, slots=True)
class DocumentTotals:
    """The computed totals; every amount is ``Money`` in the document currency."""

    currency: str
    lines: tuple[LineTotals, ...]
    sum_of_line_nets: Money
    allowance_total: Money
    charge_total: Money
    tax_exclusive: Money
    breakdown: tuple[TaxBreakdownRow, ...]
    tax_total: Money
    tax_inclusive: Money
    prepaid: Money
    rounding: Money
    amount_due: Money


class _Rows:
    """Accumulates exact bases per rate, in order of first appearance."""

    def __init__(self) -> None:
        self.rates: dict[tuple[str, Decimal, bool, str], TaxRate] = {}
        self.bases: dict[tuple[str, Decimal, bool, str], Decimal] = {}

    def add(self, amount: int, taxes: tuple[TaxRate, ...]) -> None:
        for rate, base in layered_bases(Decimal(amount), taxes):
            self.rates.setdefault(rate.key, rate)
            self.bases[rate.key] = self.bases.get(rate.key, Decimal(0)) + base

    def rows(self, currency: str, rounding: Rounding) -> tuple[TaxBreakdownRow, ...]:
        rows = []
        for key, rate in self.rates.items():
            base = round_minor(self.bases[key], rounding)
            tax = round_minor(base * rate.fraction, rounding)
            rows.append(
                TaxBreakdownRow(
                    category=rate.category,
                    percent=rate.percent,
                    name=rate.name,
                    compound=rate.compound,
                    base=Money(base, currency),
                    tax=Money(tax, currency),
                )
            )
        return tuple(rows)


def _document_amount(amount: Decimal, taxes: tuple[TaxRate, ...], where: str, currency: str) -> int:
    minor = require_minor(amount, f"{where}: amount", currency)
    if minor < 0:
        raise BillingError(f"{where}: amount must not be negative")
    check_taxes(taxes, where)
    return minor


def _cash_rounding(due: int, step: Decimal, currency: str, rounding: Rounding) -> int:
    step_minor = require_minor(step, "cash_rounding_step", currency)
    if step_minor <= 0:
        raise BillingError("cash_rounding_step must be greater than 0")
    rounded = round_minor(Decimal(due) / step_minor, rounding) * step_minor
    return rounded - due


def compute_totals(document: DocumentInput) -> DocumentTotals:
    """Compute line nets, document totals and the tax breakdown for ``document``.

    Raises ``BillingError`` naming the field ("line 2: quantity has more than 4 decimal places")
    for input the rules cannot accept, and ``TypeError`` for floats.
    """
    currency = document.currency
    mode = document.rounding_mode
    rows = _Rows()

    lines = tuple(
        price_line(line, number, currency, mode)
        for number, line in enumerate(document.lines, start=1)
    )
    for line_input, line in zip(document.lines, lines, strict=True):
        rows.add(line.net.minor, line_input.taxes)
    line_nets = sum(line.net.minor for line in lines)

    allowance_total = 0
    for number, allowance in enumerate(document.allowances, start=1):
        minor = _document_amount(allowance.amount, allowance.taxes, f"allowance {number}", currency)
        rows.add(-minor, allowance.taxes)
        allowance_total += minor

    charge_total = 0
    for number, charge in enumerate(document.charges, start=1):
        minor = _document_amount(charge.amount, charge.taxes, f"charge {number}", currency)
        rows.add(minor, charge.taxes)
        charge_total += minor

    breakdown = rows.rows(currency, mode)
    tax_exclusive = line_nets - allowance_total + charge_total
    tax_total = sum(row.tax.minor for row in breakdown)
    tax_inclusive = tax_exclusive + tax_total
    prepaid = require_minor(document.prepaid, "prepaid", currency)

    if document.rounding_adjustment is not None and document.cash_rounding_step is not None:
        raise BillingError("give rounding_adjustment or cash_rounding_step, not both")
    rounding = 0
    if document.rounding_adjustment is not None:
        rounding = require_minor(document.rounding_adjustment, "rounding_adjustment", currency)
    elif document.cash_rounding_step is not None:
        rounding = _cash_rounding(
            tax_inclusive - prepaid, document.cash_rounding_step, currency, mode
        )

    def money(minor: int) -> Money:
        return Money(minor, currency)

    return DocumentTotals(
        currency=currency,
        lines=lines,
        sum_of_line_nets=money(line_nets),
        allowance_total=money(allowance_total),
        charge_total=money(charge_total),
        tax_exclusive=money(tax_exclusive),
        breakdown=breakdown,
        tax_total=money(tax_total),
        tax_inclusive=money(tax_inclusive),
        prepaid=money(prepaid),
        rounding=money(rounding),
        amount_due=money(tax_inclusive - prepaid + rounding),
    )
