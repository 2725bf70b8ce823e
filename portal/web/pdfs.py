"""PDF downloads: invoices, quotes, credit notes and client statements (stored once rendered)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue

from portal.documents import cache
from portal.models import DocumentKind, Role
from portal.services import clients, documents
from portal.services.pricing import business_today
from portal.web.access import current_actor, require_role

bp = Blueprint("pdfs", __name__, url_prefix="/app")


def _pdf(pdf: cache.CachedPdf) -> Response:
    response = Response(pdf.data, mimetype=cache.MEDIA_TYPE)
    disposition = "attachment" if request.args.get("download") == "1" else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{pdf.filename}"'
    response.headers["ETag"] = f'"{pdf.key}"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-PDF-Cache"] = "hit" if pdf.hit else "miss"
    return response


def _document(public_id: str, kind: DocumentKind) -> ResponseReturnValue:
    actor = current_actor()
    doc = documents.get_document(actor, public_id, kind)  # 404 when foreign
    # ?stamp=1 prints UNPAID/OVERDUE on open invoices (a branding option waiting for its column).
    stamp = request.args.get("stamp") == "1"
    return _pdf(cache.document_pdf(doc, actor.business, stamp_open=stamp))


@bp.get("/invoices/<public_id>/pdf")
@require_role(Role.VIEWER)
def invoice(public_id: str) -> ResponseReturnValue:
    return _document(public_id, DocumentKind.INVOICE)


@bp.get("/quotes/<public_id>/pdf")
@require_role(Role.VIEWER)
def quote(public_id: str) -> ResponseReturnValue:
    return _document(public_id, DocumentKind.QUOTE)


@bp.get("/credit-notes/<public_id>/pdf")
@require_role(Role.VIEWER)
def credit_note(public_id: str) -> ResponseReturnValue:
    return _document(public_id, DocumentKind.CREDIT_NOTE)


def _date_arg(name: str, default: date) -> date:
    raw = request.args.get(name, "")
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, f"“{name}” must be a date like 2026-01-31.")


@bp.get("/clients/<public_id>/statement.pdf")
@require_role(Role.VIEWER)
def statement(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    client = clients.get_client(actor, public_id)
    today = business_today(actor.business)
    end = _date_arg("to", today)
    start = _date_arg("from", date(end.year, 1, 1))
    if start > end:
        abort(400, "The statement must start on or before its end date.")
    return _pdf(cache.statement_pdf(client, actor.business, start, end))
