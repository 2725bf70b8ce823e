"""Outgoing webhooks: the endpoints a business registers, the events we publish, and deliveries.

Every audit record of a change a developer cares about (``invoice.issued``, ``payment.recorded``…)
becomes a ``WebhookEvent`` in the same transaction, with one ``WebhookDelivery`` and one outbox
message for each enabled endpoint that listens to it. After commit the message goes to the
``webhooks`` queue (inline without Redis); the job in ``portal.jobs.webhooks`` makes one attempt and
schedules the next with backoff until three days have passed.

An event's body is ``{"id", "type", "timestamp", "sequence", "data"}``: ``sequence`` rises by one
with each event of the business, so a receiver can put events in order; every id in it is a
public id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, event, func, or_, select, update
from sqlalchemy.orm import Session

from integrations.webhooks import TargetRefused, check_url, new_secret
from portal.extensions import db
from portal.models import (
    AuditChainHead,
    AuditEvent,
    Business,
    Client,
    Document,
    OutboxMessage,
    Payment,
    Role,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from portal.models.base import new_public_id, utcnow
from portal.services import audit, outbox
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound
from portal.services.pagination import Page

log = logging.getLogger(__name__)

DELIVER = "webhooks.deliver"
DISABLED_EMAIL = "webhooks.disabled_email"
QUEUE = "webhooks"

EVENT_TYPES: dict[str, str] = {
    "invoice.created": "An invoice draft was created",
    "invoice.updated": "An invoice draft was changed",
    "invoice.deleted": "An invoice draft was deleted",
    "invoice.issued": "An invoice was issued (it has its number)",
    "invoice.sent": "An invoice was sent or marked sent",
    "invoice.paid": "An invoice was paid in full",
    "invoice.voided": "An invoice was voided",
    "invoice.written_off": "An invoice was written off",
    "payment.received": "A payment was recorded",
    "payment.refunded": "A payment was refunded",
    "payment.disputed": "A payment's dispute opened, changed or closed",
    "quote.created": "A quote draft was created",
    "quote.sent": "A quote was sent",
    "quote.accepted": "A quote was accepted",
    "quote.declined": "A quote was declined",
    "quote.expired": "A quote expired",
    "quote.converted": "A quote became an invoice",
    "client.created": "A client was added",
    "client.updated": "A client was changed",
    "client.archived": "A client was archived",
    "credit_note.issued": "A credit note was issued",
    "credit_note.refunded": "A credit note was paid back",
}
TEST_EVENT = "webhook.test"

# audit action -> the event it publishes (payment.recorded also publishes invoice.paid).
_ACTIONS: dict[str, str] = {
    "invoice.created": "invoice.created",
    "invoice.updated": "invoice.updated",
    "invoice.deleted": "invoice.deleted",
    "invoice.issued": "invoice.issued",
    "invoice.sent": "invoice.sent",
    "invoice.emailed": "invoice.sent",
    "invoice.voided": "invoice.voided",
    "invoice.written_off": "invoice.written_off",
    "payment.recorded": "payment.received",
    "payment.refunded": "payment.refunded",
    "payment.dispute_opened": "payment.disputed",
    "payment.dispute_updated": "payment.disputed",
    "payment.dispute_closed": "payment.disputed",
    "quote.created": "quote.created",
    "quote.sent": "quote.sent",
    "quote.emailed": "quote.sent",
    "quote.accepted": "quote.accepted",
    "quote.declined": "quote.declined",
    "quote.expired": "quote.expired",
    "quote.converted": "quote.converted",
    "client.created": "client.created",
    "client.updated": "client.updated",
    "client.archived": "client.archived",
    "credit_note.issued": "credit_note.issued",
    "credit_note.refunded": "credit_note.refunded",
}

# Backoff after the 1st, 2nd, … failed attempt; then every 12 hours until RETRY_WINDOW is over.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)
RETRY_WINDOW = timedelta(days=3)
# Deliveries in a row that failed for good (three days each) before the endpoint is switched off.
DISABLE_AFTER = 5
MAX_OVERLAP_HOURS = 7 * 24


@dataclass(frozen=True, slots=True)
class EndpointData:
    url: str
    description: str = ""
    events: tuple[str, ...] = ()  # empty: every event
    enabled: bool | None = None  # None: leave as it is (on for a new endpoint)


# ----------------------------------------------------------------------------- publishing


def _document(doc: Document) -> dict[str, Any]:
    data: dict[str, Any] = {
        "object": doc.kind.value,
        "id": doc.public_id,
        "number": doc.number,
        "status": doc.status,
        "client": doc.client.public_id if doc.client else None,
        "title": doc.title,
        "currency": doc.currency,
        "issue_date": doc.issue_date,
        "due_date": doc.due_date,
        "total_minor": doc.total_minor,
        "tax_minor": doc.tax_minor,
        "amount_due_minor": doc.amount_due_minor,
        "balance_minor": doc.balance_minor,
        "po_number": doc.po_number,
    }
    if doc.valid_until is not None:
        data["valid_until"] = doc.valid_until
    for name, ref in (
        ("invoice", doc.credited_invoice_id),
        ("source_quote", doc.source_quote_id),
    ):
        if ref is not None:
            other = db.session.get(Document, ref)
            data[name] = other.public_id if other is not None else None
    return data


def _client(client: Client) -> dict[str, Any]:
    return {
        "object": "client",
        "id": client.public_id,
        "name": client.name,
        "email": client.email,
        "currency": client.currency,
        "archived": client.archived_at is not None,
    }


def _payment(payment: Payment) -> dict[str, Any]:
    invoices = {
        a.document_id: db.session.scalar(
            select(Document.public_id).where(Document.id == a.document_id)
        )
        for a in payment.allocations
    }
    return {
        "object": "payment",
        "id": payment.public_id,
        "client": payment.client.public_id,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "method": payment.method,
        "reference": payment.reference,
        "received_on": payment.received_on,
        "provider": payment.provider,
        "allocations": [
            {"invoice": invoices[a.document_id], "amount_minor": a.amount_minor}
            for a in payment.allocations
        ],
        "refunded_minor": sum(r.amount_minor for r in payment.refunds),
    }


_MODELS: dict[str, tuple[type[Any], Callable[[Any], dict[str, Any]]]] = {
    "invoice": (Document, _document),
    "quote": (Document, _document),
    "credit_note": (Document, _document),
    "client": (Client, _client),
    "payment": (Payment, _payment),
}


def snapshot(business: Business, entity_type: str, public_id: str) -> dict[str, Any]:
    """The entity as a receiver sees it: public ids only."""
    model, describe = _MODELS[entity_type]
    row = db.session.scalar(
        select(model).where(model.public_id == public_id, model.business_id == business.id)
    )
    if row is None:
        return {"object": entity_type, "id": public_id}
    return dict(audit.jsonable(describe(row)))


def _next_sequence(business: Business) -> int:
    """One more than the business's last event. Callers hold the business's audit chain head
    (``audit.record`` locks it), so two transactions never take the same number."""
    last = db.session.scalar(
        select(WebhookEvent.data)
        .where(WebhookEvent.business_id == business.id)
        .order_by(WebhookEvent.id.desc())
        .limit(1)
    )
    return int((last or {}).get("sequence", 0)) + 1


def _lock_chain(business: Business) -> None:
    db.session.execute(
        select(AuditChainHead)
        .where(AuditChainHead.chain == audit.chain_for(business))
        .with_for_update()
    ).scalar_one_or_none()


def _new_event(business: Business, type_: str, data: dict[str, Any]) -> WebhookEvent:
    now = utcnow()
    public_id = new_public_id()
    body = {
        "id": public_id,
        "type": type_,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "sequence": _next_sequence(business),
        "data": data,
    }
    row = WebhookEvent(
        public_id=public_id, business_id=business.id, type=type_, data=body, created_at=now
    )
    db.session.add(row)
    db.session.flush()
    return row


def _fan_out(business: Business, row: WebhookEvent, endpoints: Iterable[WebhookEndpoint]) -> None:
    for endpoint in endpoints:
        if endpoint.events and row.type not in endpoint.events:
            continue
        _new_delivery(business, endpoint, row)


def _new_delivery(
    business: Business, endpoint: WebhookEndpoint, row: WebhookEvent
) -> WebhookDelivery:
    now = utcnow()
    delivery = WebhookDelivery(
        business_id=business.id,
        endpoint_id=endpoint.id,
        event_id=row.id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(delivery)
    db.session.flush()
    _queue_attempt(business, delivery)
    return delivery


def _queue_attempt(business: Business | None, delivery: WebhookDelivery) -> OutboxMessage:
    """The outbox message for the delivery's next attempt, dispatched after commit."""
    attempt = delivery.attempts + 1
    message = outbox.add(
        business,
        DELIVER,
        f"webhook-{delivery.public_id}-{attempt}",
        {"delivery_id": delivery.id, "attempt": attempt},
        queue=QUEUE,
    )
    remember_for_dispatch(message)
    return message


def publish(business: Business | None, entry: AuditEvent) -> None:
    """``audit.LISTENERS``: turn an audit record into events and deliveries, same transaction."""
    type_ = _ACTIONS.get(entry.action)
    if business is None or type_ is None or entry.entity_type not in _MODELS:
        return
    data = snapshot(business, entry.entity_type, entry.entity_id)
    if type_ == "payment.disputed" and entry.after:
        data["dispute"] = {k: entry.after.get(k) for k in ("dispute", "status", "reason")}
    events = [(type_, data)]
    if type_ == "payment.received":
        for invoice_id in (entry.after or {}).get("allocations") or {}:
            invoice = snapshot(business, "invoice", invoice_id)
            if invoice.get("status") == "paid":
                events.append(("invoice.paid", invoice))
    endpoints = list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.business_id == business.id, WebhookEndpoint.enabled.is_(True))
            .order_by(WebhookEndpoint.id)
        )
    )
    for name, payload in events:
        _fan_out(business, _new_event(business, name, payload), endpoints)


audit.LISTENERS.append(publish)


# ----------------------------------------------------------------------------- after commit

_ADDED = "webhooks.added"
_COMMITTED = "webhooks.committed"


def remember_for_dispatch(message: OutboxMessage) -> None:
    """Hand ``message`` to the workers once the transaction that added it commits."""
    db.session.info.setdefault(_ADDED, []).append(message)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    added = session.info.pop(_ADDED, None)
    if added:
        # No SQL may run here; the ids were assigned by the flush before the commit.
        session.info.setdefault(_COMMITTED, []).extend(m.id for m in added)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_ADDED, None)


def dispatch_committed() -> int:
    """Dispatch every webhook message committed in this session so far; returns how many.

    Called after each request and by the jobs; what it misses (a crash, a job's commit) the
    outbox sweep hands over within a minute.
    """
    done = 0
    while ids := db.session.info.pop(_COMMITTED, None):
        for message_id in ids:
            try:
                outbox.dispatch(message_id)
            except Exception:
                db.session.rollback()
                log.exception("webhook outbox %s stays pending", message_id)
            done += 1
    return done


# ----------------------------------------------------------------------------- endpoints


def _allow_loopback() -> bool:
    return bool(current_app.config.get("WEBHOOKS_ALLOW_LOOPBACK"))


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or None."""
    url = url.strip()
    if not url:
        return "Enter the URL that will receive the events."
    if len(url) > 2000:
        return "Keep the URL under 2000 characters."
    try:
        target = check_url(url, allow_loopback=_allow_loopback())
    except TargetRefused as error:
        return str(error)
    if target.scheme != "https" and not (
        _allow_loopback() and target.address in {"127.0.0.1", "::1"}
    ):
        return "Use an https:// URL."
    return None


def _check(data: EndpointData) -> None:
    errors: dict[str, str] = {}
    if problem := url_problem(data.url):
        errors["url"] = problem
    if len(data.description.strip()) > 200:
        errors["description"] = "Keep the description under 200 characters."
    if unknown := [e for e in data.events if e not in EVENT_TYPES]:
        errors["events"] = f"Unknown events: {', '.join(unknown)}."
    if errors:
        raise InvalidInput(errors)


def _describe(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # Never the secret.
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events or []),
        "enabled": endpoint.enabled,
    }


def _audit(
    actor: Actor | None,
    business: Business,
    action: str,
    endpoint: WebhookEndpoint,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit.record(
        business=business,
        actor=actor.user if actor is not None else None,
        action=action,
        entity_type="webhook_endpoint",
        entity_id=endpoint.public_id,
        before=before,
        after=after,
    )


def list_endpoints(actor: Actor) -> list[WebhookEndpoint]:
    actor.require(Role.ADMIN)
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.business_id == actor.business.id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    )


def get_endpoint(actor: Actor, public_id: str) -> WebhookEndpoint:
    actor.require(Role.ADMIN)
    endpoint = db.session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.public_id == public_id,
            WebhookEndpoint.business_id == actor.business.id,
        )
    )
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def create_endpoint(actor: Actor, data: EndpointData) -> WebhookEndpoint:
    """A new endpoint with a new secret (``endpoint.secret``: show it to the person)."""
    actor.require(Role.ADMIN)
    _check(data)
    endpoint = WebhookEndpoint(
        business_id=actor.business.id,
        url=data.url.strip(),
        description=data.description.strip(),
        events=[e for e in EVENT_TYPES if e in data.events],
        secret=new_secret(),
        enabled=True if data.enabled is None else data.enabled,
    )
    db.session.add(endpoint)
    db.session.flush()
    _audit(actor, actor.business, "webhook_endpoint.created", endpoint, after=_describe(endpoint))
    db.session.commit()
    return endpoint


def update_endpoint(actor: Actor, public_id: str, data: EndpointData) -> WebhookEndpoint:
    endpoint = get_endpoint(actor, public_id)
    _check(data)
    before = _describe(endpoint)
    endpoint.url = data.url.strip()
    endpoint.description = data.description.strip()
    endpoint.events = [e for e in EVENT_TYPES if e in data.events]
    if data.enabled is not None and data.enabled != endpoint.enabled:
        _switch(endpoint, data.enabled)
    _audit(actor, actor.business, "webhook_endpoint.updated", endpoint, before, _describe(endpoint))
    db.session.commit()
    return endpoint


def _switch(endpoint: WebhookEndpoint, enabled: bool) -> None:
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_reason = ""
        endpoint.consecutive_failures = 0
    else:
        endpoint.disabled_reason = endpoint.disabled_reason or "Switched off by a person."
        _give_up_pending(endpoint, "The endpoint was switched off.")


def enable_endpoint(actor: Actor, public_id: str) -> WebhookEndpoint:
    """Switch a disabled endpoint on again (what failed meanwhile can be resent)."""
    endpoint = get_endpoint(actor, public_id)
    if not endpoint.enabled:
        before = _describe(endpoint)
        _switch(endpoint, True)
        _audit(
            actor,
            actor.business,
            "webhook_endpoint.enabled",
            endpoint,
            before,
            _describe(endpoint),
        )
        db.session.commit()
    return endpoint


def delete_endpoint(actor: Actor, public_id: str) -> None:
    endpoint = get_endpoint(actor, public_id)
    _audit(actor, actor.business, "webhook_endpoint.deleted", endpoint, before=_describe(endpoint))
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.commit()


def rotate_secret(actor: Actor, public_id: str, overlap_hours: int = 24) -> WebhookEndpoint:
    """A new secret; the old one also signs for ``overlap_hours`` (0: stops at once)."""
    endpoint = get_endpoint(actor, public_id)
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(
            {"overlap_hours": f"Choose between 0 and {MAX_OVERLAP_HOURS} hours of overlap."}
        )
    now = utcnow()
    if overlap_hours:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(hours=overlap_hours)
    else:
        endpoint.previous_secret = ""
        endpoint.previous_secret_expires_at = None
    endpoint.secret = new_secret()
    _audit(
        actor,
        actor.business,
        "webhook_endpoint.secret_rotated",
        endpoint,
        after={"overlap_hours": overlap_hours},
    )
    db.session.commit()
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The secrets that sign a message now: the current one, and the old one while it overlaps."""
    now = now or utcnow()
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        found.append(endpoint.previous_secret)
    return found


def masked_url(endpoint: WebhookEndpoint) -> str:
    parts = urlsplit(endpoint.url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# ----------------------------------------------------------------------------- events


def list_events(
    actor: Actor, after: str | None = None, limit: int = 50, type: str | None = None
) -> Page[WebhookEvent]:
    """The business's events, newest first; ``after`` is the id of the last event already seen."""
    actor.require(Role.ADMIN)
    limit = max(1, min(limit, 100))
    stmt = select(WebhookEvent).where(WebhookEvent.business_id == actor.business.id)
    if type:
        stmt = stmt.where(WebhookEvent.type == type)
    if after:
        cursor = get_event(actor, after)
        stmt = stmt.where(WebhookEvent.id < cursor.id)
    rows = list(db.session.scalars(stmt.order_by(WebhookEvent.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].public_id if more and rows else None)


def get_event(actor: Actor, public_id: str) -> WebhookEvent:
    actor.require(Role.ADMIN)
    row = db.session.scalar(
        select(WebhookEvent).where(
            WebhookEvent.public_id == public_id, WebhookEvent.business_id == actor.business.id
        )
    )
    if row is None:
        raise NotFound("No such event.")
    return row


def body_of(row: WebhookEvent) -> str:
    """The exact JSON text every delivery of the event sends (and signs)."""
    return json.dumps(row.data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


# ----------------------------------------------------------------------------- deliveries


def deliveries(
    actor: Actor,
    endpoint_id: str,
    status: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> Page[WebhookDelivery]:
    """An endpoint's deliveries, newest first; ``before``: the id of the last one seen."""
    endpoint = get_endpoint(actor, endpoint_id)
    limit = max(1, min(limit, 200))
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if before:
        stmt = stmt.where(WebhookDelivery.id < get_delivery(actor, before).id)
    rows = list(db.session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].public_id if more and rows else None)


def get_delivery(actor: Actor, public_id: str) -> WebhookDelivery:
    actor.require(Role.ADMIN)
    delivery = db.session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.public_id == public_id,
            WebhookDelivery.business_id == actor.business.id,
        )
    )
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery


def event_of(delivery: WebhookDelivery) -> WebhookEvent:
    row = db.session.get(WebhookEvent, delivery.event_id)
    if row is None:  # the foreign key cascades: cannot happen
        raise NotFound("No such event.")
    return row


def attempts_of(delivery: WebhookDelivery) -> list[dict[str, Any]]:
    """Each attempt's outcome, oldest first, as the job recorded it."""
    results = db.session.scalars(
        select(OutboxMessage.result)
        .where(
            OutboxMessage.kind == DELIVER,
            OutboxMessage.key.like(f"webhook-{delivery.public_id}-%"),
            OutboxMessage.status == "done",
        )
        .order_by(OutboxMessage.id)
    )
    return [dict(r) for r in results if r and r.get("attempt")]


def resend(actor: Actor, delivery_id: str) -> WebhookDelivery:
    """Send the delivery's event to its endpoint again, as a new delivery (same ``webhook-id``,
    so a receiver that saw it already knows it)."""
    old = get_delivery(actor, delivery_id)
    endpoint = db.session.get(WebhookEndpoint, old.endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    if not endpoint.enabled:
        raise InvalidInput({"endpoint": "Enable the endpoint before resending to it."})
    delivery = _new_delivery(actor.business, endpoint, event_of(old))
    _audit(
        actor,
        actor.business,
        "webhook_endpoint.resent",
        endpoint,
        after={"event": event_of(old).public_id, "delivery": delivery.public_id},
    )
    db.session.commit()
    return delivery


def send_test(actor: Actor, endpoint_id: str) -> WebhookDelivery:
    """Publish a ``webhook.test`` event to this endpoint alone."""
    endpoint = get_endpoint(actor, endpoint_id)
    if not endpoint.enabled:
        raise InvalidInput({"endpoint": "Enable the endpoint before sending it a test."})
    _audit(actor, actor.business, "webhook_endpoint.tested", endpoint)
    _lock_chain(actor.business)
    row = _new_event(
        actor.business,
        TEST_EVENT,
        {
            "object": "webhook_endpoint",
            "id": endpoint.public_id,
            "message": "Hello from Invoice Lite",
        },
    )
    delivery = _new_delivery(actor.business, endpoint, row)
    db.session.commit()
    return delivery


# ----------------------------------------------------------------------------- the schedule


def next_attempt_at(delivery: WebhookDelivery, failed_at: datetime) -> datetime | None:
    """When to try again after the ``delivery.attempts``-th attempt failed; None: give up."""
    n = delivery.attempts
    wait = BACKOFF[n - 1] if n <= len(BACKOFF) else BACKOFF[-1]
    due = failed_at + wait
    return due if due <= delivery.created_at + RETRY_WINDOW else None


def _give_up_pending(endpoint: WebhookEndpoint, reason: str) -> None:
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="failed", next_attempt_at=None, error=reason)
    )


def disable_for_failures(endpoint: WebhookEndpoint, reason: str, now: datetime) -> OutboxMessage:
    """Switch the endpoint off, tell the owner by email (after commit), keep why."""
    business = db.session.get(Business, endpoint.business_id)
    if business is None:
        raise NotFound("No such business.")
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    _give_up_pending(endpoint, "The endpoint was disabled.")
    _audit(
        None,
        business,
        "webhook_endpoint.disabled",
        endpoint,
        after={"enabled": False, "reason": reason},
    )
    message = outbox.add(
        business,
        DISABLED_EMAIL,
        f"webhook-disabled-{endpoint.public_id}-{int(now.timestamp())}",
        {"endpoint_id": endpoint.id, "reason": reason},
        queue="email",
    )
    remember_for_dispatch(message)
    return message


def hand_over_due(now: datetime | None = None, limit: int = 500) -> int:
    """The scheduler's task: queue the next attempt of every delivery that is due."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(WebhookDelivery)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )
    for delivery in due:
        business = db.session.get(Business, delivery.business_id)
        _queue_attempt(business, delivery)
    db.session.commit()
    dispatch_committed()
    return len(due)


def purge_bodies(older_than: timedelta = timedelta(days=30), now: datetime | None = None) -> int:
    """Drop the request and answer bodies of finished deliveries older than ``older_than``."""
    cutoff = (now or utcnow()) - older_than
    result = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.created_at < cutoff,
            WebhookDelivery.status != "pending",
            or_(WebhookDelivery.request_body != "", WebhookDelivery.response_body != ""),
        )
        .values(request_body="", response_body="")
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def counts(actor: Actor) -> dict[int, dict[str, int]]:
    """Per endpoint id: deliveries by status, for the list page."""
    actor.require(Role.ADMIN)
    rows = db.session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.business_id == actor.business.id)
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
    )
    found: dict[int, dict[str, int]] = {}
    for endpoint_id, status, n in rows:
        found.setdefault(endpoint_id, {})[status] = n
    return found
