"""Drafting, issuing, voiding and writing off documents; loading them for a business."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.billing.errors import BillingError
from portal.billing.status import InvoiceStatus, can_transition
from portal.billing.terms import PaymentTerms, due_date
from portal.extensions import db
from portal.models import (
    Client,
    Document,
    DocumentAdjustment,
    DocumentKind,
    DocumentLine,
    Product,
    Role,
    TaxRate,
)
from portal.models.base import utcnow
from portal.services import audit, balances, pricing
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound
from portal.services.numbering import next_number
from portal.services.rates import rate_to_base

DRAFT = "draft"


@dataclass(frozen=True, slots=True)
class LineData:
    description: str
    quantity: Decimal
    unit_price: Decimal
    unit: str = ""
    product_id: str | None = None
    base_quantity: Decimal = Decimal(1)
    discount_percent: Decimal | None = None
    discount_amount: Decimal | None = None
    charge_amount: Decimal = Decimal(0)
    price_includes_tax: bool = False
    tax_rate_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AdjustmentData:
    kind: str  # "allowance" (a discount on the whole document) or "charge" (shipping…)
    amount: Decimal
    reason: str = ""
    tax_rate_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DraftData:
    client_id: str
    lines: tuple[LineData, ...]
    currency: str | None = None  # the client's currency when None
    title: str = ""
    notes: str = ""
    footer: str = ""
    po_number: str = ""
    terms_code: str | None = None  # the business's default when None
    issue_date: date | None = None
    valid_until: date | None = None
    prepaid: Decimal = Decimal(0)
    adjustments: tuple[AdjustmentData, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict)


def get_document(actor: Actor, public_id: str, kind: DocumentKind | None = None) -> Document:
    stmt = (
        select(Document)
        .where(Document.public_id == public_id, Document.business_id == actor.business.id)
        .options(
            selectinload(Document.lines),
            selectinload(Document.adjustments),
            selectinload(Document.instalments),
        )
    )
    if kind is not None:
        stmt = stmt.where(Document.kind == kind)
    doc = db.session.scalar(stmt)
    if doc is None or (doc.kind is DocumentKind.TEMPLATE and kind is not DocumentKind.TEMPLATE):
        raise NotFound("No such document.")
    return doc


def snapshot(doc: Document) -> dict[str, Any]:
    return {
        "kind": doc.kind,
        "status": doc.status,
        "number": doc.number,
        "client": doc.client.public_id if doc.client else None,
        "currency": doc.currency,
        "issue_date": doc.issue_date,
        "due_date": doc.due_date,
        "total_minor": doc.total_minor,
        "amount_due_minor": doc.amount_due_minor,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "taxes": line.taxes,
                "net_minor": line.net_minor,
            }
            for line in doc.lines
        ],
    }


def _client(actor: Actor, public_id: str) -> Client:
    client = db.session.scalar(
        select(Client).where(Client.public_id == public_id, Client.business_id == actor.business.id)
    )
    if client is None:
        raise InvalidInput({"client_id": "Choose one of your clients."})
    return client


def _rates(actor: Actor, ids: tuple[str, ...], where: str) -> list[dict[str, Any]]:
    if not ids:
        return []
    found = {
        r.public_id: r
        for r in db.session.scalars(
            select(TaxRate).where(
                TaxRate.business_id == actor.business.id, TaxRate.public_id.in_(ids)
            )
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput({where: "One of the chosen tax rates does not exist."})
    return [pricing.tax_snapshot(found[i]) for i in ids]


def _product_id(actor: Actor, public_id: str | None, where: str) -> int | None:
    if not public_id:
        return None
    product_id = db.session.scalar(
        select(Product.id).where(
            Product.public_id == public_id, Product.business_id == actor.business.id
        )
    )
    if product_id is None:
        raise InvalidInput({where: "The chosen product does not exist."})
    return product_id


def _check_terms(code: str) -> None:
    try:
        PaymentTerms.parse(code)
    except BillingError as exc:
        raise InvalidInput({"terms_code": str(exc)}) from exc


def fill_draft(actor: Actor, doc: Document, data: DraftData) -> None:
    """Write the draft's fields, lines and adjustments, then price it; errors name the field."""
    # Lookups below must not flush a half-filled document.
    with db.session.no_autoflush:
        _fill_fields(actor, doc, data)


def _fill_fields(actor: Actor, doc: Document, data: DraftData) -> None:
    client = _client(actor, data.client_id)
    doc.client = client
    doc.client_id = client.id
    doc.currency = (data.currency or client.currency).upper()
    doc.title = data.title.strip()
    doc.notes = data.notes
    doc.footer = data.footer
    doc.po_number = data.po_number.strip()
    doc.terms_code = data.terms_code or actor.business.default_terms
    _check_terms(doc.terms_code)
    doc.issue_date = data.issue_date
    doc.valid_until = data.valid_until
    doc.prepaid = data.prepaid
    from portal.services.custom_fields import validate_values  # custom_fields imports us

    doc.custom_fields = validate_values(actor, "invoice", data.custom_fields)
    doc.lines.clear()
    doc.adjustments.clear()
    for index, line in enumerate(data.lines):
        where = f"lines-{index}"
        doc.lines.append(
            DocumentLine(
                position=index,
                product_id=_product_id(actor, line.product_id, where),
                description=line.description.strip(),
                unit=line.unit.strip(),
                quantity=line.quantity,
                unit_price=line.unit_price,
                base_quantity=line.base_quantity,
                discount_percent=line.discount_percent,
                discount_amount=line.discount_amount,
                charge_amount=line.charge_amount,
                price_includes_tax=line.price_includes_tax,
                taxes=_rates(actor, line.tax_rate_ids, where),
            )
        )
    for index, adj in enumerate(data.adjustments):
        if adj.kind not in {"allowance", "charge"}:
            raise InvalidInput({f"adjustments-{index}": "Choose a discount or a charge."})
        doc.adjustments.append(
            DocumentAdjustment(
                position=index,
                kind=adj.kind,
                reason=adj.reason.strip(),
                amount=adj.amount,
                taxes=_rates(actor, adj.tax_rate_ids, f"adjustments-{index}"),
            )
        )
    errors = {
        f"lines-{i}": "Describe the line or pick a product."
        for i, line in enumerate(data.lines)
        if not line.description.strip() and not line.product_id
    }
    errors.update(
        {
            f"lines-{i}-unit": f"A unit has at most {UNIT_LENGTH} characters."
            for i, line in enumerate(data.lines)
            if len(line.unit.strip()) > UNIT_LENGTH
        }
    )
    if errors:
        raise InvalidInput(errors)
    pricing.price(doc)


UNIT_LENGTH = 20  # documents_lines.unit


def preview(actor: Actor, kind: DocumentKind, data: DraftData) -> Document:
    """Price a draft without storing anything: the editor shows these totals as you type."""
    doc = Document(
        business_id=actor.business.id,
        kind=kind,
        status=DRAFT,
        rounding_mode=actor.business.rounding_mode,
    )
    try:
        fill_draft(actor, doc, data)
    finally:
        if doc in db.session:
            db.session.expunge(doc)
    return doc


def create_draft(actor: Actor, kind: DocumentKind, data: DraftData) -> Document:
    actor.require(Role.STAFF)
    doc = Document(
        business_id=actor.business.id,
        kind=kind,
        status=DRAFT,
        rounding_mode=actor.business.rounding_mode,
    )
    db.session.add(doc)
    try:
        fill_draft(actor, doc, data)
        db.session.flush()
    except InvalidInput:
        db.session.rollback()
        raise
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=f"{kind.value}.created",
        entity_type=kind.value,
        entity_id=doc.public_id,
        after=snapshot(doc),
    )
    db.session.commit()
    return doc


def update_draft(actor: Actor, public_id: str, data: DraftData) -> Document:
    actor.require(Role.STAFF)
    doc = get_document(actor, public_id)
    if doc.status != DRAFT:
        raise InvalidInput(
            {
                "document": (
                    "Only a draft can be edited; correct an issued invoice with a credit note."
                )
            }
        )
    before = snapshot(doc)
    try:
        fill_draft(actor, doc, data)
        db.session.flush()
    except InvalidInput:
        db.session.rollback()
        raise
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=f"{doc.kind.value}.updated",
        entity_type=doc.kind.value,
        entity_id=doc.public_id,
        before=before,
        after=snapshot(doc),
    )
    db.session.commit()
    return doc


def delete_draft(actor: Actor, public_id: str) -> None:
    """Drafts have no number yet, so deleting one leaves no gap."""
    actor.require(Role.STAFF)
    doc = get_document(actor, public_id)
    if doc.status != DRAFT:
        raise InvalidInput({"document": "Only a draft can be deleted; void an issued invoice."})
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=f"{doc.kind.value}.deleted",
        entity_type=doc.kind.value,
        entity_id=doc.public_id,
        before=snapshot(doc),
    )
    db.session.delete(doc)
    db.session.commit()


def assign_number(actor: Actor, doc: Document, on: date | None = None) -> None:
    """Number, date and freeze a draft inside the caller's transaction."""
    if doc.status != DRAFT:
        raise InvalidInput({"document": f"This {doc.kind.value} is already issued."})
    if not doc.lines:
        raise InvalidInput({"lines": "Add at least one line before issuing."})
    pricing.price(doc)
    issue_date = on or doc.issue_date or pricing.business_today(actor.business)
    doc.issue_date = issue_date
    doc.number = next_number(actor.business, doc.kind, issue_date)
    doc.issued_at = utcnow()
    if doc.kind is DocumentKind.INVOICE:
        doc.due_date = due_date(issue_date, PaymentTerms.parse(doc.terms_code))
    if doc.currency != actor.business.base_currency and doc.exchange_rate is None:
        doc.exchange_rate = rate_to_base(doc.currency, actor.business.base_currency, issue_date)


def issue_invoice(
    actor: Actor, public_id: str, on: date | None = None, exchange_rate: Decimal | None = None
) -> Document:
    """Number the invoice and freeze its amounts; from now on only credit notes change it."""
    actor.require(Role.STAFF)
    doc = get_document(actor, public_id, DocumentKind.INVOICE)
    if exchange_rate is not None:
        if exchange_rate <= 0:
            raise InvalidInput({"exchange_rate": "An exchange rate must be greater than 0."})
        doc.exchange_rate = exchange_rate
    issue_in_transaction(actor, doc, on)
    db.session.commit()
    return doc


def issue_in_transaction(actor: Actor, doc: Document, on: date | None = None) -> None:
    """Number, freeze and record an invoice inside the caller's transaction (the scheduler's
    runs issue many in one go); ``issue_invoice`` is this plus its own commit."""
    assign_number(actor, doc, on)
    doc.status = InvoiceStatus.ISSUED
    balances.refresh(doc)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="invoice.issued",
        entity_type="invoice",
        entity_id=doc.public_id,
        after={"number": doc.number, "total_minor": doc.total_minor, "due_date": doc.due_date},
    )


def _close(actor: Actor, public_id: str, target: InvoiceStatus, reason: str) -> Document:
    actor.require(Role.ACCOUNTANT)
    doc = get_document(actor, public_id, DocumentKind.INVOICE)
    if not reason.strip():
        raise InvalidInput({"reason": "Say why, for the record."})
    if doc.status == DRAFT:
        raise InvalidInput({"document": "A draft has no number: delete it instead."})
    if not can_transition(doc.status, target):
        raise InvalidInput(
            {
                "document": (
                    f"A {doc.status.replace('_', ' ')} invoice cannot be "
                    f"{target.value.replace('_', ' ')}."
                )
            }
        )
    before = {"status": doc.status}
    doc.status = target
    doc.closed_at = utcnow()
    doc.close_reason = reason.strip()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=f"invoice.{'voided' if target is InvoiceStatus.VOID else 'written_off'}",
        entity_type="invoice",
        entity_id=doc.public_id,
        before=before,
        after={"status": doc.status, "reason": doc.close_reason},
    )
    db.session.commit()
    return doc


def void_invoice(actor: Actor, public_id: str, reason: str) -> Document:
    """Void keeps the number (numbers never disappear) and needs nothing to have been paid."""
    return _close(actor, public_id, InvoiceStatus.VOID, reason)


def write_off_invoice(actor: Actor, public_id: str, reason: str) -> Document:
    return _close(actor, public_id, InvoiceStatus.WRITTEN_OFF, reason)


def mark_sent(actor: Actor, public_id: str) -> Document:
    actor.require(Role.STAFF)
    doc = get_document(actor, public_id)
    if doc.status == DRAFT:
        raise InvalidInput({"document": "Issue it before sending."})
    if doc.sent_at is None:
        doc.sent_at = utcnow()
        if doc.kind is DocumentKind.INVOICE and doc.status == InvoiceStatus.ISSUED:
            doc.status = InvoiceStatus.SENT
        audit.record(
            business=actor.business,
            actor=actor.user,
            action=f"{doc.kind.value}.sent",
            entity_type=doc.kind.value,
            entity_id=doc.public_id,
        )
        db.session.commit()
    return doc
