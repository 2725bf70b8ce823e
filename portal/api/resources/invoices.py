"""``/invoices``: drafts, issuing, sending, voiding, the PDF and the e-invoice files."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from portal.api.principal import require_scope
from portal.api.resources.common import actor
from portal.api.resources.document_lists import dump_one, get_one, list_documents
from portal.api.schemas.common import ActionReason, page_schema
from portal.api.schemas.documents import (
    DocumentInSchema,
    DocumentQuery,
    DocumentSchema,
    ExpandQuery,
    IssueSchema,
    SendSchema,
    draft_data,
)
from portal.documents import cache
from portal.models import DocumentKind
from portal.services import delivery, documents, einvoices

bp = Blueprint("api_invoices", __name__, url_prefix="/api/v1/invoices", description="Invoices")
InvoicePage = page_schema(DocumentSchema, "DocumentPage")
INVOICE = DocumentKind.INVOICE
PDF = {"200": {"description": "The PDF.", "content": {"application/pdf": {"schema": {}}}}}
XML = {"200": {"description": "The XML.", "content": {"application/xml": {"schema": {}}}}}


@bp.get("")
@require_scope("invoices:read")
@bp.arguments(DocumentQuery, location="query")
@bp.response(200, InvoicePage)
def list_invoices(args: dict[str, Any]) -> Response:
    """List invoices: filter by status, client, dates, currency, change time; sort; expand."""
    return list_documents(INVOICE, args)


@bp.post("")
@require_scope("invoices:write")
@bp.arguments(DocumentInSchema)
@bp.response(201, DocumentSchema)
def create_invoice(body: dict[str, Any]) -> dict[str, Any]:
    """Create a draft invoice."""
    return dump_one(documents.create_draft(actor(), INVOICE, draft_data(body)))


@bp.get("/<pid:public_id>")
@require_scope("invoices:read")
@bp.arguments(ExpandQuery, location="query")
@bp.response(200, DocumentSchema)
def get_invoice(args: dict[str, Any], public_id: str) -> dict[str, Any]:
    """One invoice with its lines."""
    return get_one(INVOICE, public_id, args.get("expand"))


@bp.put("/<pid:public_id>")
@require_scope("invoices:write")
@bp.arguments(DocumentInSchema)
@bp.response(200, DocumentSchema)
def replace_draft(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Replace a draft invoice (issued invoices are corrected with credit notes)."""
    who = actor()
    documents.get_document(who, public_id, INVOICE)
    return dump_one(documents.update_draft(who, public_id, draft_data(body)))


@bp.delete("/<pid:public_id>")
@require_scope("invoices:write")
@bp.response(204)
def delete_draft(public_id: str) -> None:
    """Delete a draft invoice (it has no number yet, so no gap is left)."""
    who = actor()
    documents.get_document(who, public_id, INVOICE)
    documents.delete_draft(who, public_id)


@bp.post("/<pid:public_id>/issue")
@require_scope("invoices:write")
@bp.arguments(IssueSchema)
@bp.response(200, DocumentSchema)
def issue(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Number the invoice and freeze its amounts."""
    return dump_one(documents.issue_invoice(actor(), public_id, on=body.get("issue_date")))


@bp.post("/<pid:public_id>/send")
@require_scope("invoices:write")
@bp.arguments(SendSchema)
@bp.response(202, DocumentSchema)
def send(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Email the issued invoice with its PDF (to the client's billing address by default)."""
    who = actor()
    documents.get_document(who, public_id, INVOICE)
    delivery.send_invoice(who, public_id, to=body.get("to"), message=body.get("message"))
    return get_one(INVOICE, public_id)


@bp.post("/<pid:public_id>/void")
@require_scope("invoices:write")
@bp.arguments(ActionReason)
@bp.response(200, DocumentSchema)
def void(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Void an issued invoice; its number stays."""
    return dump_one(documents.void_invoice(actor(), public_id, body["reason"]))


@bp.get("/<pid:public_id>/pdf")
@require_scope("invoices:read")
@bp.doc(responses=PDF)
def pdf(public_id: str) -> Response:
    """The invoice as a PDF; an issued one carries its Factur-X (CII) XML inside."""
    who = actor()
    doc = documents.get_document(who, public_id, INVOICE)
    rendered = cache.document_pdf(doc, who.business)
    return Response(
        cache.with_einvoice(rendered.data, doc),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{rendered.filename}"'},
    )


@bp.get("/<pid:public_id>/einvoice/<any(ubl, xrechnung, cii):fmt>")
@require_scope("invoices:read")
@bp.doc(responses=XML)
def einvoice(public_id: str, fmt: str) -> Response:
    """The issued invoice as UBL 2.1, XRechnung or CII (the Factur-X XML)."""
    who = actor()
    documents.get_document(who, public_id, INVOICE)
    export = einvoices.export_document(who, public_id, fmt)
    return Response(
        export.data,
        mimetype=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )
