"""Recurring invoices: a schedule copies its template into an invoice once per period."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.billing.schedules import (
    MAX_INTERVAL,
    Frequency,
    Schedule,
    next_occurrence,
    occurrences,
    occurrences_due,
    period_key,
)
from portal.billing.status import InvoiceStatus
from portal.extensions import db
from portal.models import (
    Business,
    Document,
    DocumentAdjustment,
    DocumentKind,
    RecurringSchedule,
    Role,
)
from portal.models.base import utcnow
from portal.services import audit, documents, outbox, pricing, saved_cards
from portal.services.actors import Actor, system_actor
from portal.services.documents import DRAFT, DraftData, LineData
from portal.services.errors import InvalidInput, NotFound
from portal.services.validation import check_currency

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleData:
    client_id: str
    lines: tuple[LineData, ...]
    currency: str | None = None  # the client's currency when None
    terms_code: str | None = None  # the business's default when None
    frequency: str
    interval_count: int = 1
    day_of_month: int | None = None  # monthly and longer; the start date's day when None
    start_date: date
    end_after_count: int | None = None
    end_date: date | None = None
    auto_send: bool = False


def get_schedule(actor: Actor, public_id: str) -> RecurringSchedule:
    schedule = db.session.scalar(
        select(RecurringSchedule).where(
            RecurringSchedule.public_id == public_id,
            RecurringSchedule.business_id == actor.business.id,
        )
    )
    if schedule is None:
        raise NotFound("No such schedule.")
    return schedule


def rule_of(schedule: RecurringSchedule) -> Schedule:
    return Schedule(
        frequency=Frequency(schedule.frequency),
        start_date=schedule.start_date,
        interval_count=schedule.interval_count,
        day_of_month=schedule.day_of_month,
        end_after_count=schedule.end_after_count,
        end_date=schedule.end_date,
    )


def snapshot(schedule: RecurringSchedule) -> dict[str, Any]:
    return {
        "client": schedule.client.public_id,
        "frequency": schedule.frequency,
        "interval_count": schedule.interval_count,
        "day_of_month": schedule.day_of_month,
        "start_date": schedule.start_date,
        "end_after_count": schedule.end_after_count,
        "end_date": schedule.end_date,
        "auto_send": schedule.auto_send,
        "active": schedule.active,
        "next_run_on": schedule.next_run_on,
    }


def _check(data: ScheduleData) -> dict[str, str]:
    errors: dict[str, str] = {}
    if data.frequency not in {f.value for f in Frequency}:
        errors["frequency"] = "Choose weekly, monthly, quarterly or yearly."
    if not 1 <= data.interval_count <= MAX_INTERVAL:
        errors["interval_count"] = f"Repeat every 1 to {MAX_INTERVAL} periods."
    if data.day_of_month is not None:
        if data.frequency == Frequency.WEEKLY:
            errors["day_of_month"] = (
                "A weekly schedule runs on the start date's weekday; leave the day empty."
            )
        elif not 1 <= data.day_of_month <= 31:
            errors["day_of_month"] = "Choose a day between 1 and 31."
    if data.end_after_count is not None and data.end_after_count < 1:
        errors["end_after_count"] = "End after at least 1 invoice, or leave it empty."
    if data.end_date is not None and data.end_date < data.start_date:
        errors["end_date"] = "The end date cannot be before the start date."
    if data.currency is not None and (msg := check_currency(data.currency)) is not None:
        errors["currency"] = msg
    if not data.lines:
        errors["lines"] = "Add at least one line."
    if not errors:
        first = next(occurrences(_rule(data)), None)
        if first is None:
            errors["end_date"] = "The schedule ends before its first invoice date."
    return errors


def _rule(data: ScheduleData) -> Schedule:
    return Schedule(
        frequency=Frequency(data.frequency),
        start_date=data.start_date,
        interval_count=data.interval_count,
        day_of_month=data.day_of_month,
        end_after_count=data.end_after_count,
        end_date=data.end_date,
    )


def create_schedule(actor: Actor, data: ScheduleData) -> RecurringSchedule:
    """Store the lines as a template document and the schedule that copies it."""
    actor.require(Role.STAFF)
    if errors := _check(data):
        raise InvalidInput(errors)
    rule = _rule(data)
    template = Document(
        business_id=actor.business.id,
        kind=DocumentKind.TEMPLATE,
        status=DRAFT,
        rounding_mode=actor.business.rounding_mode,
    )
    db.session.add(template)
    draft = DraftData(
        client_id=data.client_id,
        lines=data.lines,
        currency=data.currency,
        terms_code=data.terms_code,
    )
    try:
        # create_draft would commit the template on its own; schedule and template are one.
        documents.fill_draft(actor, template, draft)
        db.session.flush()
    except InvalidInput:
        db.session.rollback()
        raise
    schedule = RecurringSchedule(
        business_id=actor.business.id,
        client=template.client,
        template=template,
        frequency=rule.frequency.value,
        interval_count=rule.interval_count,
        day_of_month=None if rule.frequency is Frequency.WEEKLY else rule.day,
        start_date=rule.start_date,
        end_after_count=rule.end_after_count,
        end_date=rule.end_date,
        auto_send=data.auto_send,
        generated_count=0,
        next_run_on=next_occurrence(rule, 0, rule.start_date),
        active=True,
    )
    db.session.add(schedule)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="schedule.created",
        entity_type="schedule",
        entity_id=schedule.public_id,
        after={**snapshot(schedule), "template": documents.snapshot(template)},
    )
    db.session.commit()
    return schedule


def pause_schedule(actor: Actor, public_id: str) -> RecurringSchedule:
    actor.require(Role.STAFF)
    schedule = get_schedule(actor, public_id)
    if not schedule.active:
        return schedule
    schedule.active = False
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="schedule.paused",
        entity_type="schedule",
        entity_id=schedule.public_id,
        before={"active": True},
        after={"active": False},
    )
    db.session.commit()
    return schedule


def resume_schedule(actor: Actor, public_id: str, today: date | None = None) -> RecurringSchedule:
    """Run again from ``today`` (the business's date): the periods missed while paused are
    skipped, not billed late, and do not count towards ``end_after_count``."""
    actor.require(Role.STAFF)
    schedule = get_schedule(actor, public_id)
    if schedule.active:
        return schedule
    on = today or pricing.business_today(actor.business)
    before = {"active": False, "next_run_on": schedule.next_run_on}
    schedule.active = True
    if schedule.next_run_on is not None:
        schedule.next_run_on = next_occurrence(
            rule_of(schedule), schedule.generated_count, max(on, schedule.next_run_on)
        )
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="schedule.resumed",
        entity_type="schedule",
        entity_id=schedule.public_id,
        before=before,
        after={"active": True, "next_run_on": schedule.next_run_on},
    )
    db.session.commit()
    return schedule


def run_due_schedules(
    business: Business | None = None, today: date | None = None
) -> list[Document]:
    """Make every invoice due up to ``today`` for one business, or for all when ``None``.

    ``today`` defaults to each business's own date. Each schedule is its own transaction with
    its row locked, so a run elsewhere waits and then finds nothing left to do; the unique
    ``(business_id, generator_key)`` decides if two runs still meet. Returns the new invoices.
    """
    # Nowhere on Earth is it more than a day later than in UTC.
    latest = today or datetime.now(UTC).date() + timedelta(days=1)
    stmt = select(RecurringSchedule.id).where(
        RecurringSchedule.active.is_(True),
        RecurringSchedule.next_run_on.is_not(None),
        RecurringSchedule.next_run_on <= latest,
    )
    if business is not None:
        stmt = stmt.where(RecurringSchedule.business_id == business.id)
    made: list[Document] = []
    for schedule_id in list(db.session.scalars(stmt.order_by(RecurringSchedule.id))):
        made.extend(_run(schedule_id, today))
    return made


def _run(schedule_id: int, today: date | None) -> list[Document]:
    schedule = db.session.scalar(
        select(RecurringSchedule)
        .where(RecurringSchedule.id == schedule_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert schedule is not None  # schedules are never deleted  # noqa: S101
    business = db.session.get_one(Business, schedule.business_id)
    on_day = today or pricing.business_today(business)
    if not schedule.active or schedule.next_run_on is None or schedule.next_run_on > on_day:
        db.session.rollback()  # another run got here first; let go of the row
        return []
    rule = rule_of(schedule)
    due = occurrences_due(rule, schedule.generated_count, on_day, next_on=schedule.next_run_on)
    actor = system_actor(business)
    template = db.session.scalars(
        select(Document)
        .where(Document.id == schedule.template_id)
        .options(selectinload(Document.lines), selectinload(Document.adjustments))
    ).one()
    # Claim the periods before making them. Writing first also matters on SQLite: pysqlite
    # begins a transaction only at the first write, so a SAVEPOINT opened before any would
    # itself begin it, and releasing that savepoint would commit everything so far.
    schedule.generated_count += len(due)
    after = due[-1] + timedelta(days=1) if due else schedule.next_run_on
    schedule.next_run_on = next_occurrence(rule, schedule.generated_count, after)
    db.session.flush()
    made = [doc for on in due if (doc := _generate(actor, schedule, template, on)) is not None]
    charges = [
        saved_cards.schedule_charge(business, doc, schedule.saved_method_id)
        for doc in made
        if schedule.saved_method_id is not None and doc.status != DRAFT
    ]
    db.session.commit()
    for message in charges:
        outbox.dispatch(message.id)
    return made


def _copy(actor: Actor, template: Document, on: date) -> Document:
    doc = Document(
        business_id=template.business_id,
        client_id=template.client_id,
        client=template.client,
        kind=DocumentKind.INVOICE,
        status=DRAFT,
        currency=template.currency,
        title=template.title,
        notes=template.notes,
        footer=template.footer,
        po_number=template.po_number,
        terms_code=template.terms_code,
        rounding_mode=actor.business.rounding_mode,
        issue_date=on,
        custom_fields=dict(template.custom_fields),
        prepaid=Decimal(0),
    )
    doc.lines = [pricing.copy_line(line, line.position) for line in template.lines]
    doc.adjustments = [
        DocumentAdjustment(
            position=adj.position,
            kind=adj.kind,
            reason=adj.reason,
            amount=adj.amount,
            taxes=[dict(t) for t in adj.taxes],
        )
        for adj in template.adjustments
    ]
    pricing.price(doc)
    return doc


def _generate(
    actor: Actor, schedule: RecurringSchedule, template: Document, on: date
) -> Document | None:
    """The invoice for the period of ``on``, or ``None`` when a run elsewhere made it."""
    doc = _copy(actor, template, on)
    doc.generator_key = f"schedule:{schedule.public_id}:{period_key(schedule.frequency, on)}"
    doc.schedule_id = schedule.id
    try:
        with db.session.begin_nested():
            db.session.add(doc)
            db.session.flush()
    except IntegrityError:
        return None
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="invoice.created",
        entity_type="invoice",
        entity_id=doc.public_id,
        after={**documents.snapshot(doc), "schedule": schedule.public_id},
    )
    if schedule.auto_send:
        _issue_and_send(actor, doc, on)
    return doc


def _issue_and_send(actor: Actor, doc: Document, on: date) -> None:
    """What documents.issue_invoice and mark_sent do, inside this run's transaction."""
    try:
        with db.session.begin_nested():
            documents.issue_in_transaction(actor, doc, on)
            doc.sent_at = utcnow()
            doc.status = InvoiceStatus.SENT
            audit.record(
                business=actor.business,
                actor=actor.user,
                action="invoice.sent",
                entity_type="invoice",
                entity_id=doc.public_id,
            )
    except InvalidInput as exc:
        # Typically no exchange rate for the date yet: a person issues the draft later.
        log.warning("invoice %s left as a draft: %s", doc.public_id, exc)
