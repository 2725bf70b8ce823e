"""An invoice as EN 16931 sees it, independent of syntax: what the UBL and CII writers need.

Amounts are ``Decimal`` in major units with exactly the currency's number of places (the engine
computed them), so the writers only format; unit prices and quantities keep the precision typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

__all__ = [
    "Address",
    "Adjustment",
    "EInvoiceData",
    "EInvoiceLine",
    "EInvoiceTotals",
    "Party",
    "Subtotal",
    "VatRate",
]


@dataclass(frozen=True, slots=True)
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""  # ISO 3166-1 alpha-2


@dataclass(frozen=True, slots=True)
class Party:
    """Seller (BG-4) or buyer (BG-7)."""

    name: str
    address: Address = Address()
    tax_id: str = ""  # VAT identifier (BT-31/BT-48) when it starts with a country prefix
    email: str = ""  # electronic address (BT-34/BT-49), scheme EM
    contact_name: str = ""
    phone: str = ""

    @property
    def vat_id(self) -> str:
        """The tax id when it has the two-letter prefix a VAT identifier needs (BR-CO-9)."""
        compact = self.tax_id.replace(" ", "").upper()
        return compact if len(compact) > 2 and compact[:2].isalpha() else ""


@dataclass(frozen=True, slots=True)
class VatRate:
    """One VAT category and rate (UNCL 5305 code; BT-151/BT-152)."""

    category: str
    percent: Decimal

    @property
    def exemption_reason(self) -> str:
        """BT-120: the categories without tax must say why (BR-E-10, BR-AE-10 and siblings)."""
        return _EXEMPTION_REASONS.get(self.category, "")


_EXEMPTION_REASONS = {
    "E": "Exempt from VAT",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Not subject to VAT",
}


@dataclass(frozen=True, slots=True)
class EInvoiceLine:
    """One invoice line (BG-25). ``net`` = quantity * price / base - allowance + charge."""

    line_id: str
    name: str
    description: str
    quantity: Decimal
    unit_code: str  # UN/ECE Recommendation 20
    price: Decimal  # net price (BT-146) per ``base_quantity`` (BT-149)
    base_quantity: Decimal
    allowance: Decimal
    allowance_percent: Decimal | None
    charge: Decimal
    net: Decimal
    vat: VatRate


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A document level allowance (BG-20) or charge (BG-21)."""

    is_charge: bool
    amount: Decimal
    reason: str
    vat: VatRate


@dataclass(frozen=True, slots=True)
class Subtotal:
    """One VAT breakdown row (BG-23)."""

    vat: VatRate
    base: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class EInvoiceTotals:
    """Document totals (BG-22)."""

    line_nets: Decimal
    allowances: Decimal
    charges: Decimal
    tax_exclusive: Decimal
    tax: Decimal
    tax_inclusive: Decimal
    prepaid: Decimal
    rounding: Decimal
    amount_due: Decimal


@dataclass(frozen=True, slots=True)
class EInvoiceData:
    """Everything an EN 16931 invoice or credit note carries, as we fill it."""

    is_credit_note: bool
    number: str
    issue_date: date
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[EInvoiceLine, ...]
    adjustments: tuple[Adjustment, ...]
    breakdown: tuple[Subtotal, ...]
    totals: EInvoiceTotals
    due_date: date | None = None
    po_number: str = ""  # buyer reference (BT-10) and order reference (BT-13)
    note: str = ""
    payment_terms: str = ""
    payment_instructions: str = ""
    preceding_invoice: str = ""  # BT-25, for a credit note
    preceding_invoice_date: date | None = None

    @property
    def type_code(self) -> str:
        """UNCL 1001: 380 commercial invoice, 381 credit note."""
        return "381" if self.is_credit_note else "380"
