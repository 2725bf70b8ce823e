"""Sending documents by email, the open pixel, the due-date calendar, and Settings → Email
and reminders: the business's outgoing email (its SMTP server, a test button) and reminders."""

from __future__ import annotations

import base64

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import Length, Optional

from portal.jobs import delivery as _handlers  # noqa: F401  (registers the outbox handler)
from portal.models import Delivery, Document, DocumentKind, Role
from portal.services import delivery as service
from portal.services import mail_settings, reminders
from portal.services.documents import get_document
from portal.services.errors import InvalidInput
from portal.services.mail import absolute_url
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors
from portal.web.htmx import render

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


class MailSettingsForm(FlaskForm):
    """The business's outgoing email; the service checks what the values mean."""

    smtp_host = StringField(
        "SMTP server",
        validators=[Length(max=200)],
        description="Leave empty to send through the platform's server.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "placeholder": "smtp.example.com"},
    )
    smtp_port = IntegerField(
        "Port",
        validators=[Optional()],
        description="Empty: 587 for STARTTLS, 465 for TLS, 25 for none.",
    )
    smtp_security = SelectField(
        "Security", choices=dict(mail_settings.SECURITY), validate_choice=False
    )
    smtp_username = StringField(
        "Username", render_kw={"autocomplete": "off", "spellcheck": "false"}
    )
    smtp_password = PasswordField(
        "Password",
        render_kw={"autocomplete": "new-password"},
        description="Leave empty to keep the saved password.",
    )
    clear_password = BooleanField("Remove the saved password")
    mail_from = StringField(
        "From address",
        description="Like Acme Billing <billing@acme.example>. Empty: the platform's address.",
        render_kw={"spellcheck": "false"},
    )
    bounce_address = StringField(
        "Bounce address (Return-Path)",
        description="Where undeliverable mail is reported. Empty: the From address.",
        render_kw={"spellcheck": "false"},
    )
    track_opens = BooleanField("Add an open-tracking pixel to emails")

    def to_data(self) -> mail_settings.MailSettings:
        return mail_settings.MailSettings(
            smtp_host=self.smtp_host.data or "",
            smtp_port=self.smtp_port.data,
            smtp_security=self.smtp_security.data or "",
            smtp_username=self.smtp_username.data or "",
            smtp_password=self.smtp_password.data or "",
            clear_password=bool(self.clear_password.data),
            mail_from=self.mail_from.data or "",
            bounce_address=self.bounce_address.data or "",
            track_opens=bool(self.track_opens.data),
        )


def _settings_page(
    *,
    mail_form: MailSettingsForm | None = None,
    errors: dict[str, str] | None = None,
    test: mail_settings.TestOutcome | None = None,
    status: int = 200,
    block: str | None = None,
) -> ResponseReturnValue:
    actor = current_actor()
    if mail_form is None:
        mail_form = MailSettingsForm(formdata=None, obj=mail_settings.settings_of(actor.business))
    response = make_response(
        render(
            "delivery/settings.html",
            block,
            rules=reminders.rules_of(actor.business),
            templates=reminders.TEMPLATES,
            errors=errors or {},
            mail_form=mail_form,
            has_password=mail_settings.has_password(actor.business),
            test=test,
            feed_url=absolute_url(service.calendar_path(actor.business)),
        )
    )
    response.status_code = status
    return response


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
    return _settings_page(errors=errors, status=422 if errors else 200)


@bp.post("/app/settings/delivery/email")
@require_role(Role.ADMIN)
def mail_settings_save() -> ResponseReturnValue:
    form = MailSettingsForm()
    if form.validate_on_submit():
        try:
            mail_settings.save_mail_settings(current_actor(), form.to_data())
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash("Outgoing email settings saved.", "success")
            return redirect(url_for("delivery.settings", _anchor="outgoing-email"), 303)
    return _settings_page(mail_form=form, status=422)


@bp.post("/app/settings/delivery/email/test")
@require_role(Role.ADMIN)
def mail_test() -> ResponseReturnValue:
    """Send a test email through the saved settings; htmx gets the result's fragment."""
    outcome = mail_settings.send_test_email(current_actor())
    return _settings_page(test=outcome, block="mail_test")
