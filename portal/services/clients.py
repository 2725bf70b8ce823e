"""Clients and their contacts: create, edit, archive, restore, find."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Client, Contact, Role, Tag
from portal.models.base import utcnow
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound
from portal.services.pagination import Page, decode_cursor, encode_cursor
from portal.services.validation import check_currency, check_locale

MAX_TAG_LENGTH = 40


@dataclass(frozen=True, slots=True)
class ContactData:
    name: str
    email: str = ""
    phone: str = ""
    is_primary: bool = False


@dataclass(frozen=True, slots=True)
class ClientData:
    name: str
    currency: str
    email: str = ""
    phone: str = ""
    tax_id: str = ""
    payment_terms_days: int = 30
    language: str = "en"
    notes: str = ""
    billing_line1: str = ""
    billing_line2: str = ""
    billing_city: str = ""
    billing_postal_code: str = ""
    billing_country: str = ""
    shipping_line1: str = ""
    shipping_line2: str = ""
    shipping_city: str = ""
    shipping_postal_code: str = ""
    shipping_country: str = ""
    tags: tuple[str, ...] = ()
    contacts: tuple[ContactData, ...] = field(default=())
    # No payment reminders to this client; None leaves it as it is (callers that don't ask).
    reminders_paused: bool | None = None


_PLAIN_FIELDS = (
    "name",
    "phone",
    "tax_id",
    "payment_terms_days",
    "language",
    "notes",
    "billing_line1",
    "billing_line2",
    "billing_city",
    "billing_postal_code",
    "billing_country",
    "shipping_line1",
    "shipping_line2",
    "shipping_city",
    "shipping_postal_code",
    "shipping_country",
)


def snapshot(client: Client) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(client, name) for name in _PLAIN_FIELDS}
    data["email"] = client.email
    data["currency"] = client.currency
    data["archived"] = client.archived_at is not None
    data["reminders_paused"] = bool(client.reminders_paused)
    data["tags"] = [t.name for t in client.tags]
    data["contacts"] = [
        {"name": c.name, "email": c.email, "phone": c.phone, "primary": c.is_primary}
        for c in client.contacts
    ]
    return data


def get_client(actor: Actor, public_id: str) -> Client:
    client = db.session.scalar(
        select(Client)
        .where(Client.public_id == public_id, Client.business_id == actor.business.id)
        .options(selectinload(Client.contacts), selectinload(Client.tags))
    )
    if client is None:
        raise NotFound("No such client.")
    return client


def _check(actor: Actor, data: ClientData, client: Client | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = "A client needs a name."
    if (msg := check_currency(data.currency)) is not None:
        errors["currency"] = msg
    if (msg := check_locale(data.language)) is not None:
        errors["language"] = msg
    if not 0 <= data.payment_terms_days <= 365:
        errors["payment_terms_days"] = "Payment terms must be between 0 and 365 days."
    email = data.email.strip().lower()
    if email:
        clash = select(Client.id).where(
            Client.business_id == actor.business.id, Client.email == email
        )
        if client is not None:
            clash = clash.where(Client.id != client.id)
        if db.session.scalar(clash) is not None:
            errors["email"] = "Another client of this business already uses this email."
    for tag in data.tags:
        if len(tag) > MAX_TAG_LENGTH:
            errors["tags"] = f"Tag {tag[:20]!r}… is longer than {MAX_TAG_LENGTH} characters."
    # Indexes are the form's rows, blank ones included, so a message lands beside its row.
    for i, contact in enumerate(data.contacts):
        if contact.email.strip() and not contact.name.strip():
            errors[f"contacts-{i}-name"] = "A contact needs a name."
    contacts = [c for c in data.contacts if c.name.strip() or c.email.strip()]
    if sum(1 for c in contacts if c.is_primary) > 1:
        errors["contacts"] = "Only one contact can be the primary billing contact."
    if data.reminders_paused is False and client is not None and client.erased_at is not None:
        errors["reminders_paused"] = "An erased client gets no reminders."
    return errors


def _tags(actor: Actor, names: tuple[str, ...]) -> list[Tag]:
    wanted = sorted({n.strip().lower() for n in names if n.strip()})
    if not wanted:
        return []
    existing = {
        t.name: t
        for t in db.session.scalars(
            select(Tag).where(Tag.business_id == actor.business.id, Tag.name.in_(wanted))
        )
    }
    for name in wanted:
        if name not in existing:
            existing[name] = Tag(business_id=actor.business.id, name=name)
            db.session.add(existing[name])
    return [existing[n] for n in wanted]


def _apply(actor: Actor, client: Client, data: ClientData) -> None:
    for name in _PLAIN_FIELDS:
        value = getattr(data, name)
        setattr(client, name, value.strip() if isinstance(value, str) else value)
    client.billing_country = client.billing_country.upper()
    client.shipping_country = client.shipping_country.upper()
    client.sort_name = client.name.lower()
    client.email = data.email.strip().lower() or None
    client.currency = data.currency.upper()
    if data.reminders_paused is not None:
        client.reminders_paused = data.reminders_paused
    client.tags = _tags(actor, data.tags)
    contacts = [c for c in data.contacts if c.name.strip() or c.email.strip()]
    if contacts and not any(c.is_primary for c in contacts):
        contacts[0] = ContactData(**{**_asdict(contacts[0]), "is_primary": True})
    # Replacing the list flushes deletes before inserts, so the one-primary index holds.
    client.contacts.clear()
    db.session.flush()
    client.contacts.extend(
        Contact(
            name=c.name.strip(),
            email=c.email.strip().lower(),
            phone=c.phone.strip(),
            is_primary=c.is_primary,
        )
        for c in contacts
    )


def _asdict(contact: ContactData) -> dict[str, Any]:
    return {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "is_primary": contact.is_primary,
    }


def _commit_or_duplicate() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        # Two writers raced past the check; the unique constraint decided.
        raise InvalidInput(
            {"email": "Another client of this business already uses this email."}
        ) from exc


def create_client(actor: Actor, data: ClientData) -> Client:
    actor.require(Role.STAFF)
    if errors := _check(actor, data, None):
        raise InvalidInput(errors)
    client = Client(business_id=actor.business.id)
    db.session.add(client)
    _apply(actor, client, data)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.created",
        entity_type="client",
        entity_id=client.public_id,
        after=snapshot(client),
    )
    _commit_or_duplicate()
    return client


def update_client(actor: Actor, public_id: str, data: ClientData) -> Client:
    actor.require(Role.STAFF)
    client = get_client(actor, public_id)
    if errors := _check(actor, data, client):
        raise InvalidInput(errors)
    before = snapshot(client)
    _apply(actor, client, data)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.updated",
        entity_type="client",
        entity_id=client.public_id,
        before=before,
        after=snapshot(client),
    )
    _commit_or_duplicate()
    return client


def archive_client(actor: Actor, public_id: str) -> Client:
    """Archive hides a client from lists; clients are never hard-deleted."""
    return _set_archived(actor, public_id, archived=True)


def restore_client(actor: Actor, public_id: str) -> Client:
    return _set_archived(actor, public_id, archived=False)


def _set_archived(actor: Actor, public_id: str, *, archived: bool) -> Client:
    actor.require(Role.STAFF)
    client = get_client(actor, public_id)
    if (client.archived_at is not None) == archived:
        return client
    client.archived_at = utcnow() if archived else None
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.archived" if archived else "client.restored",
        entity_type="client",
        entity_id=client.public_id,
        before={"archived": not archived},
        after={"archived": archived},
    )
    db.session.commit()
    return client


@dataclass(frozen=True, slots=True)
class ClientFilter:
    q: str = ""
    tag: str = ""
    archived: bool = False


def search_statement(business_id: int, flt: ClientFilter) -> Select[Client]:
    """The list's query without ordering or paging; the bench runs the same SQL."""
    stmt = select(Client).where(Client.business_id == business_id)
    stmt = stmt.where(
        Client.archived_at.is_not(None) if flt.archived else Client.archived_at.is_(None)
    )
    term = flt.q.strip().lower()
    if term:
        like = f"%{_escape_like(term)}%"
        contact_match = exists().where(
            Contact.client_id == Client.id,
            or_(
                Contact.name.ilike(like, escape="\\"),
                Contact.email.like(like, escape="\\"),
            ),
        )
        stmt = stmt.where(
            or_(
                Client.sort_name.like(like, escape="\\"),
                Client.email.like(like, escape="\\"),
                contact_match,
            )
        )
    if flt.tag:
        stmt = stmt.where(Client.tags.any(Tag.name == flt.tag.strip().lower()))
    return stmt


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_clients(
    actor: Actor, flt: ClientFilter, cursor: str | None = None, limit: int = 50
) -> Page[Client]:
    stmt = search_statement(actor.business.id, flt)
    values = decode_cursor(cursor, 2) if cursor else None
    if values is not None and isinstance(values[0], str) and isinstance(values[1], int):
        name, last_id = values
        stmt = stmt.where(
            or_(Client.sort_name > name, and_(Client.sort_name == name, Client.id > last_id))
        )
    stmt = stmt.order_by(Client.sort_name, Client.id).limit(limit + 1)
    stmt = stmt.options(selectinload(Client.tags), selectinload(Client.contacts))
    rows = list(db.session.scalars(stmt))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].sort_name, rows[-1].id)
    return Page(rows, next_cursor)


def all_tags(actor: Actor) -> list[str]:
    stmt = select(Tag.name).where(Tag.business_id == actor.business.id).order_by(Tag.name)
    return list(db.session.scalars(stmt))
