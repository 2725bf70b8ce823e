"""Quote pages: list, editor, detail, and a quote's way to acceptance and invoices."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from portal.billing.quotes import QuoteStatus
from portal.models import Document, DocumentKind, Role
from portal.services import audit, documents, quotes
from portal.services import document_list as listing
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.htmx import is_htmx, render
from portal.web.invoices.editing import business_clients, currency_of, editor_form, render_editor
from portal.web.invoices.forms import document_values

bp = Blueprint("quotes", __name__, url_prefix="/app/quotes")

STATUS_LABELS = {
    "draft": "Draft",
    "sent": "Sent",
    "accepted": "Accepted",
    "declined": "Declined",
    "expired": "Expired",
}


@bp.get("/")
@require_role(Role.VIEWER)
def index() -> ResponseReturnValue:
    actor = current_actor()
    status = request.args.get("status", "")
    flt = listing.DocumentFilter(
        kind=DocumentKind.QUOTE,
        status=status if status in STATUS_LABELS else "",
        client_id=request.args.get("client", "")[:26],
        q=request.args.get("q", "")[:60],
    )
    page = listing.list_documents(
        actor, flt, cursor=request.args.get("after"), limit=int(current_app.config["PAGE_SIZE"])
    )
    context: dict[str, Any] = {
        "page": page,
        "flt": flt,
        "counts": listing.status_counts(actor, flt),
        "clients": [] if is_htmx() else business_clients(),
        "labels": STATUS_LABELS,
        "more_url": url_for("quotes.index", after=page.next_cursor, **_args())
        if page.next_cursor
        else None,
    }
    if is_htmx() and request.args.get("after"):
        return render("quotes/index.html", "rows", **context)
    return render("quotes/index.html", "results", **context)


def _args() -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k != "after"}


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.STAFF)
def new() -> ResponseReturnValue:
    if request.method == "GET":
        client = request.args.get("client", "")
        form = editor_form({"client": client, "currency": currency_of(client)})
        return render_editor(form, None, {}, kind=DocumentKind.QUOTE)
    form = editor_form()
    if not form.validate():
        return render_editor(form, None, {}, 422, kind=DocumentKind.QUOTE)
    try:
        doc = documents.create_draft(current_actor(), DocumentKind.QUOTE, form.to_data())
    except InvalidInput as error:
        return render_editor(form, None, error.errors, 422, kind=DocumentKind.QUOTE)
    flash("Draft quote saved.", "success")
    return redirect(url_for("quotes.detail", public_id=doc.public_id), 303)


@bp.route("/<public_id>/edit", methods=["GET", "POST"])
@require_role(Role.STAFF)
def edit(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    doc = documents.get_document(actor, public_id, DocumentKind.QUOTE)
    if doc.status != "draft":
        return _back(public_id, "Only a draft quote can be edited.", "error")
    if request.method == "GET":
        return render_editor(editor_form(document_values(doc)), doc, {}, kind=DocumentKind.QUOTE)
    form = editor_form()
    if not form.validate():
        return render_editor(form, doc, {}, 422, kind=DocumentKind.QUOTE)
    try:
        documents.update_draft(actor, public_id, form.to_data())
    except InvalidInput as error:
        return render_editor(form, doc, error.errors, 422, kind=DocumentKind.QUOTE)
    return _back(public_id, "Draft quote saved.")


@bp.get("/<public_id>")
@require_role(Role.VIEWER)
def detail(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    doc = documents.get_document(actor, public_id, DocumentKind.QUOTE)
    return render(
        "quotes/detail.html",
        doc=doc,
        labels=STATUS_LABELS,
        invoices=quotes.invoices_from(doc),
        events=audit.events_for_entity(actor.business, "quote", doc.public_id),
        accepted=QuoteStatus.ACCEPTED.value,
    )


def _back(public_id: str, message: str, category: str = "success") -> ResponseReturnValue:
    flash(message, category)
    return redirect(url_for("quotes.detail", public_id=public_id), 303)


def _failed(public_id: str, error: InvalidInput) -> ResponseReturnValue:
    return _back(public_id, " ".join(error.errors.values()), "error")


@bp.post("/<public_id>/send")
@require_role(Role.STAFF)
def send(public_id: str) -> ResponseReturnValue:
    try:
        doc = quotes.send_quote(current_actor(), public_id)
    except InvalidInput as error:
        return _failed(public_id, error)
    return _back(public_id, f"Quote {doc.number} is marked as sent.")


@bp.post("/<public_id>/accept")
@require_role(Role.STAFF)
def accept(public_id: str) -> ResponseReturnValue:
    try:
        quotes.accept_quote(current_actor(), public_id, request.form.get("accepted_by", ""))
    except InvalidInput as error:
        return _failed(public_id, error)
    return _back(public_id, "Quote accepted.")


@bp.post("/<public_id>/decline")
@require_role(Role.STAFF)
def decline(public_id: str) -> ResponseReturnValue:
    try:
        quotes.decline_quote(current_actor(), public_id, request.form.get("reason", ""))
    except InvalidInput as error:
        return _failed(public_id, error)
    return _back(public_id, "Quote declined.")


def _to_invoice(public_id: str, doc: Document, message: str) -> ResponseReturnValue:
    flash(message, "success")
    return redirect(url_for("invoices.detail", public_id=doc.public_id), 303)


@bp.post("/<public_id>/convert")
@require_role(Role.STAFF)
def convert(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    raw = request.form.get("deposit_percent", "").strip()
    try:
        if raw:
            try:
                percent = Decimal(raw)
            except InvalidOperation:
                return _back(public_id, "The deposit is a percentage such as 30.", "error")
            doc = quotes.convert_quote_with_deposit(actor, public_id, percent)
            return _to_invoice(public_id, doc, "Deposit invoice drafted from the quote.")
        doc = quotes.convert_quote(actor, public_id)
    except InvalidInput as error:
        return _failed(public_id, error)
    return _to_invoice(public_id, doc, "Invoice drafted from the quote.")


@bp.post("/<public_id>/final-invoice")
@require_role(Role.STAFF)
def final_invoice(public_id: str) -> ResponseReturnValue:
    try:
        doc = quotes.create_final_invoice(current_actor(), public_id)
    except InvalidInput as error:
        return _failed(public_id, error)
    return _to_invoice(public_id, doc, "Final invoice drafted; it deducts the deposit.")
