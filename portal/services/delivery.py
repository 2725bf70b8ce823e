"""Sending documents by email, and what comes back: opens, views, bounces; the due-date feed.

A send is one transaction (the document marked sent, a ``Delivery`` row, an outbox message);
the email itself goes out after commit, in ``portal.jobs.delivery``.
"""

from __future__ import annotations

import logging
import mailbox
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_currency, get_currency_precision
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from integrations.notify.dsn import Bounce, parse_dsn
from integrations.notify.email import message_id_for
from portal.billing.quotes import QuoteStatus
from portal.billing.status import DELIVERY_STATUSES, OPEN_STATUSES, InvoiceStatus
from portal.extensions import db
from portal.models import (
    Business,
    Client,
    Delivery,
    Document,
    DocumentKind,
    OutboxMessage,
    Role,
)
from portal.models.base import utcnow
from portal.services import audit, balances, outbox
from portal.services.actors import Actor
from portal.services.documents import get_document
from portal.services.errors import InvalidInput

log = logging.getLogger(__name__)

QUEUE = "email"
KIND = "email.document"
PIXEL_SALT = "open-pixel"
CALENDAR_SALT = "calendar-feed"
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


# --- sending ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipients:
    to: tuple[str, ...]
    cc: tuple[str, ...]


def recipients_for(client: Client) -> Recipients:
    """The primary billing contact (else the client's billing email) and, in CC, the other
    contacts who have an email address."""
    emails = [c.email.strip().lower() for c in client.contacts if c.email.strip()]
    primary = client.primary_contact
    if primary is not None and primary.email.strip():
        to = primary.email.strip().lower()
    elif client.email:
        to = client.email.strip().lower()
    elif emails:
        to = emails[0]
    else:
        return Recipients((), ())
    cc = tuple(dict.fromkeys(e for e in emails if e != to))
    return Recipients((to,), cc)


def _addresses(value: str | Sequence[str]) -> tuple[str, ...]:
    items = re.split(r"[,;\s]+", value) if isinstance(value, str) else list(value)
    found = tuple(dict.fromkeys(i.strip().lower() for i in items if i.strip()))
    bad = [a for a in found if not _EMAIL.match(a)]
    if bad:
        raise InvalidInput({"to": f"Not an email address: {', '.join(bad)}."})
    return found


def sender_of(business: Business) -> str:
    return business.mail_from or str(current_app.config["MAIL_SENDER"])


def queue_email(
    business: Business,
    doc: Document,
    *,
    kind: str,
    key: str,
    recipients: Recipients,
    template: str,
    message: str = "",
) -> tuple[Delivery, OutboxMessage]:
    """Add a queued ``Delivery`` and its outbox message to the caller's transaction; the
    caller commits, then dispatches the message."""
    delivery = Delivery(
        business_id=business.id,
        document_id=doc.id,
        kind=kind,
        to=list(recipients.to),
        cc=list(recipients.cc),
        message_id=message_id_for(sender_of(business)),
        status="queued",
    )
    db.session.add(delivery)
    db.session.flush()
    queued = outbox.add(
        business,
        KIND,
        key,
        {"delivery_id": delivery.id, "template": template, "message": message},
        queue=QUEUE,
    )
    return delivery, queued


def _send(
    actor: Actor,
    public_id: str,
    kind: DocumentKind,
    to: str | Sequence[str] | None,
    message: str | None,
) -> Delivery:
    actor.require(Role.STAFF)
    doc = get_document(actor, public_id, kind)
    if doc.status == "draft":
        raise InvalidInput({"document": f"Issue the {kind.value} before sending it."})
    if doc.status in {InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF}:
        raise InvalidInput({"document": f"A {doc.status.replace('_', ' ')} invoice is not sent."})
    found = recipients_for(doc.client)
    recipients = Recipients(_addresses(to), found.cc) if to else found
    if not recipients.to:
        raise InvalidInput({"to": "This client has no billing email: type an address."})
    sends = db.session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.document_id == doc.id, Delivery.kind == kind.value
        )
    )
    if doc.sent_at is None:
        doc.sent_at = utcnow()
        if kind is DocumentKind.INVOICE and doc.status == InvoiceStatus.ISSUED:
            doc.status = InvoiceStatus.SENT
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=f"{kind.value}.emailed",
        entity_type=kind.value,
        entity_id=doc.public_id,
        after={"to": list(recipients.to), "cc": list(recipients.cc)},
    )
    delivery, queued = queue_email(
        actor.business,
        doc,
        kind=kind.value,
        key=f"send-{kind.value}-{doc.public_id}-v{int(sends or 0) + 1}",
        recipients=recipients,
        template=kind.value,
        message=(message or "").strip(),
    )
    db.session.commit()
    outbox.dispatch(queued.id)
    db.session.refresh(delivery)
    return delivery


def send_invoice(
    actor: Actor, public_id: str, to: str | Sequence[str] | None = None, message: str | None = None
) -> Delivery:
    """Email an issued invoice with its PDF; ``to`` replaces the client's billing address."""
    return _send(actor, public_id, DocumentKind.INVOICE, to, message)


def send_quote(
    actor: Actor, public_id: str, to: str | Sequence[str] | None = None, message: str | None = None
) -> Delivery:
    """Email a numbered (sent) quote with its PDF."""
    actor.require(Role.STAFF)
    quote = get_document(actor, public_id, DocumentKind.QUOTE)
    if quote.status == QuoteStatus.DRAFT:
        raise InvalidInput({"document": "Mark the quote sent first: that gives it its number."})
    return _send(actor, public_id, DocumentKind.QUOTE, to, message)


def deliveries_of(doc: Document, limit: int = 10) -> list[Delivery]:
    return list(
        db.session.scalars(
            select(Delivery)
            .where(Delivery.document_id == doc.id)
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
    )


def recent_failures(business: Business, days: int = 7) -> list[tuple[Delivery, Document | None]]:
    """Emails that failed or bounced lately: the banner the owner sees in the app."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        select(Delivery, Document)
        .outerjoin(Document, Document.id == Delivery.document_id)
        .where(
            Delivery.business_id == business.id,
            Delivery.status.in_(("failed", "bounced")),
            Delivery.updated_at >= since,
        )
        .order_by(Delivery.id.desc())
        .limit(5)
    ).all()
    return [(d, doc) for d, doc in rows]


def notify_failure(delivery: Delivery) -> None:
    """Tell the business's team on its chat channels (``delivery.failed``); commits."""
    try:
        from portal.services import notifications
    except ImportError:  # the notifications area is optional
        return
    business = db.session.get(Business, delivery.business_id)
    doc = db.session.get(Document, delivery.document_id) if delivery.document_id else None
    if business is None:
        return
    number = (doc.number if doc else None) or "A document"
    what = "bounced" if delivery.status == "bounced" else "was refused"
    try:
        messages = notifications.notify(
            business,
            "delivery.failed",
            {
                "id": f"{delivery.public_id}-{delivery.status}",
                "text": f"The email with {number} to {', '.join(delivery.to)} {what}.",
                "url": f"/app/{'quotes' if delivery.kind == 'quote' else 'invoices'}/"
                f"{doc.public_id}"
                if doc
                else None,
                "facts": {"To": ", ".join(delivery.to), "Server said": delivery.error},
            },
        )
        db.session.commit()
        notifications.dispatch(messages)
    except Exception:
        db.session.rollback()
        log.exception("could not notify about delivery %s", delivery.public_id)


# --- opens and views ----------------------------------------------------------------


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.config["SECRET_KEY"]), salt=salt)


def pixel_token(delivery: Delivery) -> str:
    return str(_serializer(PIXEL_SALT).dumps(delivery.public_id))


def _viewed(doc: Document) -> None:
    if doc.viewed_at is not None or doc.client.tracking_opt_out:
        return
    doc.viewed_at = utcnow()
    if doc.kind is DocumentKind.INVOICE and doc.status in DELIVERY_STATUSES:
        doc.status = balances.delivery_status(doc)
    audit.record(
        business=db.session.get(Business, doc.business_id),
        actor=None,
        action=f"{doc.kind.value}.viewed",
        entity_type=doc.kind.value,
        entity_id=doc.public_id,
    )


def record_open(token: str) -> bool:
    """The open pixel was fetched; a bad token or tracking turned off records nothing."""
    try:
        public_id = _serializer(PIXEL_SALT).loads(token)
    except BadSignature:
        return False
    delivery = db.session.scalar(select(Delivery).where(Delivery.public_id == public_id))
    if delivery is None:
        return False
    business = db.session.get(Business, delivery.business_id)
    if business is None or not business.track_opens:
        return False
    doc = db.session.get(Document, delivery.document_id) if delivery.document_id else None
    if doc is not None and doc.client.tracking_opt_out:
        return False
    if delivery.opened_at is None:
        delivery.opened_at = utcnow()
    if doc is not None:
        _viewed(doc)
    db.session.commit()
    return True


def record_view(document: Document) -> None:
    """The client opened the document (in the client portal): it counts as viewed."""
    _viewed(document)
    db.session.commit()


# --- bounces -------------------------------------------------------------------------


def record_bounces(bounces: Iterable[Bounce]) -> int:
    """Mark the deliveries whose recipients failed for good; returns how many changed."""
    changed = 0
    for bounce in bounces:
        if not bounce.permanent or not bounce.original_message_id:
            continue
        delivery = db.session.scalar(
            select(Delivery).where(Delivery.message_id == bounce.original_message_id)
        )
        if delivery is None or delivery.status == "bounced":
            continue
        delivery.status = "bounced"
        delivery.bounced_at = utcnow()
        delivery.error = f"{bounce.recipient}: {bounce.diagnostic or bounce.status}"
        db.session.commit()
        notify_failure(delivery)
        changed += 1
    return changed


def _messages_at(path: Path) -> Iterator[bytes]:
    if path.is_file():
        yield path.read_bytes()
    elif (path / "cur").is_dir() or (path / "new").is_dir():
        box = mailbox.Maildir(str(path), factory=None, create=False)
        for key in box.iterkeys():
            yield box.get_bytes(key)
    elif path.is_dir():
        for file in sorted(path.glob("*.eml")):
            yield file.read_bytes()
    else:
        raise FileNotFoundError(path)


@dataclass(frozen=True, slots=True)
class BounceImport:
    messages: int
    reports: int
    bounced: int


def import_bounces(path: Path) -> BounceImport:
    """Read an .eml file, a folder of them, or a Maildir, and mark the bounced deliveries."""
    messages = reports = bounced = 0
    for raw in _messages_at(path):
        messages += 1
        found = parse_dsn(raw)
        reports += bool(found)
        bounced += record_bounces(found)
    return BounceImport(messages, reports, bounced)


def read_bounce_mailbox(path: Path) -> BounceImport:
    """Read the messages not seen yet in the bounce Maildir, mark the bounced deliveries, and
    file each message as seen (``cur``, flag S) so the next run skips it.

    A message is marked seen only after its bounces are recorded: a run that fails half way
    reads the rest again next time, and recording a bounce twice changes nothing.
    """
    box = mailbox.Maildir(str(path), factory=None, create=False)
    messages = reports = bounced = 0
    for key in list(box.iterkeys()):
        message = box.get_message(key)
        if "S" in message.get_flags():
            continue
        messages += 1
        found = parse_dsn(message.as_bytes())
        reports += bool(found)
        bounced += record_bounces(found)
        message.set_subdir("cur")
        message.add_flag("S")
        box[key] = message
    return BounceImport(messages, reports, bounced)


# --- the due-date calendar ------------------------------------------------------------


def calendar_token(business: Business) -> str:
    return str(_serializer(CALENDAR_SALT).dumps(business.public_id))


def _ics_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued after CRLF + one space."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _money(minor: int, currency: str, locale: str) -> str:
    amount = Decimal(minor).scaleb(-get_currency_precision(currency))
    return str(format_currency(amount, currency, locale=locale or "en"))


def _stamp(moment: datetime | None) -> str:
    return (moment or utcnow()).strftime("%Y%m%dT%H%M%SZ")


def calendar_feed(token: str) -> str | None:
    """The business's open invoices by due date as iCalendar text; None for a bad token."""
    try:
        public_id = _serializer(CALENDAR_SALT).loads(token)
    except BadSignature:
        return None
    business = db.session.scalar(select(Business).where(Business.public_id == public_id))
    if business is None:
        return None
    rows = db.session.execute(
        select(Document, Client)
        .join(Client, Client.id == Document.client_id)
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_([s.value for s in OPEN_STATUSES]),
            Document.due_date.is_not(None),
            Document.balance_minor > 0,
        )
        .order_by(Document.due_date, Document.id)
    ).all()
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Invoice Lite//Due dates//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ics_text(business.legal_name + ' · invoices due')}",
    ]
    base = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    for doc, client in rows:
        due = doc.due_date or date.min
        amount = _money(doc.balance_minor, doc.currency, business.locale)
        lines += [
            "BEGIN:VEVENT",
            f"UID:invoice-{doc.public_id}@invoice-lite",
            f"DTSTAMP:{_stamp(doc.updated_at)}",
            f"DTSTART;VALUE=DATE:{due:%Y%m%d}",
            f"DTEND;VALUE=DATE:{due + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_ics_text(f'{doc.number} due: {amount} from {client.name}')}",
            f"URL:{base}/app/invoices/{doc.public_id}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def calendar_path(business: Business) -> str:
    return f"/calendar/{calendar_token(business)}.ics"
