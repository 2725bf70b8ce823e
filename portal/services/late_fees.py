"""Late fees: the business's rule, and a separate invoice for each period an invoice stays
unpaid past its due date."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from babel.dates import format_date
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from portal.billing.money import Money, Rounding, exponent, round_minor
from portal.billing.schedules import Frequency, Schedule, occurrences_due
from portal.billing.status import OPEN_STATUSES, InvoiceStatus, is_overdue
from portal.extensions import db
from portal.models import Business, Document, DocumentKind, DocumentLine, LateFeeRule, Role
from portal.models.base import new_public_id
from portal.services import audit, documents, pricing
from portal.services.actors import Actor, system_actor
from portal.services.documents import DRAFT
from portal.services.errors import InvalidInput

log = logging.getLogger(__name__)

KINDS = {"fixed": "A fixed amount", "percent": "A percentage of the balance"}
REPEATS = {"once": "Once", "monthly": "Every month"}
MAX_AFTER_DAYS = 365
MAX_AMOUNT = Decimal(10) ** 12
KEY_PREFIX = "late-fee:"


@dataclass(frozen=True, slots=True)
class LateFeeData:
    kind: str  # "fixed": ``value`` in the invoice's currency; "percent": of its balance
    value: Decimal
    after_days: int = 30
    repeat: str = "once"  # "once" or "monthly"
    cap: Decimal | None = None  # the most all late fees on one invoice add up to
    active: bool = True


def snapshot(rule: LateFeeRule) -> dict[str, Any]:
    return {
        "kind": rule.kind,
        "value": rule.value,
        "after_days": rule.after_days,
        "repeat": rule.repeat,
        "cap": rule.cap,
        "active": rule.active,
    }


def get_late_fee_rule(actor: Actor) -> LateFeeRule | None:
    return db.session.scalar(
        select(LateFeeRule).where(LateFeeRule.business_id == actor.business.id)
    )


def _places(value: Decimal) -> int:
    exp = value.as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def _check_amount(value: object, places: int, name: str) -> str | None:
    if not isinstance(value, Decimal) or not value.is_finite():
        return "Enter a number."
    if value <= 0:
        return f"The {name} must be greater than 0."
    if value >= MAX_AMOUNT:
        return f"The {name} is too large."
    if _places(value.normalize()) > places:
        return f"Use at most {places} decimal places."
    return None


def _check(data: LateFeeData) -> dict[str, str]:
    errors: dict[str, str] = {}
    if data.kind not in KINDS:
        errors["kind"] = "Choose a fixed amount or a percentage."
    elif data.kind == "percent":
        if (msg := _check_amount(data.value, 4, "percentage")) is not None:
            errors["value"] = msg
        elif data.value > 100:
            errors["value"] = "A percentage cannot be more than 100."
    # Three places: the most any currency has (KWD); each fee is rounded to its invoice's.
    elif (msg := _check_amount(data.value, 3, "fee")) is not None:
        errors["value"] = msg
    if isinstance(data.after_days, bool) or not 0 <= data.after_days <= MAX_AFTER_DAYS:
        errors["after_days"] = f"Choose between 0 and {MAX_AFTER_DAYS} days after the due date."
    if data.repeat not in REPEATS:
        errors["repeat"] = "Choose once or every month."
    if data.cap is not None and (msg := _check_amount(data.cap, 3, "cap")) is not None:
        errors["cap"] = msg
    return errors


def set_late_fee_rule(actor: Actor, data: LateFeeData) -> LateFeeRule:
    actor.require(Role.ADMIN)
    if errors := _check(data):
        raise InvalidInput(errors)
    rule = get_late_fee_rule(actor)
    before = snapshot(rule) if rule is not None else None
    if rule is None:
        rule = LateFeeRule(business_id=actor.business.id)
        db.session.add(rule)
    rule.kind = data.kind
    rule.value = data.value
    rule.after_days = data.after_days
    rule.repeat = data.repeat
    rule.cap = data.cap
    rule.active = data.active
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="late_fee_rule.updated" if before is not None else "late_fee_rule.created",
        entity_type="late_fee_rule",
        entity_id=actor.business.public_id,
        before=before,
        after=snapshot(rule),
    )
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        # Two admins created the business's one rule at the same moment.
        raise InvalidInput({"rule": "The rule was changed at the same moment; try again."}) from exc
    return rule


def apply_late_fees(business: Business | None = None, today: date | None = None) -> list[Document]:
    """Charge the late fees due up to ``today``, for one business or all when ``None``.

    ``today`` defaults to each business's own date. Each overdue invoice is its own transaction
    with its row locked; the unique ``(business_id, generator_key)`` keeps a period to one fee.
    Only the current period is charged: a rule switched on late bills no back months. Returns
    the fee invoices made.
    """
    stmt = select(LateFeeRule.id, LateFeeRule.business_id).where(LateFeeRule.active.is_(True))
    if business is not None:
        stmt = stmt.where(LateFeeRule.business_id == business.id)
    made: list[Document] = []
    for rule_id, business_id in list(db.session.execute(stmt.order_by(LateFeeRule.id))):
        on_day = today or pricing.business_today(db.session.get_one(Business, business_id))
        rule = db.session.get_one(LateFeeRule, rule_id)
        last_due = on_day - timedelta(days=max(rule.after_days, 1))
        invoices = select(Document.id).where(
            Document.business_id == business_id,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_([s.value for s in OPEN_STATUSES]),
            Document.due_date <= last_due,
            Document.balance_minor > 0,
            # A late fee is not charged late fees of its own.
            or_(Document.generator_key.is_(None), ~Document.generator_key.startswith(KEY_PREFIX)),
        )
        for invoice_id in list(db.session.scalars(invoices.order_by(Document.id))):
            fee = _charge(rule_id, invoice_id, on_day)
            if fee is not None:
                made.append(fee)
    return made


def period_of(rule: LateFeeRule, due_date: date, today: date) -> tuple[str, date] | None:
    """The period a fee charged ``today`` is for, and the date it began; ``None`` if none yet.

    The first period begins ``after_days`` (at least one) after the due date; monthly ones
    follow month by month, numbered from 1, on the same day (clamped at month-end).
    """
    first = due_date + timedelta(days=max(rule.after_days, 1))
    if first > today:
        return None
    if rule.repeat == "once":
        return "once", first
    months = occurrences_due(Schedule(frequency=Frequency.MONTHLY, start_date=first), 0, today)
    return str(len(months)), months[-1]


def fee_minor(rule: LateFeeRule, invoice: Document) -> int:
    if rule.kind == "percent":
        share = Decimal(invoice.balance_minor) * Decimal(rule.value) / 100
        return round_minor(share, Rounding.HALF_UP)
    return Money.from_decimal(Decimal(rule.value), invoice.currency, Rounding.HALF_UP).minor


def _cap_minor(cap: Decimal, currency: str) -> int:
    # Down, so the fees never pass the cap by a rounding.
    return int(Decimal(cap).scaleb(exponent(currency)).to_integral_value(rounding=ROUND_DOWN))


def _charged(invoice: Document) -> int:
    """What the late fees on ``invoice`` came to so far; a voided fee was never owed."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Document.total_minor), 0)).where(
                Document.business_id == invoice.business_id,
                Document.generator_key.startswith(f"{KEY_PREFIX}{invoice.public_id}:"),
                Document.status != InvoiceStatus.VOID.value,
            )
        )
        or 0
    )


def _key(invoice: Document, period: str) -> str:
    return f"{KEY_PREFIX}{invoice.public_id}:{period}"


def _exists(invoice: Document, period: str) -> bool:
    """A cheap look first; under a race the unique key still decides."""
    return (
        db.session.scalar(
            select(Document.id).where(
                Document.business_id == invoice.business_id,
                Document.generator_key == _key(invoice, period),
            )
        )
        is not None
    )


def _charge(rule_id: int, invoice_id: int, today: date) -> Document | None:
    invoice = db.session.scalars(
        select(Document)
        .where(Document.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    rule = db.session.get_one(LateFeeRule, rule_id)
    period = (
        period_of(rule, invoice.due_date, today)
        if rule.active
        and invoice.due_date is not None
        and is_overdue(invoice.due_date, today, invoice.status)
        and invoice.balance_minor > 0
        else None
    )
    if period is not None and _exists(invoice, period[0]):
        period = None  # charged already: the usual case on every run after the first
    amount = 0
    if period is not None:
        amount = fee_minor(rule, invoice)
        if rule.cap is not None:
            amount = min(amount, _cap_minor(rule.cap, invoice.currency) - _charged(invoice))
    if period is None or amount <= 0:
        db.session.rollback()  # let go of the row
        return None
    key, began = period
    business = db.session.get_one(Business, invoice.business_id)
    actor = system_actor(business)
    fee = _fee_invoice(actor, invoice, amount, began)
    fee.public_id = new_public_id()
    fee.generator_key = _key(invoice, key)
    # Written before the savepoint on purpose: pysqlite begins a transaction only at the first
    # write, so a SAVEPOINT opened before any would begin it, and its release would commit.
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="invoice.late_fee_charged",
        entity_type="invoice",
        entity_id=invoice.public_id,
        after={"late_fee": fee.public_id, "period": key, "total_minor": amount},
    )
    try:
        with db.session.begin_nested():
            db.session.add(fee)
            db.session.flush()
    except IntegrityError:
        db.session.rollback()  # a run elsewhere charged this period
        return None
    try:
        _issue(actor, invoice, fee, today)
    except InvalidInput as exc:
        # Typically no exchange rate for today yet: the next run tries again.
        db.session.rollback()
        log.warning("no late fee on %s yet: %s", invoice.public_id, exc)
        return None
    db.session.commit()
    return fee


def _fee_invoice(actor: Actor, invoice: Document, amount: int, began: date) -> Document:
    month = format_date(began, "MMMM yyyy", locale="en")
    description = f"Late fee for {invoice.number} ({month})"
    fee = Document(
        business_id=invoice.business_id,
        client_id=invoice.client_id,
        client=invoice.client,
        kind=DocumentKind.INVOICE,
        status=DRAFT,
        currency=invoice.currency,
        title=f"Late fee for {invoice.number}",
        # Due at once: it is itself the price of paying late.
        terms_code="RECEIPT",
        rounding_mode=actor.business.rounding_mode,
        prepaid=Decimal(0),
    )
    fee.lines = [
        DocumentLine(
            position=0,
            description=description,
            quantity=Decimal(1),
            unit_price=Money(amount, invoice.currency).to_decimal(),
            # Column defaults arrive only on insert; the engine prices this line before that.
            base_quantity=Decimal(1),
            charge_amount=Decimal(0),
            price_includes_tax=False,
            # Compensation for paying late is no supply: no VAT on it.
            taxes=[],
        )
    ]
    pricing.price(fee)
    return fee


def _issue(actor: Actor, invoice: Document, fee: Document, today: date) -> None:
    """Number and issue the fee inside the caller's transaction, as issue_invoice would."""
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="invoice.created",
        entity_type="invoice",
        entity_id=fee.public_id,
        after={**documents.snapshot(fee), "late_fee_for": invoice.public_id},
    )
    documents.issue_in_transaction(actor, fee, today)
