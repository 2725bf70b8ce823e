"""The client portal: links a business shares with a client, and what a link may open.

Only the sha256 of a link's token is stored. A link opens either one document or everything a
client has been issued; every lookup here is scoped to the link's business and client.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from portal.documents.views import Formatter, StatementPage, locale_for, statement_page
from portal.extensions import db
from portal.models import (
    Business,
    Client,
    Document,
    DocumentKind,
    Payment,
    PaymentAllocation,
    PortalLink,
    Role,
)
from portal.models.base import utcnow
from portal.services import audit, quotes
from portal.services.actors import Actor, system_actor
from portal.services.errors import InvalidInput, NotFound, ServiceError
from portal.services.tokens import new_token, token_hash

MAX_DAYS = 365


class LinkError(ServiceError):
    """A link that opens nothing; its message says nothing about the business or client."""

    status = 403


class LinkInvalid(LinkError):
    def __init__(self) -> None:
        super().__init__("This link is not valid.")


class LinkExpired(LinkError):
    status = 410

    def __init__(self) -> None:
        super().__init__("This link has expired; ask the sender for a new one.")


class LinkRevoked(LinkError):
    status = 410

    def __init__(self) -> None:
        super().__init__("This link was withdrawn by its sender; ask them for a new one.")


# --- staff ---------------------------------------------------------------------------


def create_link(
    actor: Actor, client_id: str, document_id: str | None = None, days: int = 30
) -> tuple[PortalLink, str]:
    """A link to a client's portal, or to one issued document; returns it with its token,
    which is shown once and never stored."""
    actor.require(Role.STAFF)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput({"days": f"A link lasts from 1 to {MAX_DAYS} days."})
    client = db.session.scalar(
        select(Client).where(Client.public_id == client_id, Client.business_id == actor.business.id)
    )
    if client is None:
        raise NotFound("No such client.")
    document = None
    if document_id is not None:
        document = db.session.scalar(
            select(Document).where(
                Document.public_id == document_id,
                Document.business_id == actor.business.id,
                Document.client_id == client.id,
            )
        )
        if document is None:
            raise NotFound("No such document.")
        if document.status == "draft":
            raise InvalidInput({"document": "Issue the document before sharing a link to it."})
    token, hashed = new_token()
    link = PortalLink(
        business_id=actor.business.id,
        client_id=client.id,
        document_id=document.id if document is not None else None,
        token_hash=hashed,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(link)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="portal_link.created",
        entity_type="portal_link",
        entity_id=link.public_id,
        after={
            "client": client.public_id,
            "document": document.public_id if document is not None else None,
            "expires_at": link.expires_at,
        },
    )
    db.session.commit()
    return link, token


def revoke_link(actor: Actor, link_public_id: str) -> PortalLink:
    actor.require(Role.STAFF)
    link = db.session.scalar(
        select(PortalLink).where(
            PortalLink.public_id == link_public_id,
            PortalLink.business_id == actor.business.id,
        )
    )
    if link is None:
        raise NotFound("No such link.")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        audit.record(
            business=actor.business,
            actor=actor.user,
            action="portal_link.revoked",
            entity_type="portal_link",
            entity_id=link.public_id,
        )
        db.session.commit()
    return link


def links_for(actor: Actor, client_id: str) -> list[PortalLink]:
    """A client's links that still open something, newest first (for the staff pages)."""
    stmt = (
        select(PortalLink)
        .join(Client, PortalLink.client_id == Client.id)
        .where(
            Client.public_id == client_id,
            PortalLink.business_id == actor.business.id,
            PortalLink.revoked_at.is_(None),
            PortalLink.expires_at > utcnow(),
        )
        .order_by(PortalLink.created_at.desc())
    )
    return list(db.session.scalars(stmt))


# --- the client's side ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    link: PortalLink
    business: Business
    client: Client
    document: Document | None


LAST_USED_PRECISION = timedelta(minutes=1)


def open_link(token: str) -> Opened:
    """What a token opens; raises ``LinkInvalid``, ``LinkExpired`` or ``LinkRevoked``."""
    # The link, its client, business and document in one round trip: every portal page
    # starts here.
    row = db.session.execute(
        select(PortalLink, Client, Business, Document)
        .join(Client, Client.id == PortalLink.client_id)
        .join(Business, Business.id == PortalLink.business_id)
        .outerjoin(Document, Document.id == PortalLink.document_id)
        .where(PortalLink.token_hash == token_hash(token))
    ).one_or_none()
    if row is None:
        raise LinkInvalid()
    link, client, business, document = row
    if link.revoked_at is not None:
        raise LinkRevoked()
    if link.expires_at <= utcnow():
        raise LinkExpired()
    if client.business_id != business.id:
        raise LinkInvalid()
    if link.document_id is not None and (document is None or not _belongs(document, link)):
        raise LinkInvalid()
    now = utcnow()
    # A write per page view would cost more than the page; a minute's precision is plenty.
    if link.last_used_at is None or now - link.last_used_at > LAST_USED_PRECISION:
        link.last_used_at = now
        db.session.commit()
    return Opened(link, business, client, document)


def _belongs(doc: Document, link: PortalLink) -> bool:
    return (
        doc.business_id == link.business_id
        and doc.client_id == link.client_id
        and doc.status != "draft"
    )


def documents_of(opened: Opened) -> list[Document]:
    """The documents a link shows: its one document, or everything the client was issued."""
    if opened.document is not None:
        return [opened.document]
    stmt = (
        select(Document)
        .where(
            Document.business_id == opened.business.id,
            Document.client_id == opened.client.id,
            Document.status != "draft",
        )
        .order_by(Document.issue_date.desc(), Document.id.desc())
    )
    return list(db.session.scalars(stmt))


def document_for(opened: Opened, public_id: str) -> Document:
    """One document the link may open; anything else is 'not found'."""
    doc = db.session.scalar(
        select(Document).where(
            Document.public_id == public_id,
            Document.business_id == opened.business.id,
            Document.client_id == opened.client.id,
        )
    )
    if doc is None or not _belongs(doc, opened.link):
        raise NotFound("No such document.")
    if opened.document is not None and doc.id != opened.document.id:
        raise NotFound("No such document.")
    return doc


def accept_quote(opened: Opened, quote: Document, name: str) -> Document:
    """The client accepts, typing their name; recorded as the business's system actor."""
    _require_quote(quote)
    return quotes.accept_quote(system_actor(opened.business), quote.public_id, name)


def decline_quote(opened: Opened, quote: Document, name: str, reason: str = "") -> Document:
    _require_quote(quote)
    name = name.strip()
    if not name:
        raise InvalidInput({"name": "Enter your name."})
    said = f"{reason.strip()} ({name})" if reason.strip() else f"Declined by {name}"
    return quotes.decline_quote(system_actor(opened.business), quote.public_id, said)


def _require_quote(doc: Document) -> None:
    if doc.kind is not DocumentKind.QUOTE:
        raise NotFound("No such quote.")


@dataclass(frozen=True, slots=True)
class PaymentRow:
    received_on: str
    amount: str
    method: str
    reference: str
    invoices: str


def payments_of(opened: Opened) -> list[PaymentRow]:
    """The client's payments, or for a document link those that paid its document."""
    stmt = select(Payment).where(
        Payment.business_id == opened.business.id, Payment.client_id == opened.client.id
    )
    if opened.document is not None:
        stmt = stmt.join(PaymentAllocation).where(
            PaymentAllocation.document_id == opened.document.id
        )
    stmt = stmt.order_by(Payment.received_on.desc(), Payment.id.desc())
    locale = locale_for(opened.client, opened.business)
    rows = []
    for payment in db.session.scalars(stmt).unique():
        fmt = Formatter(locale, payment.currency)
        numbers = [
            doc.number or ""
            for doc in db.session.scalars(
                select(Document)
                .join(PaymentAllocation, PaymentAllocation.document_id == Document.id)
                .where(PaymentAllocation.payment_id == payment.id)
                .order_by(Document.number)
            )
        ]
        rows.append(
            PaymentRow(
                received_on=fmt.date(payment.received_on),
                amount=fmt.money(payment.amount_minor),
                method=payment.method.replace("_", " "),
                reference=payment.reference,
                invoices=", ".join(numbers),
            )
        )
    return rows


def statement(opened: Opened, start: date, end: date) -> StatementPage:
    if opened.document is not None:
        raise NotFound("No such statement.")
    if end < start:
        raise InvalidInput({"to": "The end of the period comes before its start."})
    return statement_page(opened.client, opened.business, start, end)


def statement_csv(page: StatementPage) -> str:
    """The statement as the page shows it, opening and closing balance included."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "description", "charge", "credit", "balance"])
    writer.writerow(["", "Opening balance", "", "", safe_cell(page.opening)])
    for row in page.rows:
        writer.writerow(
            [safe_cell(v) for v in (row.date, row.text, row.charge, row.credit, row.balance)]
        )
    writer.writerow(["", "Closing balance", "", "", safe_cell(page.closing)])
    return out.getvalue()


def safe_cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (a description typed by anyone, or a
    negative amount, can start with = + - @)."""
    text = str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text
