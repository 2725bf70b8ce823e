"""Between stored documents and the billing engine: build its input, keep its answer."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from portal.billing.errors import BillingError
from portal.billing.lines import LineInput, price_line
from portal.billing.money import Money, Rounding
from portal.billing.tax import TaxRate as RateRule
from portal.billing.totals import (
    DocumentAllowance,
    DocumentCharge,
    DocumentInput,
    DocumentTotals,
    compute_totals,
)
from portal.models import Business, Document, DocumentAdjustment, DocumentLine, TaxRate
from portal.services.errors import InvalidInput

ROUNDING = {"half_up": Rounding.HALF_UP, "half_even": Rounding.HALF_EVEN}


def business_today(business: Business, now: datetime | None = None) -> date:
    """Today's date where the business is: due dates and overdue follow its clock."""
    moment = now or datetime.now(ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(business.time_zone)).date()


def tax_snapshot(rate: TaxRate) -> dict[str, Any]:
    return {
        "id": rate.public_id,
        "name": rate.name,
        "category": rate.category,
        "percent": format(rate.rate.normalize(), "f"),
        "compound": rate.compound,
    }


TaxKey = tuple[tuple[str, Decimal, bool, str], ...]


def tax_key(taxes: list[dict[str, Any]]) -> TaxKey:
    """What makes two lines share tax treatment; the order matters for compound rates."""
    return tuple(
        (
            str(t["category"]),
            Decimal(str(t["percent"])),
            bool(t.get("compound", False)),
            str(t.get("name", "")),
        )
        for t in taxes
    )


def copy_line(line: DocumentLine, position: int) -> DocumentLine:
    """The same line for another document, with the tax rates as they were then: editing a
    tax rate later changes no document."""
    return DocumentLine(
        position=position,
        product_id=line.product_id,
        description=line.description,
        unit=line.unit,
        quantity=line.quantity,
        unit_price=line.unit_price,
        base_quantity=line.base_quantity,
        discount_percent=line.discount_percent,
        discount_amount=line.discount_amount,
        charge_amount=line.charge_amount,
        price_includes_tax=line.price_includes_tax,
        taxes=[dict(t) for t in line.taxes],
    )


def _rules(taxes: list[dict[str, Any]]) -> tuple[RateRule, ...]:
    return tuple(
        RateRule(
            category=str(t["category"]),
            percent=Decimal(str(t["percent"])),
            name=str(t.get("name", "")),
            compound=bool(t.get("compound", False)),
        )
        for t in taxes
    )


def line_input(line: DocumentLine) -> LineInput:
    return LineInput(
        quantity=Decimal(line.quantity),
        unit_price=Decimal(line.unit_price),
        taxes=_rules(line.taxes),
        base_quantity=Decimal(line.base_quantity),
        discount_percent=line.discount_percent,
        discount_amount=line.discount_amount,
        charge_amount=Decimal(line.charge_amount),
        price_includes_tax=line.price_includes_tax,
    )


def document_input(doc: Document) -> DocumentInput:
    def adjustments(kind: str) -> list[DocumentAdjustment]:
        return [a for a in doc.adjustments if a.kind == kind]

    return DocumentInput(
        currency=doc.currency,
        lines=tuple(line_input(line) for line in doc.lines),
        allowances=tuple(
            DocumentAllowance(amount=Decimal(a.amount), taxes=_rules(a.taxes), reason=a.reason)
            for a in adjustments("allowance")
        ),
        charges=tuple(
            DocumentCharge(amount=Decimal(a.amount), taxes=_rules(a.taxes), reason=a.reason)
            for a in adjustments("charge")
        ),
        prepaid=Decimal(doc.prepaid),
        rounding_mode=ROUNDING[doc.rounding_mode],
        rounding_adjustment=(
            Money(doc.rounding_minor, doc.currency).to_decimal() if doc.rounding_minor else None
        ),
    )


def check_lines(doc: Document) -> dict[str, str]:
    """Price each line on its own so an error lands beside the line that caused it."""
    errors: dict[str, str] = {}
    rounding = ROUNDING[doc.rounding_mode]
    for index, line in enumerate(doc.lines):
        try:
            price_line(line_input(line), index + 1, doc.currency, rounding)
        except (BillingError, TypeError) as exc:
            errors[f"lines-{index}"] = _plain(str(exc))
    return errors


def _plain(message: str) -> str:
    """Engine messages name fields the way code does; people read words."""
    message = message.split(": ", 1)[-1] if message.startswith("line ") else message
    return message.replace("_", " ").capitalize().rstrip(".") + "."


def price(doc: Document) -> DocumentTotals:
    """Compute the totals and store them on the document and its lines."""
    if errors := check_lines(doc):
        raise InvalidInput(errors)
    try:
        totals = compute_totals(document_input(doc))
    except (BillingError, TypeError) as exc:
        raise InvalidInput({"document": _plain(str(exc))}) from exc
    for line, result in zip(doc.lines, totals.lines, strict=True):
        line.net_minor = result.net.minor
        line.total_minor = result.total.minor
    doc.net_minor = totals.tax_exclusive.minor
    doc.tax_minor = totals.tax_total.minor
    doc.total_minor = totals.tax_inclusive.minor
    doc.amount_due_minor = totals.amount_due.minor
    doc.breakdown = [
        {
            "category": row.category,
            "percent": format(row.percent.normalize(), "f"),
            "name": row.name,
            "compound": row.compound,
            "base_minor": row.base.minor,
            "tax_minor": row.tax.minor,
        }
        for row in totals.breakdown
    ]
    return totals
