"""Credit notes: drafted from an invoice, issued (and applied to it), refunded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.extensions import db
from portal.models import Document, DocumentKind, Role
from portal.services import audit, balances, credit_notes, documents
from portal.services import document_list as listing
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.htmx import render

bp = Blueprint("credit_notes", __name__, url_prefix="/app")

STATUS_LABELS = {"draft": "Draft", "issued": "Issued", "void": "Void"}


@bp.post("/invoices/<public_id>/credit-notes")
@require_role(Role.ACCOUNTANT)
def create(public_id: str) -> ResponseReturnValue:
    """The whole invoice when every quantity is left as it is, else the quantities typed."""
    invoice = documents.get_document(current_actor(), public_id, DocumentKind.INVOICE)
    chosen: list[tuple[int, Decimal]] = []
    whole = True
    for line in invoice.lines:
        raw = request.form.get(f"qty-{line.position}", str(line.quantity)).strip() or "0"
        try:
            quantity = Decimal(raw)
        except InvalidOperation:
            return _to_invoice(public_id, f"Line {line.position + 1}: {raw!r} is not a number.")
        whole = whole and quantity == line.quantity
        if quantity:
            chosen.append((line.position, quantity))
    if not chosen:
        return _to_invoice(public_id, "Give a quantity to credit on at least one line.")
    try:
        note = credit_notes.create_credit_note(
            current_actor(),
            public_id,
            None if whole else tuple(chosen),
            reason=request.form.get("reason", "")[:500],
        )
    except InvalidInput as error:
        return _to_invoice(public_id, " ".join(error.errors.values()))
    flash("Draft credit note created; issue it to apply it.", "success")
    return redirect(url_for("credit_notes.detail", public_id=note.public_id), 303)


def _to_invoice(public_id: str, message: str) -> ResponseReturnValue:
    flash(message, "error")
    return redirect(url_for("invoices.detail", public_id=public_id), 303)


@bp.get("/credit-notes/")
@require_role(Role.VIEWER)
def index() -> ResponseReturnValue:
    flt = listing.DocumentFilter(kind=DocumentKind.CREDIT_NOTE)
    page = listing.list_documents(
        current_actor(),
        flt,
        cursor=request.args.get("after"),
        limit=int(current_app.config["PAGE_SIZE"]),
    )
    return render("credit_notes/index.html", page=page, labels=STATUS_LABELS)


@bp.get("/credit-notes/<public_id>")
@require_role(Role.VIEWER)
def detail(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    note = documents.get_document(actor, public_id, DocumentKind.CREDIT_NOTE)
    invoice = db.session.scalar(select(Document).where(Document.id == note.credited_invoice_id))
    return render(
        "credit_notes/detail.html",
        doc=note,
        invoice=invoice,
        labels=STATUS_LABELS,
        remaining=balances.credit_note_remaining(note) if note.status == "issued" else None,
        events=audit.events_for_entity(actor.business, "credit_note", note.public_id),
        today=date.today().isoformat(),
    )


def _back(public_id: str, message: str, category: str = "success") -> ResponseReturnValue:
    flash(message, category)
    return redirect(url_for("credit_notes.detail", public_id=public_id), 303)


@bp.post("/credit-notes/<public_id>/issue")
@require_role(Role.ACCOUNTANT)
def issue(public_id: str) -> ResponseReturnValue:
    apply = request.form.get("apply", "1") == "1"
    try:
        note = credit_notes.issue_credit_note(current_actor(), public_id, apply_to_invoice=apply)
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    return _back(public_id, f"Credit note {note.number} issued.")


@bp.post("/credit-notes/<public_id>/refund")
@require_role(Role.ACCOUNTANT)
def refund(public_id: str) -> ResponseReturnValue:
    try:
        amount = Decimal(request.form.get("amount", "").strip())
        refunded_on = date.fromisoformat(request.form.get("refunded_on", ""))
    except (InvalidOperation, ValueError):
        return _back(public_id, "Enter the amount refunded and the date.", "error")
    try:
        credit_notes.refund_credit_note(
            current_actor(), public_id, amount, refunded_on, request.form.get("reference", "")
        )
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    return _back(public_id, "Refund recorded.")


@bp.post("/credit-notes/<public_id>/delete")
@require_role(Role.ACCOUNTANT)
def delete(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    note = documents.get_document(actor, public_id, DocumentKind.CREDIT_NOTE)
    try:
        documents.delete_draft(actor, public_id)
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    invoice = db.session.get(Document, note.credited_invoice_id)
    flash("Draft credit note deleted.", "success")
    target = (
        url_for("invoices.detail", public_id=invoice.public_id)
        if invoice
        else url_for("credit_notes.index")
    )
    return redirect(target, 303)
