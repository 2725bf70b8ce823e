"""Credit notes: correct an issued invoice, apply the credit, refund what the client keeps.

A credit note is a document of its own with positive amounts that names the invoice it credits.
Issued, it first reduces that invoice's balance; what is left is client credit that later
invoices take through ``payments.apply_client_credit``, or that is paid back with a refund.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from portal.billing.errors import BillingError
from portal.billing.money import Money, quantize, require_minor
from portal.billing.status import OPEN_STATUSES, InvoiceStatus
from portal.extensions import db
from portal.models import (
    CreditApplication,
    Document,
    DocumentAdjustment,
    DocumentKind,
    DocumentLine,
    Refund,
    Role,
)
from portal.services import audit, balances, documents, pricing
from portal.services.actors import Actor
from portal.services.errors import InvalidInput

ISSUED = "issued"
MAX_REFERENCE = 120
_QUANTITY_STEP = Decimal("0.0001")


def _locked(actor: Actor, public_id: str, kind: DocumentKind) -> Document:
    """The document, locked until the transaction ends so concurrent credits queue up."""
    doc = documents.get_document(actor, public_id, kind)
    db.session.refresh(doc, with_for_update=True)
    return doc


def _qty(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def _copy_line(
    line: DocumentLine, position: int, quantity: Decimal, invoice: Document
) -> DocumentLine:
    """The invoice line for ``quantity`` units; fixed discounts and charges shrink in proportion."""
    rounding = pricing.ROUNDING[invoice.rounding_mode]

    def part(amount: Decimal | None) -> Decimal | None:
        if amount is None or quantity == line.quantity:
            return amount
        return quantize(Decimal(amount) * quantity / line.quantity, invoice.currency, rounding)

    return DocumentLine(
        position=position,
        product_id=line.product_id,
        description=line.description,
        unit=line.unit,
        quantity=quantity,
        unit_price=line.unit_price,
        base_quantity=line.base_quantity,
        discount_percent=line.discount_percent,
        discount_amount=part(line.discount_amount),
        charge_amount=part(line.charge_amount) or Decimal(0),
        price_includes_tax=line.price_includes_tax,
        taxes=[dict(t) for t in line.taxes],
    )


def _copy_adjustment(adj: DocumentAdjustment, amount: Decimal) -> DocumentAdjustment:
    return DocumentAdjustment(
        position=adj.position,
        kind=adj.kind,
        reason=adj.reason,
        amount=amount,
        taxes=[dict(t) for t in adj.taxes],
    )


def _chosen(
    invoice: Document, lines: tuple[tuple[int, Decimal], ...]
) -> list[tuple[DocumentLine, Decimal]]:
    """Check the (position, quantity) pairs against the invoice; errors name the line."""
    if not lines:
        raise InvalidInput({"lines": "Choose at least one line to credit."})
    by_position = {line.position: line for line in invoice.lines}
    errors: dict[str, str] = {}
    chosen: list[tuple[DocumentLine, Decimal]] = []
    for position, quantity in lines:
        field = f"lines-{position}"
        line = by_position.get(position)
        if line is None:
            errors["lines"] = f"The invoice has no line {position + 1}."
        elif any(position == seen.position for seen, _ in chosen):
            errors[field] = f"Line {position + 1} is chosen twice."
        elif quantity != quantity.quantize(_QUANTITY_STEP):
            errors[field] = "Quantity has more than 4 decimal places."
        elif line.quantity > 0 and not 0 < quantity <= line.quantity:
            errors[field] = f"Enter a quantity above 0 and at most {_qty(line.quantity)}."
        elif line.quantity < 0 and not line.quantity <= quantity < 0:
            errors[field] = f"Enter a quantity below 0 and at least {_qty(line.quantity)}."
        elif line.quantity == 0:
            errors[field] = "This line has no quantity to credit."
        else:
            chosen.append((line, quantity))
    if errors:
        raise InvalidInput(errors)
    return sorted(chosen, key=lambda pair: pair[0].position)


def _nets_by_tax(doc: Document) -> dict[pricing.TaxKey, tuple[list[dict[str, Any]], int]]:
    """The document's net per combination of tax rates, discounts and charges included."""
    nets: dict[pricing.TaxKey, tuple[list[dict[str, Any]], int]] = {}

    def add(taxes: list[dict[str, Any]], minor: int) -> None:
        key = pricing.tax_key(taxes)
        known, net = nets.get(key, (taxes, 0))
        nets[key] = (known, net + minor)

    for line in doc.lines:
        add(line.taxes, line.net_minor)
    for adj in doc.adjustments:
        minor = require_minor(Decimal(adj.amount), "amount", doc.currency)
        add(adj.taxes, -minor if adj.kind == "allowance" else minor)
    return nets


def _prorate_adjustments(invoice: Document, note: Document) -> None:
    """Carry the invoice's discounts and charges over in the share of the lines credited.

    The share is taken per tax treatment, so crediting only the 7 % lines does not move the
    discount given on the 20 % lines; crediting every line in full gives back the whole amount.
    """
    invoiced: dict[pricing.TaxKey, int] = {}
    credited: dict[pricing.TaxKey, int] = {}
    for line in invoice.lines:
        key = pricing.tax_key(line.taxes)
        invoiced[key] = invoiced.get(key, 0) + line.net_minor
    for line in note.lines:
        key = pricing.tax_key(line.taxes)
        credited[key] = credited.get(key, 0) + line.net_minor
    all_invoiced, all_credited = sum(invoiced.values()), sum(credited.values())
    rounding = pricing.ROUNDING[invoice.rounding_mode]
    for adj in invoice.adjustments:
        key = pricing.tax_key(adj.taxes)
        if invoiced.get(key):
            share = Decimal(credited.get(key, 0)) / invoiced[key]
        elif all_invoiced:
            share = Decimal(all_credited) / all_invoiced
        else:
            share = Decimal(0)
        amount = quantize(Decimal(adj.amount) * share, invoice.currency, rounding)
        if amount:
            note.adjustments.append(_copy_adjustment(adj, amount))


def _earlier_notes(invoice: Document, note: Document | None, issued_only: bool) -> list[Document]:
    stmt = select(Document).where(
        Document.credited_invoice_id == invoice.id,
        Document.kind == DocumentKind.CREDIT_NOTE,
    )
    if note is not None and note.id is not None:
        stmt = stmt.where(Document.id != note.id)
    if issued_only:
        stmt = stmt.where(Document.status == ISSUED)
    return list(db.session.scalars(stmt.order_by(Document.id)))


def _refuse_over_credit(invoice: Document, note: Document, earlier: list[Document]) -> None:
    """Credit notes never credit more, at any tax rate, than the invoice charged at that rate.

    Checking the net per rate rather than the total lets the last of several partial credit
    notes take what is left even when each note's own tax rounding adds a cent to its total.
    """
    if note.total_minor <= 0:
        raise InvalidInput({"lines": "A credit note must come to more than 0."})
    invoiced = _nets_by_tax(invoice)
    taken: dict[pricing.TaxKey, int] = {}
    for other in earlier:
        for key, (_, net) in _nets_by_tax(other).items():
            taken[key] = taken.get(key, 0) + net
    over = [
        taxes
        for key, (taxes, net) in _nets_by_tax(note).items()
        if net > 0 and net > invoiced.get(key, ([], 0))[1] - taken.get(key, 0)
    ]
    if not over:
        return
    left = invoice.total_minor - sum(n.total_minor for n in earlier)
    names = ", ".join(n.number or "a draft credit note" for n in earlier)
    after = f" after {names}" if earlier else ""
    if left <= 0:
        message = f"Nothing of invoice {invoice.number} is left to credit{after}."
    elif note.total_minor > left:
        message = (
            f"Only {Money(left, invoice.currency)} of invoice {invoice.number} is left to credit"
            f"{after}; this credit note comes to {Money(note.total_minor, note.currency)}."
        )
    else:
        rates = ", ".join(str(t.get("name") or t["category"]) for t in over[0])
        where = f"at {rates}" if rates else "without tax"
        message = f"This credits more {where} than invoice {invoice.number} has left to credit."
    raise InvalidInput({"lines": message})


def create_credit_note(
    actor: Actor,
    invoice_id: str,
    lines: tuple[tuple[int, Decimal], ...] | None = None,
    reason: str = "",
) -> Document:
    """A draft credit note for the whole invoice, or for some of its lines.

    ``lines`` holds (position, quantity) pairs, position as stored on the invoice line (from 0).
    A partial credit takes the invoice's discounts and charges in proportion to what it credits.
    """
    actor.require(Role.ACCOUNTANT)
    invoice = _locked(actor, invoice_id, DocumentKind.INVOICE)
    if invoice.status == documents.DRAFT:
        raise InvalidInput(
            {"document": "A draft can still be edited; only an issued invoice is credited."}
        )
    if invoice.status == InvoiceStatus.VOID:
        raise InvalidInput({"document": "A void invoice cannot be credited."})
    note = Document(
        business_id=actor.business.id,
        kind=DocumentKind.CREDIT_NOTE,
        status=documents.DRAFT,
        client_id=invoice.client_id,
        client=invoice.client,
        currency=invoice.currency,
        terms_code=invoice.terms_code,
        rounding_mode=invoice.rounding_mode,
        # A credit note converts at the rate of the invoice it corrects.
        exchange_rate=invoice.exchange_rate,
        title=f"Credit note for invoice {invoice.number}",
        notes=reason.strip(),
        po_number=invoice.po_number,
        prepaid=Decimal(0),
        credited_invoice_id=invoice.id,
    )
    if lines is None:
        for line in invoice.lines:
            note.lines.append(_copy_line(line, line.position, line.quantity, invoice))
        for adj in invoice.adjustments:
            note.adjustments.append(_copy_adjustment(adj, adj.amount))
        pricing.price(note)
    else:
        for index, (line, quantity) in enumerate(_chosen(invoice, lines)):
            note.lines.append(_copy_line(line, index, quantity, invoice))
        pricing.price(note)
        _prorate_adjustments(invoice, note)
        pricing.price(note)
    _refuse_over_credit(invoice, note, _earlier_notes(invoice, None, issued_only=False))
    db.session.add(note)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="credit_note.created",
        entity_type="credit_note",
        entity_id=note.public_id,
        after={**documents.snapshot(note), "invoice": invoice.number, "reason": note.notes},
    )
    db.session.commit()
    return note


def issue_credit_note(
    actor: Actor, public_id: str, apply_to_invoice: bool = True, on: date | None = None
) -> Document:
    """Number the credit note and, unless told not to, settle the credited invoice with it.

    Only the invoice's balance is settled; the rest stays with the client as credit.
    """
    actor.require(Role.ACCOUNTANT)
    note = _locked(actor, public_id, DocumentKind.CREDIT_NOTE)
    if note.status != documents.DRAFT:
        raise InvalidInput({"document": "This credit note is already issued."})
    if note.credited_invoice_id is None:
        raise InvalidInput(
            {"document": "This credit note names no invoice; create it from the invoice instead."}
        )
    invoice = db.session.get(Document, note.credited_invoice_id, with_for_update=True)
    if invoice is None or invoice.status == InvoiceStatus.VOID:
        raise InvalidInput(
            {"document": "The credited invoice was voided; delete this draft instead."}
        )
    try:
        pricing.price(note)
        _refuse_over_credit(invoice, note, _earlier_notes(invoice, note, issued_only=True))
        documents.assign_number(actor, note, on)
    except InvalidInput:
        db.session.rollback()
        raise
    note.status = ISSUED
    applied = 0
    if apply_to_invoice:
        balances.refresh(invoice)
        if invoice.status in OPEN_STATUSES:
            applied = max(min(note.total_minor, invoice.balance_minor), 0)
        if applied > 0:
            db.session.add(
                CreditApplication(
                    credit_note_id=note.id, invoice_id=invoice.id, amount_minor=applied
                )
            )
            balances.refresh(invoice)
    balances.refresh(note)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="credit_note.issued",
        entity_type="credit_note",
        entity_id=note.public_id,
        after={
            "number": note.number,
            "total_minor": note.total_minor,
            "invoice": invoice.number,
            "applied_minor": applied,
            "credit_left_minor": note.balance_minor,
        },
    )
    db.session.commit()
    return note


def refund_credit_note(
    actor: Actor, public_id: str, amount: Decimal, refunded_on: date, reference: str = ""
) -> Refund:
    """Pay back part or all of what is left of an issued credit note."""
    actor.require(Role.ACCOUNTANT)
    note = _locked(actor, public_id, DocumentKind.CREDIT_NOTE)
    if note.status != ISSUED:
        raise InvalidInput({"document": "Issue the credit note before refunding it."})
    try:
        minor = require_minor(amount, "amount", note.currency)
    except (BillingError, TypeError) as exc:
        raise InvalidInput({"amount": f"Enter an amount {note.currency} can hold."}) from exc
    if minor <= 0:
        raise InvalidInput({"amount": "The amount must be greater than 0."})
    reference = reference.strip()
    if len(reference) > MAX_REFERENCE:
        raise InvalidInput({"reference": f"Keep the reference to {MAX_REFERENCE} characters."})
    remaining = balances.credit_note_remaining(note)
    if minor > remaining:
        message = (
            f"Only {Money(remaining, note.currency)} of this credit note is left to refund."
            if remaining > 0
            else "Nothing is left of this credit note to refund."
        )
        raise InvalidInput({"amount": message})
    refund = Refund(
        business_id=actor.business.id,
        credit_note_id=note.id,
        refunded_on=refunded_on,
        amount_minor=minor,
        currency=note.currency,
        reference=reference,
    )
    db.session.add(refund)
    balances.refresh(note)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="credit_note.refunded",
        entity_type="credit_note",
        entity_id=note.public_id,
        after={
            "refund_minor": minor,
            "reference": reference,
            "credit_left_minor": note.balance_minor,
        },
    )
    db.session.commit()
    return refund
