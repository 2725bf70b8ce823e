"""The outbox handler that writes and sends one document email (invoice, quote, reminder)."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final, cast

import nh3
from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision
from flask import current_app
from sqlalchemy import ColumnElement, ScalarSelect, Select, String, bindparam, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute

from integrations.notify.email import (
    Attachment,
    LogMailer,
    Mailer,
    OutgoingEmail,
    PermanentSendError,
    Security,
    SmtpMailer,
    TemporarySendError,
)
from portal.documents.cache import document_pdf, latest_file_sql
from portal.documents.render import ReadAlong, read_along_sql
from portal.documents.templating import TemplateProblem, View, render_markdown
from portal.extensions import db
from portal.models import (
    Business,
    Client,
    Delivery,
    Document,
    DocumentTemplate,
    Membership,
    OutboxMessage,
    RenderedFile,
    Role,
    User,
)
from portal.models.base import utcnow
from portal.services import outbox
from portal.services.delivery import KIND, notify_failure, pixel_token, sender_of
from portal.services.mail import absolute_url
from portal.services.mail_settings import address_guard

log = logging.getLogger(__name__)

#: (subject, Markdown body) per template; a business overrides one with a ``DocumentTemplate``
#: of kind ``email_<name>`` whose first line is the subject.
DEFAULTS: Final[dict[str, tuple[str, str]]] = {
    "invoice": (
        "Invoice {{ document.number }} from {{ business.name }}",
        "Hello {{ client.name }},\n\n{% if message.text %}{{ message.text }}\n\n{% endif %}"
        "Please find attached invoice **{{ document.number }}** for {{ document.total }}, "
        "due on {{ document.due_date }}.\n\nThank you,\n\n{{ business.name }}",
    ),
    "quote": (
        "Quote {{ document.number }} from {{ business.name }}",
        "Hello {{ client.name }},\n\n{% if message.text %}{{ message.text }}\n\n{% endif %}"
        "Please find attached quote **{{ document.number }}** for {{ document.total }}"
        "{% if document.valid_until %}, valid until {{ document.valid_until }}{% endif %}."
        "\n\nKind regards,\n\n{{ business.name }}",
    ),
    "reminder_before": (
        "Invoice {{ document.number }} is due on {{ document.due_date }}",
        "Hello {{ client.name }},\n\na friendly note: invoice **{{ document.number }}** "
        "({{ document.balance }} open) is due on {{ document.due_date }}. It is attached again."
        "\n\nThank you,\n\n{{ business.name }}",
    ),
    "reminder_due": (
        "Invoice {{ document.number }} is due today",
        "Hello {{ client.name }},\n\ninvoice **{{ document.number }}** is due today: "
        "{{ document.balance }} remains open. It is attached again.\n\nThank you,\n\n"
        "{{ business.name }}",
    ),
    "reminder_late": (
        "Reminder: invoice {{ document.number }} is overdue",
        "Hello {{ client.name }},\n\ninvoice **{{ document.number }}** was due on "
        "{{ document.due_date }} and {{ document.balance }} is still open. If you have paid "
        "already, please ignore this message.\n\nKind regards,\n\n{{ business.name }}",
    ),
    "reminder_final": (
        "Final reminder: invoice {{ document.number }}",
        "Hello {{ client.name }},\n\ninvoice **{{ document.number }}** is "
        "{{ reminder.days_late }} days overdue and {{ document.balance }} is still open. "
        "Please pay it now or contact us.\n\n{{ business.name }}",
    ),
}


def _money(minor: int, currency: str, locale: str) -> str:
    amount = Decimal(minor).scaleb(-get_currency_precision(currency))
    return str(format_currency(amount, currency, locale=locale))


def _day(value: date | None, locale: str) -> str:
    return str(format_date(value, "long", locale=locale)) if value else ""


def _context(
    business: Business, doc: Document, client: Client, message: str, today: date
) -> dict[str, View]:
    locale = client.language or business.locale or "en"
    days_late = (today - doc.due_date).days if doc.due_date else 0
    return {
        "document": View(
            "document",
            {
                "number": doc.number or "",
                "kind": doc.kind.value.replace("_", " "),
                "total": _money(doc.total_minor, doc.currency, locale),
                "balance": _money(doc.balance_minor, doc.currency, locale),
                "issue_date": _day(doc.issue_date, locale),
                "due_date": _day(doc.due_date, locale),
                "valid_until": _day(doc.valid_until, locale),
            },
        ),
        "client": View("client", {"name": client.name}),
        "business": View("business", {"name": business.legal_name}),
        "message": View("message", {"text": message}),
        "reminder": View("reminder", {"days_late": str(max(days_late, 0))}),
    }


def _plain(markup: str) -> str:
    text = nh3.clean(markup.replace("<br />", "\n").replace("<br>", "\n"), tags=set())
    return html.unescape(text).strip()


def parse_template(stored: str | None) -> tuple[str, str] | None:
    """A business's stored email template as (subject, body); None when it has no body."""
    if stored and "\n" in stored.strip():
        subject, body = stored.strip().split("\n", 1)
        return subject.removeprefix("Subject:").strip(), body.strip()
    return None


def _own_template(
    business_id: int | InstrumentedAttribute[int], name: str | ColumnElement[str]
) -> ScalarSelect[str]:
    """The stored text of the business's own template ``name``, as a scalar subquery."""
    return (
        select(DocumentTemplate.body)
        .where(DocumentTemplate.business_id == business_id, DocumentTemplate.kind == name)
        .scalar_subquery()
    )


def _owner_email(business_id: int | InstrumentedAttribute[int]) -> ScalarSelect[str]:
    """The owner's address (the one ``system_actor`` acts as), as a scalar subquery."""
    return (
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.business_id == business_id, Membership.role == Role.OWNER)
        .order_by(Membership.id)
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class Wording:
    """What the business has chosen for one email: its own stored template, if any, and the
    owner's address for Reply-To."""

    own_template: str | None
    owner_email: str | None


def wording_for(business: Business, name: str) -> Wording:
    own, owner = db.session.execute(
        select(_own_template(business.id, f"email_{name}"), _owner_email(business.id))
    ).one()
    return Wording(own, owner)


def _template(wording: Wording, name: str) -> tuple[str, str]:
    return parse_template(wording.own_template) or DEFAULTS.get(name, DEFAULTS["invoice"])


def _render(template: tuple[str, str], context: Mapping[str, View]) -> tuple[str, str]:
    subject, body = template
    return _plain(render_markdown(subject, context)), str(render_markdown(body, context))


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str  # the body's HTML, without the page around it


def render_email(
    business: Business,
    doc: Document,
    client: Client,
    template: tuple[str, str],
    message: str = "",
    today: date | None = None,
) -> RenderedEmail:
    """Subject, plain text and HTML of one email, exactly as ``compose`` makes them;
    raise ``TemplateProblem`` when the template cannot be used."""
    context = _context(business, doc, client, message, today or date.today())
    subject, body = _render(template, context)
    return RenderedEmail(subject, _plain(body), body)


def _reply_to(business: Business, wording: Wording) -> str | None:
    return wording.owner_email if wording.owner_email is not None else business.mail_from or None


def compose(
    business: Business,
    doc: Document,
    delivery: Delivery,
    template: str,
    message: str = "",
    wording: Wording | None = None,
    read_along: ReadAlong | None = None,
) -> OutgoingEmail:
    """The email for one delivery: text and HTML from the (business's or default) template,
    the open pixel when tracking is on, and the document's PDF. ``wording`` is read when not
    given, and so is what the PDF's key needs besides the document (``read_along``)."""
    client = doc.client
    wording = wording or wording_for(business, template)
    try:
        rendered = render_email(business, doc, client, _template(wording, template), message)
    except TemplateProblem as exc:
        log.warning("business %s: email template %s unusable (%s)", business.id, template, exc)
        default = DEFAULTS.get(template, DEFAULTS["invoice"])
        rendered = render_email(business, doc, client, default, message)
    subject, body = rendered.subject, rendered.html
    pixel = ""
    if business.track_opens and not client.tracking_opt_out:
        src = html.escape(absolute_url(f"/t/{pixel_token(delivery)}.gif"))
        pixel = f'<img src="{src}" width="1" height="1" alt="" style="display:block">'
    page = (
        f'<!doctype html><html lang="{html.escape(client.language or "en")}"><body>'
        f"{body}{pixel}</body></html>"
    )
    pdf = document_pdf(doc, business, read_along=read_along)
    headers = [("X-Invoice-Lite-Delivery", delivery.public_id)]
    if template.startswith("reminder"):
        headers.append(("Auto-Submitted", "auto-generated"))
    return OutgoingEmail(
        to=tuple(delivery.to),
        cc=tuple(delivery.cc),
        subject=subject,
        text=rendered.text,
        html=page,
        reply_to=_reply_to(business, wording),
        attachments=(Attachment(pdf.filename, pdf.data, "application/pdf"),),
        headers=tuple(headers),
        message_id=delivery.message_id or None,
        return_path=business.bounce_address or None,
    )


def mailer_for(business: Business) -> Mailer:
    """The business's own SMTP server when it has one (its addresses checked on every
    connection), else the platform's (which the operator chose, wherever it is)."""
    sender = sender_of(business)
    if business.smtp_host:
        return SmtpMailer(
            host=business.smtp_host,
            port=business.smtp_port,
            sender=sender,
            security=cast(Security, business.smtp_security),
            username=business.smtp_username or None,
            password=business.smtp_password or None,
            guard=address_guard(),
        )
    cfg = current_app.config
    if not cfg.get("SMTP_HOST"):
        return LogMailer(sender=sender)
    return SmtpMailer(
        host=cfg["SMTP_HOST"],
        port=int(cfg["SMTP_PORT"]),
        sender=sender,
        security=cast(Security, cfg["SMTP_SECURITY"]),
        username=cfg.get("SMTP_USERNAME"),
        password=cfg.get("SMTP_PASSWORD"),
    )


def _fail(delivery_id: int, error: str) -> None:
    # The outbox rolls back the handler's work on failure; the failure itself must stay, so it
    # is written in a transaction of its own (the outbox then records its own attempt).
    db.session.rollback()
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        return
    delivery.status = "failed"
    delivery.error = error[:4000]
    db.session.commit()
    notify_failure(delivery)


@functools.cache
def _delivery_query() -> Select[*tuple[Any, ...]]:
    """The delivery, its business, document, client, wording, what the PDF's key needs
    besides them and the PDF stored last, in one round trip; built once. Parameters:
    ``delivery_id``, and ``named``, the template when not the delivery's own kind."""
    kind = func.coalesce(bindparam("named", type_=String), Delivery.kind)
    return (
        select(
            Delivery,
            Business,
            Document,
            Client,
            _own_template(Delivery.business_id, literal("email_") + kind),
            _owner_email(Delivery.business_id),
            *read_along_sql(),
            RenderedFile,
        )
        .outerjoin(Business, Business.id == Delivery.business_id)
        .outerjoin(Document, Document.id == Delivery.document_id)
        .outerjoin(Client, Client.id == Document.client_id)
        .outerjoin(RenderedFile, RenderedFile.id == latest_file_sql())
        .where(Delivery.id == bindparam("delivery_id"))
    )


@outbox.handles(KIND)
def send_document_email(message: OutboxMessage) -> dict[str, Any]:
    """Send the delivery's email once: a delivery already sent or bounced is left alone."""
    from portal.services.reminders import still_due

    named = message.payload.get("template")
    row = db.session.execute(
        _delivery_query(),
        {"delivery_id": message.payload.get("delivery_id"), "named": named or None},
    ).one_or_none()
    if row is None:
        return {"skipped": "no such delivery"}
    delivery, business, doc, _client, own_template, owner_email, settled, pdf_template, pdf = row
    # The outbox runs a message again only when it is not done and not failed, so a failed
    # delivery seen here is one a person asked to try again; sent or bounced ones stay as they are.
    if delivery.status not in ("queued", "failed"):
        return {"status": delivery.status, "message_id": delivery.message_id}
    if business is None or doc is None:
        raise outbox.PermanentFailure("the document of this email no longer exists")
    template = str(message.payload.get("template") or delivery.kind)
    if template.startswith("reminder") and not still_due(doc):
        db.session.delete(delivery)
        return {"skipped": "settled before the reminder went out"}
    text = str(message.payload.get("message") or "")
    wording = Wording(own_template, owner_email)
    read_along = ReadAlong(int(settled or 0), pdf_template, pdf)
    email = compose(business, doc, delivery, template, text, wording, read_along)
    delivery.subject = email.subject[:300]
    try:
        mailer_for(business).send(email)
    except TemporarySendError as exc:
        if message.attempts >= outbox.MAX_ATTEMPTS:
            _fail(delivery.id, f"Gave up after {message.attempts} attempts: {exc}")
            raise outbox.PermanentFailure(str(exc)) from exc
        raise outbox.TemporaryFailure(str(exc)) from exc
    except PermanentSendError as exc:
        _fail(delivery.id, str(exc))
        raise outbox.PermanentFailure(str(exc)) from exc
    delivery.status = "sent"
    delivery.sent_at = utcnow()
    delivery.error = ""
    return {"message_id": delivery.message_id, "to": list(delivery.to)}
