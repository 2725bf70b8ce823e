"""``/quotes`` and ``/credit-notes``: documents beside invoices."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from portal.api.principal import require_scope
from portal.api.resources.common import actor
from portal.api.resources.document_lists import dump_one, get_one, list_documents
from portal.api.schemas.common import Text, page_schema
from portal.api.schemas.documents import (
    DocumentQuery,
    DocumentSchema,
    ExpandQuery,
    QuoteInSchema,
    SendSchema,
    draft_data,
)
from portal.api.schemas.money_docs import (
    CreditIssueSchema,
    CreditNoteInSchema,
    RefundInSchema,
    RefundSchema,
    dump_refund,
)
from portal.models import DocumentKind
from portal.services import credit_notes, delivery, documents, quotes

quotes_bp = Blueprint("api_quotes", __name__, url_prefix="/api/v1/quotes", description="Quotes")
notes_bp = Blueprint(
    "api_credit_notes", __name__, url_prefix="/api/v1/credit-notes", description="Credit notes"
)
Page = page_schema(DocumentSchema, "DocumentPage")
QUOTE = DocumentKind.QUOTE
CREDIT_NOTE = DocumentKind.CREDIT_NOTE


class AcceptSchema(ma.Schema):
    accepted_by_name = Text(required=True, max_length=200)


class DeclineSchema(ma.Schema):
    reason = Text(max_length=500, load_default="")


@quotes_bp.get("")
@require_scope("invoices:read")
@quotes_bp.arguments(DocumentQuery, location="query")
@quotes_bp.response(200, Page)
def list_quotes(args: dict[str, Any]) -> Response:
    """List quotes: filter, sort, expand as for invoices."""
    return list_documents(QUOTE, args)


@quotes_bp.post("")
@require_scope("invoices:write")
@quotes_bp.arguments(QuoteInSchema)
@quotes_bp.response(201, DocumentSchema)
def create_quote(body: dict[str, Any]) -> dict[str, Any]:
    """Create a draft quote."""
    return dump_one(documents.create_draft(actor(), QUOTE, draft_data(body)))


@quotes_bp.get("/<pid:public_id>")
@require_scope("invoices:read")
@quotes_bp.arguments(ExpandQuery, location="query")
@quotes_bp.response(200, DocumentSchema)
def get_quote(args: dict[str, Any], public_id: str) -> dict[str, Any]:
    """One quote with its lines."""
    return get_one(QUOTE, public_id, args.get("expand"))


@quotes_bp.post("/<pid:public_id>/send")
@require_scope("invoices:write")
@quotes_bp.arguments(SendSchema)
@quotes_bp.response(202, DocumentSchema)
def send_quote(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Number the quote (a draft is marked sent) and email it with its PDF."""
    who = actor()
    quote = documents.get_document(who, public_id, QUOTE)
    if quote.status == documents.DRAFT:
        quotes.send_quote(who, public_id)
    delivery.send_quote(who, public_id, to=body.get("to"), message=body.get("message"))
    return get_one(QUOTE, public_id)


@quotes_bp.post("/<pid:public_id>/accept")
@require_scope("invoices:write")
@quotes_bp.arguments(AcceptSchema)
@quotes_bp.response(200, DocumentSchema)
def accept_quote(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Record that the client accepted the quote, and who said so."""
    return dump_one(quotes.accept_quote(actor(), public_id, body["accepted_by_name"]))


@quotes_bp.post("/<pid:public_id>/decline")
@require_scope("invoices:write")
@quotes_bp.arguments(DeclineSchema)
@quotes_bp.response(200, DocumentSchema)
def decline_quote(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Record that the client declined the quote."""
    return dump_one(quotes.decline_quote(actor(), public_id, body["reason"]))


@quotes_bp.post("/<pid:public_id>/convert")
@require_scope("invoices:write")
@quotes_bp.response(201, DocumentSchema)
def convert_quote(public_id: str) -> dict[str, Any]:
    """A draft invoice with everything the accepted quote holds."""
    return dump_one(quotes.convert_quote(actor(), public_id))


@notes_bp.get("")
@require_scope("invoices:read")
@notes_bp.arguments(DocumentQuery, location="query")
@notes_bp.response(200, Page)
def list_credit_notes(args: dict[str, Any]) -> Response:
    """List credit notes."""
    return list_documents(CREDIT_NOTE, args)


@notes_bp.post("")
@require_scope("invoices:write")
@notes_bp.arguments(CreditNoteInSchema)
@notes_bp.response(201, DocumentSchema)
def create_credit_note(body: dict[str, Any]) -> dict[str, Any]:
    """A draft credit note for a whole issued invoice, or for some of its lines."""
    lines = body.get("lines")
    chosen = tuple((ln["position"], ln["quantity"]) for ln in lines) if lines else None
    note = credit_notes.create_credit_note(actor(), body["invoice_id"], chosen, body["reason"])
    return dump_one(note)


@notes_bp.get("/<pid:public_id>")
@require_scope("invoices:read")
@notes_bp.arguments(ExpandQuery, location="query")
@notes_bp.response(200, DocumentSchema)
def get_credit_note(args: dict[str, Any], public_id: str) -> dict[str, Any]:
    """One credit note with its lines."""
    return get_one(CREDIT_NOTE, public_id, args.get("expand"))


@notes_bp.post("/<pid:public_id>/issue")
@require_scope("invoices:write")
@notes_bp.arguments(CreditIssueSchema)
@notes_bp.response(200, DocumentSchema)
def issue_credit_note(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Number the credit note and, unless told not to, settle the credited invoice with it."""
    note = credit_notes.issue_credit_note(
        actor(), public_id, body["apply_to_invoice"], body.get("issue_date")
    )
    return dump_one(note)


@notes_bp.post("/<pid:public_id>/refunds")
@require_scope("payments:write")
@notes_bp.arguments(RefundInSchema)
@notes_bp.response(201, RefundSchema)
def refund_credit_note(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Pay back part or all of what is left of an issued credit note."""
    from portal.api.schemas.money_docs import major

    who = actor()
    note = documents.get_document(who, public_id, CREDIT_NOTE)
    refund = credit_notes.refund_credit_note(
        who,
        public_id,
        major(body["amount_minor"], note.currency),
        body["refunded_on"],
        body["reference"],
    )
    return dump_refund(refund, who.business, note.public_id)
