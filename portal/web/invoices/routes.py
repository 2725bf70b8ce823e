"""Invoice pages: the list, the editor (totals from the engine as you type), the detail page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.extensions import db
from portal.models import Document, DocumentKind, Payment, PaymentAllocation, Role
from portal.services import (
    audit,
    balances,
    catalogue,
    documents,
    instalments,
    payment_accounts,
    payments,
    pricing,
    provider_payments,
    risk_scores,
)
from portal.services import document_list as listing
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.htmx import is_htmx, render
from portal.web.invoices.editing import (
    business_clients,
    currency_of,
    editor_form,
    line_errors_of,
    preview_of,
    render_editor,
)
from portal.web.invoices.forms import (
    MAX_LINES,
    document_values,
    line_values,
    product_line,
)

bp = Blueprint("invoices", __name__, url_prefix="/app/invoices")

STATUS_LABELS = {
    "draft": "Draft",
    "issued": "Issued",
    "sent": "Sent",
    "viewed": "Viewed",
    "partially_paid": "Partially paid",
    "paid": "Paid",
    "void": "Void",
    "written_off": "Written off",
}


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def invoice_filter(args: Mapping[str, str]) -> listing.DocumentFilter:
    """The list's filters from a query string (or the export form, which carries the same)."""
    sort = args.get("sort", "newest")
    status = args.get("status", "")
    return listing.DocumentFilter(
        kind=DocumentKind.INVOICE,
        status=status if status in STATUS_LABELS else "",
        client_id=args.get("client", "")[:26],
        currency=args.get("currency", "")[:3],
        date_from=_date(args.get("from", "")),
        date_to=_date(args.get("to", "")),
        overdue=args.get("overdue") == "1",
        q=args.get("q", "")[:60],
        sort=sort if sort in listing.SORTS else "newest",
    )


@bp.get("/")
@require_role(Role.VIEWER)
def index() -> ResponseReturnValue:
    actor = current_actor()
    flt = invoice_filter(request.args)
    page = listing.list_documents(
        actor, flt, cursor=request.args.get("after"), limit=int(current_app.config["PAGE_SIZE"])
    )
    context: dict[str, Any] = {
        "page": page,
        "flt": flt,
        "counts": listing.status_counts(actor, flt),
        # The filter's client picker is outside the fragment htmx asks for.
        "clients": [] if is_htmx() else business_clients(),
        "labels": STATUS_LABELS,
        "sorts": listing.SORTS,
        "overdue_ids": {d.id for d in page.items if listing.is_overdue(actor, d)},
        "risk": risk_scores.scores_for(actor.business, [d.id for d in page.items]),
        "more_url": _more_url(page.next_cursor),
    }
    if is_htmx() and request.args.get("after"):
        return render("invoices/index.html", "rows", **context)
    return render("invoices/index.html", "results", **context)


def _more_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    args["after"] = cursor
    return url_for("invoices.index", **args)


# --- the editor ------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.STAFF)
def new() -> ResponseReturnValue:
    actor = current_actor()
    if request.method == "GET":
        client = request.args.get("client", "")
        return render_editor(
            editor_form({"client": client, "currency": currency_of(client)}), None, {}
        )
    form = editor_form()
    if not form.validate():
        return render_editor(form, None, {}, 422)
    try:
        doc = documents.create_draft(actor, DocumentKind.INVOICE, form.to_data())
    except InvalidInput as error:
        return render_editor(form, None, error.errors, 422)
    flash("Draft invoice saved.", "success")
    return redirect(url_for("invoices.detail", public_id=doc.public_id), 303)


@bp.route("/<public_id>/edit", methods=["GET", "POST"])
@require_role(Role.STAFF)
def edit(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    doc = documents.get_document(actor, public_id, DocumentKind.INVOICE)
    if doc.status != "draft":
        flash("Only a draft can be edited; correct an issued invoice with a credit note.", "error")
        return redirect(url_for("invoices.detail", public_id=public_id), 303)
    if request.method == "GET":
        return render_editor(editor_form(document_values(doc)), doc, {})
    form = editor_form()
    if not form.validate():
        return render_editor(form, doc, {}, 422)
    try:
        documents.update_draft(actor, public_id, form.to_data())
    except InvalidInput as error:
        return render_editor(form, doc, error.errors, 422)
    flash("Draft saved.", "success")
    return redirect(url_for("invoices.detail", public_id=public_id), 303)


@bp.post("/editor")
@require_role(Role.STAFF)
def editor() -> ResponseReturnValue:
    """Add, remove, move or fill a line, or just recompute: the server answers with HTML."""
    form = editor_form()
    op = request.form.get("op", "preview")
    index = request.form.get("index", type=int, default=-1)
    lines = line_values(form)
    if op == "preview":
        form.validate()
        preview, errors = preview_of(form)
        return render_template(
            "invoices/_totals.html",
            form=form,
            preview=preview,
            line_errors=line_errors_of(form, errors),
            oob=True,
        )
    if op == "client":
        # Only the currency follows the client; the lines being typed stay untouched.
        form.currency.data = currency_of(form.client.data or "")
        response = make_response(render_template("invoices/_currency_field.html", form=form))
        # The totals follow the new currency once it is in the form.
        response.headers["HX-Trigger-After-Settle"] = "editor-changed"
        return response
    if op == "add" and len(lines) < MAX_LINES:
        lines.append({"quantity": Decimal(1), "taxes": []})
    elif op == "remove" and 0 <= index < len(lines) and len(lines) > 1:
        lines.pop(index)
    elif op == "up" and 0 < index < len(lines):
        lines[index - 1], lines[index] = lines[index], lines[index - 1]
    elif op == "down" and 0 <= index < len(lines) - 1:
        lines[index + 1], lines[index] = lines[index], lines[index + 1]
    elif op != "product":
        abort(400)
    # A product picked but not yet filled in (the pick and the next click can cross) is
    # filled now, whatever the operation.
    for position, line in enumerate(lines):
        chosen = line.get("product")
        if chosen and ((op == "product" and position == index) or not line.get("description")):
            lines[position] = product_line(catalogue.get_product(current_actor(), chosen))
    data = {name: field.data for name, field in form._fields.items() if name != "lines"}
    data["lines"] = lines
    rebuilt = editor_form(data)
    preview, errors = preview_of(rebuilt)
    return render_template(
        "invoices/_editor_body.html",
        form=rebuilt,
        preview=preview,
        line_errors=line_errors_of(rebuilt, errors),
        focus_line=index if op in {"up", "down"} else len(lines) - 1 if op == "add" else None,
    )


# --- the invoice -----------------------------------------------------------------


def _detail_context(doc: Document) -> dict[str, Any]:
    actor = current_actor()
    allocations = db.session.execute(
        select(PaymentAllocation, Payment)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.document_id == doc.id)
        .order_by(Payment.received_on, Payment.id)
    ).all()
    return {
        "doc": doc,
        "labels": STATUS_LABELS,
        "overdue": listing.is_overdue(actor, doc),
        "allocations": allocations,
        "credited": balances.credited_on(doc) if doc.status != "draft" else 0,
        "credit_notes": list(
            db.session.scalars(
                select(Document).where(Document.credited_invoice_id == doc.id).order_by(Document.id)
            )
        ),
        "events": audit.events_for_entity(actor.business, "invoice", doc.public_id),
        "methods": payments.METHODS,
        "online": provider_payments.for_invoice(actor, doc) if doc.status != "draft" else [],
        "provider_label": payment_accounts.label,
        "instalments": (
            instalments.instalment_states(
                doc,
                balances.settled_on(doc),
                pricing.business_today(actor.business),
            )
            if doc.instalments
            else []
        ),
        "today": date.today().isoformat(),
    }


@bp.get("/<public_id>")
@require_role(Role.VIEWER)
def detail(public_id: str) -> ResponseReturnValue:
    doc = documents.get_document(current_actor(), public_id, DocumentKind.INVOICE)
    return render("invoices/detail.html", **_detail_context(doc))


def _back(public_id: str, message: str, category: str = "success") -> ResponseReturnValue:
    flash(message, category)
    return redirect(url_for("invoices.detail", public_id=public_id), 303)


@bp.post("/<public_id>/issue")
@require_role(Role.STAFF)
def issue(public_id: str) -> ResponseReturnValue:
    rate = request.form.get("exchange_rate", "").strip()
    try:
        exchange_rate = Decimal(rate) if rate else None
    except InvalidOperation:
        return _back(public_id, "The exchange rate must be a number such as 0.9213.", "error")
    try:
        doc = documents.issue_invoice(current_actor(), public_id, exchange_rate=exchange_rate)
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    return _back(public_id, f"Invoice {doc.number} issued.")


@bp.post("/<public_id>/delete")
@require_role(Role.STAFF)
def delete(public_id: str) -> ResponseReturnValue:
    try:
        documents.delete_draft(current_actor(), public_id)
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    flash("Draft deleted.", "success")
    return redirect(url_for("invoices.index"), 303)


@bp.post("/<public_id>/void")
@require_role(Role.ACCOUNTANT)
def void(public_id: str) -> ResponseReturnValue:
    try:
        doc = documents.void_invoice(current_actor(), public_id, request.form.get("reason", ""))
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    return _back(public_id, f"Invoice {doc.number} is void.")


@bp.post("/<public_id>/write-off")
@require_role(Role.ACCOUNTANT)
def write_off(public_id: str) -> ResponseReturnValue:
    try:
        doc = documents.write_off_invoice(
            current_actor(), public_id, request.form.get("reason", "")
        )
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    return _back(public_id, f"Invoice {doc.number} is written off.")


@bp.post("/<public_id>/payments")
@require_role(Role.ACCOUNTANT)
def record_payment(public_id: str) -> ResponseReturnValue:
    try:
        amount = Decimal(request.form.get("amount", "").strip())
        received_on = date.fromisoformat(request.form.get("received_on", ""))
    except (InvalidOperation, ValueError):
        return _back(public_id, "Enter the amount (such as 120.50) and the date received.", "error")
    try:
        payments.pay_invoice(
            current_actor(),
            public_id,
            amount,
            received_on,
            method=request.form.get("method", "bank_transfer"),
            reference=request.form.get("reference", "")[:120],
        )
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    return _back(public_id, "Payment recorded.")


@bp.post("/<public_id>/instalments")
@require_role(Role.ACCOUNTANT)
def split(public_id: str) -> ResponseReturnValue:
    """Equal instalments, monthly from the first due date."""
    try:
        count = int(request.form.get("count", ""))
        first_due = date.fromisoformat(request.form.get("first_due", ""))
    except ValueError:
        return _back(public_id, "Give the number of instalments and the first due date.", "error")
    try:
        instalments.split_equal(current_actor(), public_id, count, first_due, monthly=True)
    except InvalidInput as error:
        return _back(public_id, " ".join(error.errors.values()), "error")
    return _back(public_id, f"Split into {count} monthly instalments.")
