"""Sending documents by email, the open pixel, the due-date calendar, reminder settings."""

from __future__ import annotations

import base64

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from portal.jobs import delivery as _handlers  # noqa: F401  (registers the outbox handler)
from portal.models import Delivery, Document, DocumentKind, Role
from portal.services import delivery as service
from portal.services import reminders
from portal.services.documents import get_document
from portal.services.errors import InvalidInput
from portal.services.mail import absolute_url
from portal.web.access import current_actor, require_role

bp = Blueprint("delivery", __name__)

GIF = base64.b64decode(b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_SENDERS = {DocumentKind.INVOICE: service.send_invoice, DocumentKind.QUOTE: service.send_quote}
_DETAIL = {DocumentKind.INVOICE: "invoices.detail", DocumentKind.QUOTE: "quotes.detail"}


@bp.app_context_processor
def delivery_helpers() -> dict[str, object]:
    """``deliveries_for(doc)`` for the document pages; ``delivery_failures()`` for the banner."""

    def delivery_failures() -> list[tuple[Delivery, Document | None]]:
        from flask import g

        actor = g.get("actor")
        if actor is None or not actor.role.at_least(Role.ADMIN):
            return []
        return service.recent_failures(actor.business)

    return {"deliveries_for": service.deliveries_of, "delivery_failures": delivery_failures}


def _compose(kind: DocumentKind, public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    doc = get_document(actor, public_id, kind)
    found = service.recipients_for(doc.client)
    errors: dict[str, str] = {}
    to = ", ".join(found.to)
    message = ""
    if request.method == "POST":
        to = request.form.get("to", "").strip()
        message = request.form.get("message", "")[:5000]
        try:
            delivery = _SENDERS[kind](actor, public_id, to=to or None, message=message)
        except InvalidInput as error:
            errors = dict(error.errors)
        else:
            if delivery.status == "failed":
                flash(f"The email was refused: {delivery.error}", "error")
            else:
                flash(f"{doc.number} sent to {', '.join(delivery.to)}.", "success")
            return redirect(url_for(_DETAIL[kind], public_id=public_id), 303)
    return render_template(
        "delivery/send.html",
        doc=doc,
        kind=kind,
        to=to,
        cc=found.cc,
        message=message,
        errors=errors,
        back=url_for(_DETAIL[kind], public_id=public_id),
        deliveries=service.deliveries_of(doc),
    ), (422 if errors else 200)


@bp.route("/app/invoices/<public_id>/email", methods=["GET", "POST"])
@require_role(Role.STAFF)
def send_invoice(public_id: str) -> ResponseReturnValue:
    return _compose(DocumentKind.INVOICE, public_id)


@bp.route("/app/quotes/<public_id>/email", methods=["GET", "POST"])
@require_role(Role.STAFF)
def send_quote(public_id: str) -> ResponseReturnValue:
    return _compose(DocumentKind.QUOTE, public_id)


@bp.get("/app/documents/<public_id>/deliveries")
@require_role(Role.VIEWER)
def deliveries(public_id: str) -> ResponseReturnValue:
    """The emails sent about a document, as a fragment (the invoice and quote pages)."""
    doc = get_document(current_actor(), public_id)
    return render_template("delivery/_deliveries.html", doc=doc)


@bp.get("/t/<token>.gif")
def pixel(token: str) -> ResponseReturnValue:
    """Public: the open pixel. Any token gets the GIF; only a good one is recorded."""
    service.record_open(token)
    response = Response(GIF, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.get("/calendar/<token>.ics")
def calendar(token: str) -> ResponseReturnValue:
    """Public, signed: the business's open invoices by due date."""
    feed = service.calendar_feed(token)
    if feed is None:
        abort(404)
    response = Response(feed.encode("utf-8"), mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def _rules_from(form: dict[str, list[str]]) -> list[reminders.RuleData]:
    offsets, templates = form.get("offset_days", []), form.get("template", [])
    active = set(form.get("active", []))
    rules = []
    for index, (offset, template) in enumerate(zip(offsets, templates, strict=False)):
        if not offset.strip():
            continue
        try:
            days = int(offset)
        except ValueError:
            raise InvalidInput(
                {f"rules-{index}-offset_days": "Type a whole number of days."}
            ) from None
        rules.append(reminders.RuleData(days, template, str(index) in active))
    return rules


@bp.route("/app/settings/delivery", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def settings() -> ResponseReturnValue:
    actor = current_actor()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            if request.form.get("action") == "suggested":
                data = [reminders.RuleData(o, t) for o, t in reminders.SUGGESTED]
            else:
                data = _rules_from(request.form.to_dict(flat=False))
            reminders.save_rules(actor, data)
        except InvalidInput as error:
            errors = dict(error.errors)
        else:
            flash("Reminder rules saved.", "success")
            return redirect(url_for("delivery.settings"), 303)
    return render_template(
        "delivery/settings.html",
        rules=reminders.rules_of(actor.business),
        templates=reminders.TEMPLATES,
        errors=errors,
        feed_url=absolute_url(service.calendar_path(actor.business)),
    ), (422 if errors else 200)
