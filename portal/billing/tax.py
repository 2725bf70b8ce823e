"""Tax rates as the engine sees them: an EN 16931 category code, a percentage, and whether the
rate compounds on the taxes before it.

The category codes are those of UNCL 5305 used by EN 16931. Categories that mean "no tax here"
(zero rated, exempt, reverse charge, intra-community, export, outside scope) must carry 0 %, so a
mistyped rate cannot silently produce tax on an exempt line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portal.billing.errors import BillingError
from portal.billing.money import require_decimal

__all__ = ["CATEGORIES", "ZERO_RATE_CATEGORIES", "TaxRate", "check_percent"]

#: UNCL 5305 codes accepted by EN 16931, with the rule-id prefix its schematron uses.
CATEGORIES: dict[str, str] = {
    "S": "S",  # standard rate
    "Z": "Z",  # zero rated goods
    "E": "E",  # exempt
    "AE": "AE",  # reverse charge
    "K": "IC",  # intra-community supply
    "G": "G",  # export outside the EU
    "O": "O",  # not subject to VAT
    "L": "IG",  # Canary Islands IGIC
    "M": "IP",  # Ceuta and Melilla IPSI
}

ZERO_RATE_CATEGORIES = frozenset({"Z", "E", "AE", "K", "G", "O"})

_HUNDRED = Decimal(100)


def check_percent(value: object, field: str) -> Decimal:
    """Return ``value`` as a Decimal percentage, refusing anything outside 0..100."""
    percent = require_decimal(value, field)
    if not 0 <= percent <= _HUNDRED:
        raise BillingError(f"{field} must be between 0 and 100")
    return percent


@dataclass(frozen=True, slots=True)
class TaxRate:
    """One tax applied to a line, allowance or charge.

    ``compound`` rates are charged on the net amount plus the non-compound taxes listed before
    them on the same line (the way some provincial sales taxes stack on a federal one).
    ``name`` is for display ("VAT", "GST"); two rates with different names stay separate rows in
    the breakdown.
    """

    category: str
    percent: Decimal
    name: str = ""
    compound: bool = False

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            known = ", ".join(CATEGORIES)
            raise BillingError(
                f"tax category {self.category!r} is not one of the EN 16931 codes ({known})"
            )
        percent = check_percent(self.percent, f"tax {self.category} percent")
        if self.category in ZERO_RATE_CATEGORIES and percent != 0:
            raise BillingError(f"tax {self.category} percent must be 0 for this category")

    @property
    def key(self) -> tuple[str, Decimal, bool, str]:
        """Identity of the breakdown row this rate contributes to (``20`` and ``20.00`` match)."""
        return (self.category, Decimal(self.percent), self.compound, self.name)

    @property
    def fraction(self) -> Decimal:
        """The rate as a fraction: 20 % → ``0.2``."""
        return Decimal(self.percent) / _HUNDRED


def check_taxes(taxes: tuple[TaxRate, ...], where: str) -> None:
    """Refuse a tax listed twice on one line (it would double the base of its breakdown row)."""
    seen: set[tuple[str, Decimal, bool, str]] = set()
    for rate in taxes:
        if not isinstance(rate, TaxRate):
            raise TypeError(f"{where}: taxes must hold TaxRate values, not {type(rate).__name__}")
        if rate.key in seen:
            raise BillingError(f"{where}: tax {rate.category} {rate.percent}% is listed twice")
        seen.add(rate.key)


def layered_bases(amount: Decimal, taxes: tuple[TaxRate, ...]) -> list[tuple[TaxRate, Decimal]]:
    """The base each tax is charged on for an ``amount`` (minor units, unrounded).

    A non-compound rate is charged on the amount itself; a compound rate on the amount plus the
    non-compound taxes listed before it. Bases stay exact here; the breakdown rounds once per row.
    """
    bases: list[tuple[TaxRate, Decimal]] = []
    preceding = Decimal(0)
    for rate in taxes:
        if rate.compound:
            bases.append((rate, amount * (1 + preceding)))
        else:
            bases.append((rate, amount))
            preceding += rate.fraction
    return bases


def inclusive_factor(taxes: tuple[TaxRate, ...]) -> Decimal:
    """``gross / net`` for these taxes: 1 + each rate times the base it is charged on."""
    return 1 + sum(
        (rate.fraction * base for rate, base in layered_bases(Decimal(1), taxes)), Decimal(0)
    )
