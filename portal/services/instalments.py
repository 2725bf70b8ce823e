"""Instalment plans: an issued invoice's amount due, spread over several due dates.

A plan always adds up to exactly the invoice's amount due. Payments and credits settle the
instalments in order, so what is paid and what is late is derived, never stored.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from portal.billing.errors import BillingError
from portal.billing.money import Money, require_minor, split_evenly
from portal.billing.status import OPEN_STATUSES, is_overdue
from portal.extensions import db
from portal.models import Document, DocumentKind, Instalment, Role
from portal.services import audit, documents
from portal.services.actors import Actor
from portal.services.errors import InvalidInput

MIN_PARTS = 2
MAX_PARTS = 60
MAX_EVERY_DAYS = 366


@dataclass(frozen=True, slots=True)
class InstalmentState:
    seq: int
    due_date: date
    amount_minor: int
    paid_minor: int
    overdue: bool


def instalment_states(doc: Document, paid_minor: int, today: date) -> list[InstalmentState]:
    """Each instalment with what is paid of it and whether it is late.

    ``paid_minor`` is everything that has settled the invoice (payments and applied credit,
    ``doc.amount_due_minor - doc.balance_minor``); it fills the instalments in order. ``today``
    is the date in the business's time zone; an instalment due today is not yet late.
    """
    left = max(paid_minor, 0)
    states = []
    for instalment in sorted(doc.instalments, key=lambda i: i.seq):
        paid = min(instalment.amount_minor, left)
        left -= paid
        states.append(
            InstalmentState(
                seq=instalment.seq,
                due_date=instalment.due_date,
                amount_minor=instalment.amount_minor,
                paid_minor=paid,
                overdue=paid < instalment.amount_minor
                and is_overdue(instalment.due_date, today, doc.status),
            )
        )
    return states


def _open_invoice(actor: Actor, public_id: str) -> Document:
    actor.require(Role.ACCOUNTANT)
    doc = documents.get_document(actor, public_id, DocumentKind.INVOICE)
    db.session.refresh(doc, with_for_update=True)
    if doc.status == documents.DRAFT:
        raise InvalidInput({"document": "Issue the invoice before splitting it into instalments."})
    if doc.status not in OPEN_STATUSES:
        raise InvalidInput(
            {
                "document": (
                    f"Only an open invoice can be split; this one is "
                    f"{doc.status.replace('_', ' ')}."
                )
            }
        )
    return doc


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _check_first_due(doc: Document, first: date, field: str) -> None:
    if doc.issue_date is not None and first < doc.issue_date:
        raise InvalidInput(
            {field: f"The first instalment cannot fall before the invoice date, {doc.issue_date}."}
        )


def _replace_plan(actor: Actor, doc: Document, plan: list[tuple[date, int]]) -> Document:
    before = [(i.seq, i.due_date, i.amount_minor) for i in doc.instalments]
    doc.instalments.clear()
    # Old rows go first: the new plan reuses their (document, seq) pairs.
    db.session.flush()
    for seq, (due, amount) in enumerate(plan, start=1):
        doc.instalments.append(Instalment(seq=seq, due_date=due, amount_minor=amount))
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="invoice.instalments_planned",
        entity_type="invoice",
        entity_id=doc.public_id,
        before={"instalments": before} if before else None,
        after={"instalments": [(i.seq, i.due_date, i.amount_minor) for i in doc.instalments]},
    )
    db.session.commit()
    return doc


def split_equal(
    actor: Actor,
    invoice_id: str,
    count: int,
    first_due: date,
    *,
    every_days: int | None = None,
    monthly: bool = False,
) -> Document:
    """``count`` instalments differing by at most one minor unit, the larger ones first.

    They fall every ``every_days`` days from ``first_due``, or monthly on its day of the month
    (on the month's last day when the month is shorter). Any earlier plan is replaced.
    """
    doc = _open_invoice(actor, invoice_id)
    if not MIN_PARTS <= count <= MAX_PARTS:
        raise InvalidInput({"count": f"Split into {MIN_PARTS} to {MAX_PARTS} instalments."})
    if (every_days is None) == (not monthly):
        raise InvalidInput({"every_days": "Choose either every so many days or monthly."})
    if every_days is not None and not 1 <= every_days <= MAX_EVERY_DAYS:
        raise InvalidInput({"every_days": f"Enter a number of days from 1 to {MAX_EVERY_DAYS}."})
    _check_first_due(doc, first_due, "first_due")
    parts = split_evenly(Money(doc.amount_due_minor, doc.currency), count)
    if any(part.minor <= 0 for part in parts):
        raise InvalidInput({"count": "The amount due is too small for that many instalments."})
    if every_days is not None:
        dates = [first_due + timedelta(days=every_days * n) for n in range(count)]
    else:
        dates = [_add_months(first_due, n) for n in range(count)]
    return _replace_plan(actor, doc, [(d, p.minor) for d, p in zip(dates, parts, strict=True)])


def split_custom(
    actor: Actor, invoice_id: str, parts: tuple[tuple[date, Decimal], ...]
) -> Document:
    """Instalments with chosen dates and amounts; they must add up to exactly the amount due."""
    doc = _open_invoice(actor, invoice_id)
    if not MIN_PARTS <= len(parts) <= MAX_PARTS:
        raise InvalidInput({"parts": f"Give {MIN_PARTS} to {MAX_PARTS} instalments."})
    if parts:
        _check_first_due(doc, parts[0][0], "parts-0")
    errors: dict[str, str] = {}
    plan: list[tuple[date, int]] = []
    for index, (due, amount) in enumerate(parts):
        field = f"parts-{index}"
        try:
            minor = require_minor(amount, field, doc.currency)
        except (BillingError, TypeError):
            errors[field] = f"Enter an amount {doc.currency} can hold."
            continue
        if minor <= 0:
            errors[field] = "Enter an amount greater than 0."
        elif index and due <= parts[index - 1][0]:
            errors[field] = "Each due date must come after the one before."
        plan.append((due, minor))
    if errors:
        raise InvalidInput(errors)
    total = sum(minor for _, minor in plan)
    if total != doc.amount_due_minor:
        difference = Money(abs(total - doc.amount_due_minor), doc.currency)
        direction = "more" if total > doc.amount_due_minor else "less"
        raise InvalidInput(
            {
                "parts": (
                    f"The instalments add up to {Money(total, doc.currency)}, {difference} "
                    f"{direction} than the {Money(doc.amount_due_minor, doc.currency)} due."
                )
            }
        )
    return _replace_plan(actor, doc, plan)
