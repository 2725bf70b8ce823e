"""Blueprint 'client_portal': what a business's clients see at /pay/<token>, without logging in."""

from __future__ import annotations

import re
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from portal.billing.money import Money
from portal.documents import cache
from portal.documents.views import document_page
from portal.extensions import limiter
from portal.models import Document, DocumentKind
from portal.services import checkout as checkouts
from portal.services import client_portal as portal
from portal.services import delivery, experiments, payment_accounts, saved_cards
from portal.services.errors import InvalidInput, NotFound
from portal.services.mail import absolute_url
from portal.services.pricing import business_today
from portal.web.security import csp_with_form_targets

bp = Blueprint("client_portal", __name__, url_prefix="/pay")


def _portal_limit() -> str:
    return str(current_app.config["PORTAL_RATE_LIMIT"])


# Every public page counts against the visitor's address: links cannot be guessed quickly.
limiter.limit(_portal_limit)(bp)

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_BRAND = "#2f5bea"


def _private(response: Response) -> Response:
    # A token is a password: keep the pages out of shared caches and referrers.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = csp_with_form_targets(
        payment_accounts.page_origins()
    )
    return _private(response)


@bp.errorhandler(portal.LinkError)
def link_error(error: portal.LinkError) -> ResponseReturnValue:
    return render_template("client_portal/error.html", message=str(error)), error.status


@bp.errorhandler(NotFound)
def not_found(error: NotFound) -> ResponseReturnValue:
    message = "There is nothing here."
    return render_template("client_portal/error.html", message=message), 404


@bp.errorhandler(404)
def http_not_found(error: Exception) -> ResponseReturnValue:
    return not_found(NotFound(""))


def _document_view(
    opened: portal.Opened, doc: Document, errors: dict[str, str] | None = None
) -> str:
    if doc.viewed_at is None:
        delivery.record_view(doc)
    page = document_page(doc, opened.business)
    # A paid document, or a business taking no payments online, costs no queries here.
    payable = checkouts.could_pay(doc)
    accounts = payment_accounts.offered(opened.business) if payable else ()
    assignment = experiments.assign(opened.business, opened.link) if accounts else None
    options = checkouts.pay_options(opened, doc, assignment, accounts) if accounts else None
    if options is None:
        assignment = None  # nothing to pay: no visit to count
    elif assignment is not None:
        experiments.record(assignment, opened.link, "viewed")
    return render_template(
        "client_portal/document.html",
        opened=opened,
        doc=doc,
        page=page,
        errors=errors or {},
        is_quote=doc.kind is DocumentKind.QUOTE,
        can_decide=doc.kind is DocumentKind.QUOTE and doc.status == "sent",
        pay=options,
        variant=assignment.settings if assignment else experiments.VariantSettings(),
        notice=request.args.get("notice", ""),
    )


@bp.get("/<token>")
def home(token: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    if opened.document is not None:
        return _document_view(opened, opened.document)
    return render_template(
        "client_portal/documents.html",
        opened=opened,
        documents=portal.documents_of(opened),
        can_save_card=saved_cards.can_save(opened),
        cards=saved_cards.cards_of(opened.business, opened.client),
        errors={},
    )


@bp.get("/<token>/documents/<public_id>")
def document(token: str, public_id: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    return _document_view(opened, portal.document_for(opened, public_id))


def _pdf(pdf: cache.CachedPdf) -> Response:
    response = Response(pdf.data, mimetype=cache.MEDIA_TYPE)
    disposition = "attachment" if request.args.get("download") == "1" else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{pdf.filename}"'
    return response


@bp.get("/<token>/pdf")
def pdf(token: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    if opened.document is None:
        abort(404)
    return _pdf(cache.document_pdf(opened.document, opened.business))


@bp.get("/<token>/documents/<public_id>/pdf")
def document_pdf(token: str, public_id: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    doc = portal.document_for(opened, public_id)
    return _pdf(cache.document_pdf(doc, opened.business))


def _decide(token: str, public_id: str | None, accept: bool) -> ResponseReturnValue:
    opened = portal.open_link(token)
    doc = opened.document if public_id is None else portal.document_for(opened, public_id)
    if doc is None:
        abort(404)
    name = request.form.get("name", "")
    try:
        if accept:
            portal.accept_quote(opened, doc, name)
        else:
            portal.decline_quote(opened, doc, name, request.form.get("reason", ""))
    except InvalidInput as error:
        return _document_view(opened, doc, error.errors), 422
    if public_id is None:
        return redirect(url_for(".home", token=token), 303)
    return redirect(url_for(".document", token=token, public_id=public_id), 303)


@bp.post("/<token>/accept")
def accept(token: str) -> ResponseReturnValue:
    return _decide(token, None, accept=True)


@bp.post("/<token>/decline")
def decline(token: str) -> ResponseReturnValue:
    return _decide(token, None, accept=False)


@bp.post("/<token>/documents/<public_id>/accept")
def accept_document(token: str, public_id: str) -> ResponseReturnValue:
    return _decide(token, public_id, accept=True)


@bp.post("/<token>/documents/<public_id>/decline")
def decline_document(token: str, public_id: str) -> ResponseReturnValue:
    return _decide(token, public_id, accept=False)


def _date_arg(name: str, default: date) -> date:
    raw = request.args.get(name, "")
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, f"“{name}” must be a date like 2026-01-31.")


def _period(opened: portal.Opened) -> tuple[date, date]:
    today = business_today(opened.business)
    end = _date_arg("to", today)
    start = _date_arg("from", date(end.year, 1, 1))
    if start > end:
        abort(400, "The statement must start on or before its end date.")
    return start, end


@bp.get("/<token>/statement")
def statement(token: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    start, end = _period(opened)
    page = portal.statement(opened, start, end)
    return render_template(
        "client_portal/statement.html", opened=opened, page=page, start=start, end=end
    )


@bp.get("/<token>/statement.pdf")
def statement_pdf(token: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    start, end = _period(opened)
    portal.statement(opened, start, end)  # 404 for a document link
    return _pdf(cache.statement_pdf(opened.client, opened.business, start, end))


@bp.get("/<token>/statement.csv")
def statement_csv(token: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    start, end = _period(opened)
    body = portal.statement_csv(portal.statement(opened, start, end))
    response = Response(body, mimetype="text/csv")
    filename = f"statement-{start.isoformat()}_{end.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/<token>/payments")
def payments(token: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    return render_template(
        "client_portal/payments.html", opened=opened, payments=portal.payments_of(opened)
    )


@bp.get("/<token>/brand.css")
def brand_css(token: str) -> ResponseReturnValue:
    """The portal's styles in the business's colour: CSP allows no inline style."""
    opened = portal.open_link(token)
    colour = opened.business.brand_color or ""
    colour = colour if _HEX.match(colour) else DEFAULT_BRAND
    return Response(render_template("client_portal/brand.css", colour=colour), mimetype="text/css")


# --- paying online ------------------------------------------------------------------------


def _checkout(token: str, public_id: str | None) -> ResponseReturnValue:
    opened = portal.open_link(token)
    doc = opened.document if public_id is None else portal.document_for(opened, public_id)
    if doc is None:
        abort(404)
    try:
        url = checkouts.start(
            opened,
            doc,
            request.form.get("provider", ""),
            request.form.get("amount"),
            assignment=experiments.assign(opened.business, opened.link),
            return_url=lambda cid: absolute_url(url_for(".checkout_return", token=token, cid=cid)),
            cancel_url=lambda cid: absolute_url(url_for(".checkout_cancel", token=token, cid=cid)),
        )
    except InvalidInput as error:
        return _document_view(opened, doc, error.errors), 422
    return redirect(url, 303)


@bp.post("/<token>/checkout")
def checkout(token: str) -> ResponseReturnValue:
    return _checkout(token, None)


@bp.post("/<token>/documents/<public_id>/checkout")
def document_checkout(token: str, public_id: str) -> ResponseReturnValue:
    return _checkout(token, public_id)


def _receipt(token: str, cid: str, template: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    found = checkouts.finish(opened, cid)
    return render_template(
        template,
        opened=opened,
        checkout=found,
        doc=found.document,
        amount=Money(found.amount_minor, found.currency),
        back=_back(token, opened, found.document),
    )


def _back(token: str, opened: portal.Opened, doc: Document | None) -> str:
    if doc is None or opened.document is not None:
        return url_for(".home", token=token)
    return url_for(".document", token=token, public_id=doc.public_id)


@bp.get("/<token>/checkouts/<cid>/return")
def checkout_return(token: str, cid: str) -> ResponseReturnValue:
    return _receipt(token, cid, "client_portal/receipt.html")


@bp.get("/<token>/checkouts/<cid>/status")
def checkout_status(token: str, cid: str) -> ResponseReturnValue:
    return _receipt(token, cid, "client_portal/_receipt_status.html")


@bp.get("/<token>/checkouts/<cid>/cancel")
def checkout_cancel(token: str, cid: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    found = checkouts.cancel(opened, cid)
    back = _back(token, opened, found.document)
    return redirect(f"{back}?notice=cancelled", 303)


# --- saving a card for later invoices -------------------------------------------------------


@bp.post("/<token>/cards")
def save_card(token: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    try:
        url = saved_cards.start_saving(
            opened,
            return_url=lambda cid: absolute_url(url_for(".card_return", token=token, cid=cid)),
            cancel_url=lambda cid: absolute_url(url_for(".home", token=token)),
        )
    except InvalidInput as error:
        return render_template(
            "client_portal/documents.html",
            opened=opened,
            documents=portal.documents_of(opened),
            can_save_card=saved_cards.can_save(opened),
            cards=saved_cards.cards_of(opened.business, opened.client),
            errors=error.errors,
        ), 422
    return redirect(url, 303)


@bp.get("/<token>/cards/<cid>/return")
def card_return(token: str, cid: str) -> ResponseReturnValue:
    opened = portal.open_link(token)
    card = saved_cards.finish_saving(opened, cid)
    return render_template("client_portal/card_saved.html", opened=opened, card=card)
