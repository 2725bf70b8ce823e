"""A client's personal data: everything held about them as a ZIP, erased on request while the
accounting records stay, tracking switched off for them, and old tracking data purged.

What stays after an erasure, and what an issued invoice's PDF shows then, is in docs/privacy.md.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, Text, cast, delete, false, func, or_, select, update
from sqlalchemy.orm import selectinload

from integrations import envelope as env
from portal.billing.status import OPEN_STATUSES
from portal.documents.cache import document_pdf
from portal.extensions import db
from portal.jobs.context import with_app
from portal.models import (
    AuditEvent,
    Business,
    Checkout,
    Client,
    Delivery,
    Document,
    DocumentKind,
    IdempotencyRecord,
    Job,
    Membership,
    NotificationChannel,
    OutboxMessage,
    Payment,
    PaymentAllocation,
    PortalLink,
    ProviderEvent,
    RecurringSchedule,
    RenderedFile,
    Role,
    SavedPaymentMethod,
    User,
    WebhookDelivery,
    WebhookEvent,
)
from portal.models.base import utcnow
from portal.services import audit, clients, envelopes, jobs
from portal.services import delivery as email_delivery
from portal.services.actors import Actor, system_actor
from portal.services.errors import InvalidInput

ERASED_NAME = "Erased client"
MAX_RETENTION_DAYS = 3650
# Up to this many PDFs the ZIP is made while the person waits; more go to a job with progress.
INLINE_EXPORT_LIMIT = 25
EXPORT_JOB = "client-export"

README = """\
Everything {business} holds about the client {name} ({client_id}),
exported on {when} (UTC).

client.json
    A ShareEnvelope (version 1, type "batch"; schema: share-envelope-v1.json) holding
    the client with its contacts, addresses, tags and notes, every issued invoice with its
    lines, taxes and totals, and every payment received from the client with what it paid.
documents/
    The PDF of every issued document (invoices, credit notes, quotes), as the client got it.

Not included: the audit log (the business's own record of who changed what) and data
about how the emails were delivered.
"""


# --- export ---------------------------------------------------------------------------


def issued_documents(client: Client) -> list[Document]:
    """Every document of the client with a number: drafts and recurring templates have none."""
    return list(
        db.session.scalars(
            select(Document)
            .where(
                Document.client_id == client.id,
                Document.business_id == client.business_id,
                Document.kind != DocumentKind.TEMPLATE,
                Document.status != "draft",
                Document.number.is_not(None),
            )
            .order_by(Document.issue_date, Document.id)
        )
    )


def client_envelope(actor: Actor, client: Client) -> env.Envelope:
    """One batch envelope: the client, their issued invoices and the payments they made."""
    items: list[dict[str, Any]] = [{"type": "client", "payload": envelopes.client_payload(client)}]
    for doc in issued_documents(client):
        if doc.kind is DocumentKind.INVOICE:
            items.append({"type": "invoice", "payload": envelopes.invoice_payload(doc)})
    paid = list(
        db.session.scalars(
            select(Payment)
            .where(Payment.business_id == actor.business.id, Payment.client_id == client.id)
            .options(selectinload(Payment.allocations).selectinload(PaymentAllocation.document))
            .order_by(Payment.received_on, Payment.id)
        )
    )
    if paid:
        payments = [envelopes.payment_payload(p) for p in paid]
        items.append({"type": "payments", "payload": {"payments": payments}})
    return env.build_envelope(
        "batch",
        {"items": items},
        system=envelopes.SYSTEM,
        business_id=actor.business.public_id,
        source_extra={"business_name": actor.business.legal_name},
    )


def export_client(
    actor: Actor,
    public_id: str,
    out: IO[bytes],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write the client's ZIP to ``out``: client.json, documents/*.pdf, README.txt."""
    actor.require(Role.ACCOUNTANT)
    client = clients.get_client(actor, public_id)
    docs = issued_documents(client)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            README.format(
                business=actor.business.legal_name,
                name=client.name,
                client_id=client.public_id,
                when=utcnow().strftime("%Y-%m-%d %H:%M"),
            ),
        )
        archive.writestr(
            "client.json", json.dumps(client_envelope(actor, client), indent=1, ensure_ascii=False)
        )
        for done, doc in enumerate(docs, start=1):
            pdf = document_pdf(doc, actor.business)
            archive.writestr(f"documents/{pdf.filename}", pdf.data)
            if progress is not None:
                progress(done, len(docs))


def export_client_bytes(actor: Actor, public_id: str) -> bytes:
    buffer = io.BytesIO()
    export_client(actor, public_id, buffer)
    return buffer.getvalue()


def export_needs_job(actor: Actor, public_id: str) -> bool:
    return len(issued_documents(clients.get_client(actor, public_id))) > INLINE_EXPORT_LIMIT


def export_path(job: Job) -> Path:
    folder = Path(current_app.instance_path) / "exports" / str(job.business_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"client-{job.public_id}.zip"


def start_export(actor: Actor, public_id: str) -> Job:
    actor.require(Role.ACCOUNTANT)
    client = clients.get_client(actor, public_id)
    total = len(issued_documents(client))
    return jobs.start_job(
        actor, EXPORT_JOB, {"client_id": client.public_id, "user_id": actor.user.id}, total=total
    )


@with_app
def export_client_job(job_id: int) -> str:
    """The ZIP written to the instance's export folder; progress is the PDFs written."""
    job = db.session.get(Job, job_id)
    if job is None:
        return ""
    if job.status == "done":
        return job.result_path
    business = db.session.get_one(Business, job.business_id)
    actor = system_actor(business)
    path = export_path(job)
    partial = path.with_suffix(".part")
    try:
        jobs.advance(job_id, 0)
        with partial.open("wb") as out:
            export_client(
                actor,
                str(job.params["client_id"]),
                out,
                progress=lambda done, total: jobs.advance(job_id, done, total),
            )
        partial.replace(path)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        jobs.fail(job_id, f"{type(exc).__name__}: {exc}")
        raise
    jobs.finish(job_id, str(path))
    return str(path)


# --- erasure --------------------------------------------------------------------------


def erased_name(client: Client) -> str:
    return f"{ERASED_NAME} {client.public_id[-8:]}"


def open_invoices(client: Client) -> int:
    return int(
        db.session.scalar(
            select(func.count(Document.id)).where(
                Document.client_id == client.id,
                Document.kind == DocumentKind.INVOICE,
                Document.status.in_([s.value for s in OPEN_STATUSES]),
                Document.balance_minor > 0,
            )
        )
        or 0
    )


_CLEARED = (
    "phone",
    "tax_id",
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


def _document_ids(client: Client) -> Select[Any]:
    return select(Document.id).where(Document.client_id == client.id)


def erase_client(actor: Actor, public_id: str, confirmation: str, force_reason: str = "") -> Client:
    """Erase the client's personal data for good; the invoices keep their numbers and amounts.

    ``confirmation`` must be the client's name as shown. A client with open invoices is erased
    only with a ``force_reason``, which the audit event keeps. Copies of the client's data kept
    beside the client row (webhook events and deliveries, outbox messages, emails' recipients,
    stored API answers, provider events, export files) are anonymised too; see docs/privacy.md."""
    actor.require(Role.ADMIN)
    client = clients.get_client(actor, public_id)
    if client.erased_at is not None:
        raise InvalidInput({"confirmation": "This client's personal data is already erased."})
    if confirmation.strip() != client.name.strip():
        raise InvalidInput(
            {"confirmation": "Type the client's name exactly as shown to confirm the erasure."}
        )
    still_open = open_invoices(client)
    if still_open and not force_reason.strip():
        raise InvalidInput(
            {
                "force_reason": f"This client has {still_open} open invoice"
                f"{'' if still_open == 1 else 's'}. Settle them first, or give the reason "
                "to erase anyway."
            }
        )
    # Read before anything is cleared: what the client's data looked like, wherever copied.
    traces = _traces(actor.business, client)
    now = utcnow()
    for name in _CLEARED:
        setattr(client, name, "")
    client.name = erased_name(client)
    client.sort_name = client.name.lower()
    client.email = None
    client.custom_fields = {}
    client.tags = []
    client.contacts.clear()
    client.tracking_opt_out = True
    client.reminders_paused = True
    client.archived_at = client.archived_at or now
    client.erased_at = now
    docs = _document_ids(client)
    # Links, cards, recurring charges: nothing can reach the client any more.
    db.session.execute(
        update(PortalLink)
        .where(PortalLink.client_id == client.id, PortalLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.execute(
        update(PortalLink).where(PortalLink.client_id == client.id).values(last_used_at=None)
    )
    cards = select(SavedPaymentMethod.id).where(SavedPaymentMethod.client_id == client.id)
    db.session.execute(
        update(RecurringSchedule)
        .where(RecurringSchedule.client_id == client.id)
        .values(active=False, saved_method_id=None, next_run_on=None)
    )
    db.session.execute(
        update(SavedPaymentMethod)
        .where(SavedPaymentMethod.id.in_(cards))
        .values(removed_at=func.coalesce(SavedPaymentMethod.removed_at, now), label="")
    )
    # Tracking data, and the addresses each email went to.
    db.session.execute(update(Document).where(Document.id.in_(docs)).values(viewed_at=None))
    db.session.execute(
        update(Delivery)
        .where(Delivery.document_id.in_(docs))
        .values(opened_at=None, to=[], cc=[], error="")
    )
    _cancel_emails(actor.business, client)
    # Stored PDFs print the old name and address; the next download renders them anew.
    db.session.execute(
        delete(RenderedFile).where(
            or_(
                RenderedFile.document_id.in_(docs),
                RenderedFile.filename.contains(client.public_id, autoescape=True),
            )
        )
    )
    _anonymise_copies(actor.business, client, traces)
    exports = _forget_exports(actor.business, client)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.erased",
        entity_type="client",
        entity_id=client.public_id,
        after={"open_invoices": still_open, "reason": force_reason.strip()},
    )
    db.session.commit()
    # Files last: a failed commit leaves them, and a download of them is refused from now on.
    for path in exports:
        path.unlink(missing_ok=True)
    return client


# --- erasure: copies of the client's data beside the client row ------------------------------

REDACTED = "[erased]"
# Shorter values (initials, a two-letter name) would be found inside unrelated words.
MIN_TRACE = 3
# What a client snapshot in the audit log (``clients.snapshot``) holds that names the client.
_SNAPSHOT_TRACES = (
    "email",
    "phone",
    "tax_id",
    "billing_line1",
    "billing_line2",
    "shipping_line1",
    "shipping_line2",
)
_CONTACT_TRACES = ("name", "email", "phone")
# Logs and work items beside the accounting records that may hold a copy of a client's data
# in free text, and the text and JSON columns to look in. Webhook events and their deliveries
# are cleaned by what they are about (``_anonymise_webhooks``); the audit log is not cleaned:
# it is hash-chained evidence.
_LOGS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (OutboxMessage, ("payload", "result", "last_error")),
    (Delivery, ("to", "cc", "subject", "error")),
    (IdempotencyRecord, ("headers", "body")),
    (ProviderEvent, ("body", "note")),
    (Checkout, ("failure_message",)),
    (NotificationChannel, ("last_error",)),
    (Job, ("error",)),
)
# Export jobs whose file may print the client (portal/jobs/exports.py, this module).
_INVOICES_ZIP = "invoices-zip"
_REPORT_EXPORT = "report-export"
CANCELLED = "Not sent: the client's personal data was erased."


class Traces:
    """The client's personal data as copies of it read, and what replaces each value there:
    the erased name for the client's names, ``[erased]`` for everything else."""

    def __init__(self, replacements: dict[str, str]) -> None:
        self.replacements = replacements
        longest_first = sorted(replacements, key=len, reverse=True)
        alternatives = "|".join(re.escape(value) for value in longest_first)
        self.pattern = (
            re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if replacements else None
        )

    def found_in(self, column: Any) -> ColumnElement[bool]:
        """SQL that picks the rows worth reading: any value, as typed or JSON-escaped."""
        needles = sorted(
            {n for value in self.replacements for n in (value, json.dumps(value)[1:-1].lower())}
        )
        as_text = func.lower(cast(column, Text))
        return or_(false(), *(as_text.contains(n, autoescape=True) for n in needles))

    def _replace(self, match: re.Match[str]) -> str:
        return self.replacements.get(match.group(0).lower(), REDACTED)

    def scrub(self, value: Any) -> Any:
        """``value`` with every trace replaced: strings, and lists and dicts of them."""
        if isinstance(value, str):
            return self.pattern.sub(self._replace, value) if self.pattern else value
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        return value

    def scrub_any(self, value: Any) -> Any:
        """A column's value: text (which may be a JSON document) or JSON."""
        return self.scrub_text(value) if isinstance(value, str) else self.scrub(value)

    def scrub_text(self, value: str) -> str:
        """Text that may be a JSON document (a stored body): escaped characters are found too,
        and the document stays valid JSON."""
        if value[:1] in ("{", "["):
            try:
                parsed = json.loads(value)
            except ValueError:
                pass
            else:
                cleaned = self.scrub(parsed)
                return value if cleaned == parsed else json.dumps(cleaned, ensure_ascii=False)
        return str(self.scrub(value))


def _traces(business: Business, client: Client) -> Traces:
    """Every name, address, email and phone number the client has had (the audit log remembers
    the earlier ones), the names typed when accepting its quotes, and the addresses its emails
    went to; never a member's own email or the business's own name."""
    found: dict[str, str] = {}

    def add(value: Any, replacement: str = REDACTED) -> None:
        if isinstance(value, str) and len(value.strip()) >= MIN_TRACE:
            found.setdefault(value.strip().lower(), replacement)

    def add_snapshot(snapshot: Any) -> None:
        if not isinstance(snapshot, dict):
            return
        add(snapshot.get("name"), erased_name(client))
        for name in _SNAPSHOT_TRACES:
            add(snapshot.get(name))
        for contact in snapshot.get("contacts") or []:
            for name in _CONTACT_TRACES:
                add(contact.get(name) if isinstance(contact, dict) else None)

    add_snapshot(clients.snapshot(client))
    ids = select(Document.public_id).where(Document.client_id == client.id)
    events = db.session.execute(
        select(AuditEvent.action, AuditEvent.before, AuditEvent.after).where(
            AuditEvent.business_id == business.id,
            or_(
                (AuditEvent.entity_type == "client") & (AuditEvent.entity_id == client.public_id),
                AuditEvent.entity_id.in_(ids)
                & or_(AuditEvent.action == "quote.accepted", AuditEvent.action.like("%.emailed")),
            ),
        )
    )
    for action, before, after in events:
        if action == "quote.accepted":
            add((after or {}).get("accepted_by"))
        elif action.endswith(".emailed"):
            for address in [*(after or {}).get("to", []), *(after or {}).get("cc", [])]:
                add(address)
        else:
            add_snapshot(before)
            add_snapshot(after)
    sent_to = db.session.execute(
        select(Delivery.to, Delivery.cc).where(Delivery.document_id.in_(_document_ids(client)))
    )
    for to, cc in sent_to:
        for address in [*(to or []), *(cc or [])]:
            add(address)
    members = db.session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.business_id == business.id)
    )
    for email in members:
        found.pop(email.strip().lower(), None)
    # A client named like the business ("Acme" of "Acme Ltd") would erase the business's own
    # name from every subject and message.
    own = business.legal_name.lower()
    for value in [v for v in found if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", own)]:
        del found[value]
    return Traces(found)


def _cancel_emails(business: Business, client: Client) -> None:
    """The client's emails still waiting are not sent, and the personal message typed for each
    email to the client is dropped from its outbox message."""
    deliveries = set(
        db.session.scalars(
            select(Delivery.id).where(Delivery.document_id.in_(_document_ids(client)))
        )
    )
    if not deliveries:
        return
    messages = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.status).where(
            OutboxMessage.business_id == business.id,
            OutboxMessage.kind == email_delivery.KIND,
        )
    )
    for message_id, payload, status in messages:
        if (payload or {}).get("delivery_id") not in deliveries:
            continue
        values: dict[str, Any] = {"payload": {**payload, "message": ""}}
        if status in ("pending", "queued"):
            values |= {"status": "done", "done_at": utcnow(), "result": {"skipped": CANCELLED}}
        db.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(values)
        )
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(deliveries), Delivery.status == "queued")
        .values(status="failed", error=CANCELLED)
    )


def _anonymise_copies(business: Business, client: Client, traces: Traces) -> None:
    _anonymise_webhooks(business, client, traces)
    if traces.pattern is None:
        return
    for model, columns in _LOGS:
        rows = db.session.execute(
            select(model.id, *(getattr(model, name) for name in columns)).where(
                model.business_id == business.id,
                or_(*(traces.found_in(getattr(model, name)) for name in columns)),
            )
        )
        for row_id, *values in rows:
            old = dict(zip(columns, values, strict=True))
            new = {name: traces.scrub_any(value) for name, value in old.items()}
            if model is Delivery:  # an address list names people, not "[erased]"
                for name in ("to", "cc"):
                    new[name] = [a for a in new[name] or [] if a != REDACTED]
            _update(model, row_id, old, new)


def _anonymise_webhooks(business: Business, client: Client, traces: Traces) -> None:
    """Every event about the client (its own, its documents' and payments', which name it by
    its id) with the client's data replaced; a client event shows the erased client. Each
    delivery of a changed event drops the body it sent (the 30-day purge would too: a signed
    body with changes in it proves nothing) and has the client's data replaced in the answer."""
    about = cast(WebhookEvent.data, Text).contains(client.public_id, autoescape=True)
    changed = []
    for row_id, data in db.session.execute(
        select(WebhookEvent.id, WebhookEvent.data).where(
            WebhookEvent.business_id == business.id, about
        )
    ):
        if _update(WebhookEvent, row_id, {"data": data}, {"data": _erased(data, client, traces)}):
            changed.append(row_id)
    columns = ("request_headers", "response_body", "error")
    for row_id, *values in db.session.execute(
        select(WebhookDelivery.id, *(getattr(WebhookDelivery, name) for name in columns)).where(
            WebhookDelivery.event_id.in_(changed)
        )
    ):
        old = dict(zip(columns, values, strict=True))
        new = {name: traces.scrub_any(value) for name, value in old.items()}
        _update(WebhookDelivery, row_id, old, {**new, "request_body": ""})


def _update(model: Any, row_id: int, old: dict[str, Any], new: dict[str, Any]) -> bool:
    changes = {name: value for name, value in new.items() if value != old.get(name)}
    if changes:
        db.session.execute(update(model).where(model.id == row_id).values(changes))
    return bool(changes)


def _erased(body: Any, client: Client, traces: Traces) -> Any:
    """An event body with the client's data replaced; an event about the client itself shows
    it as it is now: erased, with no email."""
    body = traces.scrub(body)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("object") != "client":
        return body
    if data.get("id") != client.public_id:
        return body
    return {**body, "data": {**data, "name": client.name, "email": None}}


def _forget_exports(business: Business, client: Client) -> list[Path]:
    """The export files that may print the client (its own ZIP, ZIPs with its invoices, reports
    of every client or of this one): no longer offered; the caller deletes them after commit."""
    documents = set(db.session.scalars(_document_ids(client)))
    paths = []
    for job_id, kind, params, path in db.session.execute(
        select(Job.id, Job.kind, Job.params, Job.result_path).where(
            Job.business_id == business.id,
            Job.kind.in_((EXPORT_JOB, _INVOICES_ZIP, _REPORT_EXPORT)),
            Job.result_path != "",
        )
    ):
        params = params or {}
        if (
            (kind == EXPORT_JOB and params.get("client_id") == client.public_id)
            or (kind == _INVOICES_ZIP and documents & set(params.get("document_ids") or []))
            or (kind == _REPORT_EXPORT and params.get("client") in (None, client.public_id))
        ):
            paths.append(Path(path))
            db.session.execute(update(Job).where(Job.id == job_id).values(result_path=""))
    return paths


# --- tracking -------------------------------------------------------------------------


def set_tracking_opt_out(actor: Actor, public_id: str, opt_out: bool) -> Client:
    """No open pixel in the client's emails and no view times recorded, or tracking again."""
    actor.require(Role.STAFF)
    client = clients.get_client(actor, public_id)
    if client.erased_at is not None and not opt_out:
        raise InvalidInput({"tracking_opt_out": "An erased client is never tracked."})
    if client.tracking_opt_out == opt_out:
        return client
    client.tracking_opt_out = opt_out
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.tracking_changed",
        entity_type="client",
        entity_id=client.public_id,
        before={"tracking_opt_out": not opt_out},
        after={"tracking_opt_out": opt_out},
    )
    db.session.commit()
    return client


def set_tracking_retention(actor: Actor, days: int) -> Business:
    """Keep tracking data this many days (0: keep it)."""
    actor.require(Role.ADMIN)
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(
            {"tracking_retention_days": f"Give a number of days from 0 to {MAX_RETENTION_DAYS}."}
        )
    business = actor.business
    before = business.tracking_retention_days
    if before == days:
        return business
    business.tracking_retention_days = days
    audit.record(
        business=business,
        actor=actor.user,
        action="business.tracking_retention_changed",
        entity_type="business",
        entity_id=business.public_id,
        before={"tracking_retention_days": before},
        after={"tracking_retention_days": days},
    )
    db.session.commit()
    return business


@dataclass(frozen=True, slots=True)
class Purged:
    businesses: int = 0
    email_opens: int = 0
    document_views: int = 0
    link_visits: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "businesses": self.businesses,
            "email_opens": self.email_opens,
            "document_views": self.document_views,
            "link_visits": self.link_visits,
        }


def _rows(result: Any) -> int:
    return int(result.rowcount or 0)


def purge_business(business: Business, now: datetime | None = None) -> Purged:
    """Forget the tracking data of one business older than its retention; commits."""
    days = business.tracking_retention_days
    if days <= 0:
        return Purged()
    cutoff = (now or utcnow()) - timedelta(days=days)
    opens = db.session.execute(
        update(Delivery)
        .where(Delivery.business_id == business.id, Delivery.opened_at < cutoff)
        .values(opened_at=None)
    )
    views = db.session.execute(
        update(Document)
        .where(Document.business_id == business.id, Document.viewed_at < cutoff)
        .values(viewed_at=None)
    )
    visits = db.session.execute(
        update(PortalLink)
        .where(PortalLink.business_id == business.id, PortalLink.last_used_at < cutoff)
        .values(last_used_at=None)
    )
    db.session.commit()
    return Purged(1, _rows(opens), _rows(views), _rows(visits))


def purge_tracking(now: datetime | None = None) -> Purged:
    """The scheduler's daily run: every business with a retention set."""
    total = Purged()
    for business in list(
        db.session.scalars(
            select(Business).where(Business.tracking_retention_days > 0).order_by(Business.id)
        )
    ):
        done = purge_business(business, now)
        total = Purged(
            total.businesses + done.businesses,
            total.email_opens + done.email_opens,
            total.document_views + done.document_views,
            total.link_visits + done.link_visits,
        )
    return total
