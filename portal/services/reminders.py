"""Payment reminders: per-business rules (days from the due date) and the daily run.

Each invoice gets each reminder at most once: the outbox key ``reminder-<invoice>-<offset>`` is
unique in the database, so two schedulers running at once send one email. A run that missed
days sends only the latest reminder due, never a burst of the ones it missed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from portal.billing.status import OPEN_STATUSES
from portal.extensions import db
from portal.models import (
    Business,
    Client,
    Document,
    DocumentKind,
    OutboxMessage,
    ReminderRule,
    Role,
)
from portal.services import outbox
from portal.services.actors import Actor
from portal.services.delivery import queue_email, recipients_for
from portal.services.errors import InvalidInput
from portal.services.pricing import business_today

log = logging.getLogger(__name__)

TEMPLATES: Final = {
    "reminder_before": "Before the due date",
    "reminder_due": "On the due date",
    "reminder_late": "Overdue",
    "reminder_final": "Final reminder",
}
#: The schedule offered to a business that has none yet.
SUGGESTED: Final = (
    (-3, "reminder_before"),
    (0, "reminder_due"),
    (7, "reminder_late"),
    (14, "reminder_late"),
    (30, "reminder_final"),
)
MAX_OFFSET: Final = 365


@dataclass(frozen=True, slots=True)
class RuleData:
    offset_days: int
    template: str
    active: bool = True


def rules_of(business: Business) -> list[ReminderRule]:
    return list(
        db.session.scalars(
            select(ReminderRule)
            .where(ReminderRule.business_id == business.id)
            .order_by(ReminderRule.offset_days)
        )
    )


def _check(rules: Sequence[RuleData]) -> None:
    errors: dict[str, str] = {}
    seen: set[int] = set()
    for index, rule in enumerate(rules):
        if not -MAX_OFFSET <= rule.offset_days <= MAX_OFFSET:
            errors[f"rules-{index}-offset_days"] = (
                f"Choose between -{MAX_OFFSET} and {MAX_OFFSET} days."
            )
        elif rule.offset_days in seen:
            errors[f"rules-{index}-offset_days"] = "Another rule already uses this day."
        seen.add(rule.offset_days)
        if rule.template not in TEMPLATES:
            errors[f"rules-{index}-template"] = "Choose one of the reminder templates."
    if errors:
        raise InvalidInput(errors)


def save_rules(actor: Actor, rules: Sequence[RuleData]) -> list[ReminderRule]:
    """Replace the business's reminder rules."""
    actor.require(Role.ADMIN)
    _check(rules)
    db.session.execute(delete(ReminderRule).where(ReminderRule.business_id == actor.business.id))
    for rule in rules:
        db.session.add(
            ReminderRule(
                business_id=actor.business.id,
                offset_days=rule.offset_days,
                template=rule.template,
                active=rule.active,
            )
        )
    db.session.commit()
    return rules_of(actor.business)


def still_due(doc: Document) -> bool:
    """Whether a reminder about this invoice makes sense right now."""
    return (
        doc.kind is DocumentKind.INVOICE
        and doc.status in OPEN_STATUSES
        and doc.balance_minor > 0
        and doc.due_date is not None
        and not doc.client.reminders_paused
    )


def _latest(rules: Sequence[ReminderRule], due: date, today: date) -> ReminderRule | None:
    reached = [r for r in rules if due + timedelta(days=r.offset_days) <= today]
    return max(reached, key=lambda r: r.offset_days) if reached else None


def _remind(business: Business, doc: Document, rule: ReminderRule) -> int | None:
    """Queue one reminder; the id of its outbox message, or None if it exists already."""
    key = f"reminder-{doc.public_id}-{rule.offset_days}"
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None:
        return None
    recipients = recipients_for(doc.client)
    if not recipients.to:
        log.info("no reminder for %s: the client has no billing email", doc.public_id)
        return None
    try:
        delivery, message = queue_email(
            business,
            doc,
            kind="reminder",
            key=key,
            recipients=recipients,
            template=rule.template,
        )
        if message.payload.get("delivery_id") != delivery.id:
            # Another scheduler committed the same reminder since the check above: it is
            # theirs to dispatch (two runners of one message could send it twice).
            db.session.rollback()
            return None
        db.session.commit()
    except IntegrityError:
        # Another scheduler queued the same reminder a moment ago.
        db.session.rollback()
        return None
    return message.id


def send_due_reminders(today: date | None = None) -> list[str]:
    """Queue and dispatch every reminder due today (each business's own today unless given);
    returns the keys of the reminders queued by this run."""
    queued: list[int] = []
    businesses = db.session.scalars(
        select(Business)
        .where(Business.id.in_(select(ReminderRule.business_id).where(ReminderRule.active)))
        .order_by(Business.id)
    ).all()
    for business in businesses:
        rules = [r for r in rules_of(business) if r.active]
        on = today or business_today(business)
        earliest = min(r.offset_days for r in rules)
        invoices = db.session.scalars(
            select(Document)
            .join(Client, Client.id == Document.client_id)
            .where(
                Document.business_id == business.id,
                Document.kind == DocumentKind.INVOICE,
                Document.status.in_([s.value for s in OPEN_STATUSES]),
                Document.balance_minor > 0,
                Document.due_date <= on - timedelta(days=earliest),
                Client.reminders_paused.is_(False),
            )
            .order_by(Document.due_date, Document.id)
        ).all()
        for doc in invoices:
            rule = _latest(rules, doc.due_date, on) if doc.due_date else None
            if rule is not None and (message_id := _remind(business, doc, rule)) is not None:
                queued.append(message_id)
    keys = []
    for message_id in queued:
        message = db.session.get(OutboxMessage, message_id)
        if message is not None:
            keys.append(message.key)
        outbox.dispatch(message_id)
    return keys
