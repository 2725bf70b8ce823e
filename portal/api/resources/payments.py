"""``/payments`` and ``/refunds``: money received and paid back."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.api.pagination import SortKey
from portal.api.principal import require_scope
from portal.api.resources.common import actor, page, timestamps
from portal.api.schemas.common import page_schema
from portal.api.schemas.money_docs import (
    PaymentInSchema,
    PaymentQuery,
    PaymentSchema,
    RefundInSchema,
    RefundQuery,
    RefundSchema,
    dump_payment,
    dump_refund,
    major,
)
from portal.extensions import db
from portal.models import Client, Document, Payment, PaymentAllocation, Refund
from portal.services import payments
from portal.services.errors import NotFound
from portal.services.payments import PaymentData

payments_bp = Blueprint(
    "api_payments", __name__, url_prefix="/api/v1/payments", description="Payments received"
)
refunds_bp = Blueprint("api_refunds", __name__, url_prefix="/api/v1/refunds", description="Refunds")
PaymentPage = page_schema(PaymentSchema, "PaymentPage")
RefundPage = page_schema(RefundSchema, "RefundPage")
PAYMENT_SORTS = {
    **timestamps(Payment),
    "received_on": SortKey(Payment.received_on, "received_on", "date"),
    "amount": SortKey(Payment.amount_minor, "amount_minor"),
}
REFUND_SORTS = {
    **timestamps(Refund),
    "refunded_on": SortKey(Refund.refunded_on, "refunded_on", "date"),
}
LOADS = (
    selectinload(Payment.client),
    selectinload(Payment.allocations).selectinload(PaymentAllocation.document),
    selectinload(Payment.refunds),
)


def _payment(public_id: str) -> Payment:
    who = actor()
    found = db.session.scalar(
        select(Payment)
        .where(Payment.public_id == public_id, Payment.business_id == who.business.id)
        .options(*LOADS)
    )
    if found is None:
        raise NotFound("No such payment.")
    return found


@payments_bp.get("")
@require_scope("payments:read")
@payments_bp.arguments(PaymentQuery, location="query")
@payments_bp.response(200, PaymentPage)
def list_payments(args: dict[str, Any]) -> dict[str, Any]:
    """List payments: filter by client, dates, change time."""
    who = actor()
    stmt = select(Payment).where(Payment.business_id == who.business.id).options(*LOADS)
    if args.get("client_id"):
        client = select(Client.id).where(
            Client.business_id == who.business.id, Client.public_id == args["client_id"]
        )
        stmt = stmt.where(Payment.client_id == client.scalar_subquery())
    if args.get("received_from"):
        stmt = stmt.where(Payment.received_on >= args["received_from"])
    if args.get("received_to"):
        stmt = stmt.where(Payment.received_on <= args["received_to"])
    return page(
        stmt,
        Payment.id,
        PAYMENT_SORTS,
        args,
        lambda p: dump_payment(p, who.business),
        Payment.updated_at,
    )


@payments_bp.post("")
@require_scope("payments:write")
@payments_bp.arguments(PaymentInSchema)
@payments_bp.response(201, PaymentSchema)
def record_payment(body: dict[str, Any]) -> dict[str, Any]:
    """Record a payment and allocate it to invoices; the rest is the client's credit."""
    who = actor()
    currency = body["currency"].upper()
    data = PaymentData(
        client_id=body["client_id"],
        amount=major(body["amount_minor"], currency),
        currency=currency,
        received_on=body["received_on"],
        method=body["method"],
        reference=body["reference"],
        notes=body["notes"],
        allocations=tuple(
            (a["invoice_id"], major(a["amount_minor"], currency)) for a in body["allocations"]
        ),
    )
    recorded = payments.record_payment(who, data)
    return dump_payment(_payment(recorded.public_id), who.business)


@payments_bp.get("/<pid:public_id>")
@require_scope("payments:read")
@payments_bp.response(200, PaymentSchema)
def get_payment(public_id: str) -> dict[str, Any]:
    """One payment with its allocations."""
    return dump_payment(_payment(public_id), actor().business)


@payments_bp.post("/<pid:public_id>/refunds")
@require_scope("payments:write")
@payments_bp.arguments(RefundInSchema)
@payments_bp.response(201, RefundSchema)
def refund_payment(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Pay part or all of a payment back (through its provider when it came through one)."""
    who = actor()
    payment = _payment(public_id)
    refund = payments.refund_payment(
        who,
        public_id,
        major(body["amount_minor"], payment.currency),
        body["refunded_on"],
        body["reference"],
    )
    return dump_refund(refund, who.business, None)


def _credit_note_ids(refunds: list[Refund]) -> dict[int, str]:
    wanted = {r.credit_note_id for r in refunds if r.credit_note_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(Document.id, Document.public_id).where(Document.id.in_(wanted))
    )
    return {row.id: row.public_id for row in rows}


@refunds_bp.get("")
@require_scope("payments:read")
@refunds_bp.arguments(RefundQuery, location="query")
@refunds_bp.response(200, RefundPage)
def list_refunds(args: dict[str, Any]) -> dict[str, Any]:
    """List refunds, of payments and of credit notes."""
    who = actor()
    stmt = (
        select(Refund)
        .where(Refund.business_id == who.business.id)
        .options(selectinload(Refund.payment))
    )
    result = page(stmt, Refund.id, REFUND_SORTS, args, lambda r: r, Refund.updated_at)
    notes = _credit_note_ids(result["data"])
    result["data"] = [
        dump_refund(r, who.business, notes.get(r.credit_note_id or 0)) for r in result["data"]
    ]
    return result


@refunds_bp.get("/<pid:public_id>")
@require_scope("payments:read")
@refunds_bp.response(200, RefundSchema)
def get_refund(public_id: str) -> dict[str, Any]:
    """One refund."""
    who = actor()
    refund = db.session.scalar(
        select(Refund).where(Refund.public_id == public_id, Refund.business_id == who.business.id)
    )
    if refund is None:
        raise NotFound("No such refund.")
    notes = _credit_note_ids([refund])
    return dump_refund(refund, who.business, notes.get(refund.credit_note_id or 0))
