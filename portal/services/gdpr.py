"""A client's personal data: everything held about them as a ZIP, erased on request while the
accounting records stay, tracking switched off for them, and old tracking data purged.

What stays after an erasure, and what an issued invoice's PDF shows then, is in docs/privacy.md.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import selectinload

from integrations import envelope as env
from portal.billing.status import OPEN_STATUSES
from portal.documents.cache import document_pdf
from portal.extensions import db
from portal.jobs.context import with_app
from portal.models import (
    Business,
    Client,
    Delivery,
    Document,
    DocumentKind,
    Job,
    Payment,
    PaymentAllocation,
    PortalLink,
    RecurringSchedule,
    RenderedFile,
    Role,
    SavedPaymentMethod,
)
from portal.models.base import utcnow
from portal.services import audit, clients, envelopes, jobs
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
    only with a ``force_reason``, which the audit event keeps."""
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
    # Stored PDFs print the old name and address; the next download renders them anew.
    db.session.execute(
        delete(RenderedFile).where(
            or_(
                RenderedFile.document_id.in_(docs),
                RenderedFile.filename.contains(client.public_id, autoescape=True),
            )
        )
    )
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.erased",
        entity_type="client",
        entity_id=client.public_id,
        after={"open_invoices": still_open, "reason": force_reason.strip()},
    )
    db.session.commit()
    return client


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
