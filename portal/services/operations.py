"""Is the machinery alive? Heartbeats of the scheduler, workers and periodic tasks, the state of
the queues, and the alerts an operator needs: a stalled scheduler, an invoice that fell overdue.

Heartbeats live in the database, not Redis, so the status page can still say when the scheduler
last ran while Redis is down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, get_currency_precision
from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, inspect, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from portal.billing.status import OPEN_STATUSES
from portal.extensions import db
from portal.models import Business, Document, DocumentKind, Heartbeat, OutboxMessage
from portal.services import outbox
from portal.services.errors import NotFound
from portal.services.pricing import business_today

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
TASK_PREFIX = "task:"
WORKER_PREFIX = "worker:"

MINUTE, HOUR, DAY = 60, 3600, 86400
# Every periodic task and how often the scheduler runs it, in seconds. ``portal.jobs.schedule``
# registers these; the status page calls a task late when it missed two runs.
TASK_PERIODS: dict[str, int] = {
    "outbox-sweep": MINUTE,
    "recurring-invoices": HOUR,
    "reminders": HOUR,
    "bounces": 5 * MINUTE,
    "late-fees": DAY,
    "quote-expiry": DAY,
    "overdue-invoices": DAY,
    "audit-verify": DAY,
    "webhook-retries": 30,
    "webhook-purge": DAY,
    "risk-retrain": DAY,
    "api-purge": HOUR,
    "tracking-purge": DAY,
}
# The scheduler beats at least once a minute; ten minutes of silence is a stall.
SCHEDULER_STALL = timedelta(minutes=10)
# An idle RQ worker wakes about every seven minutes (worker_ttl - 15 s).
WORKER_LATE = timedelta(minutes=10)
# Stopped or vanished workers drop off the page after a day.
WORKER_FORGET = timedelta(days=1)
# An invoice that fell overdue longer ago than this is not announced: the first run after an
# install (or a long outage) must not flood the team with years of old invoices.
OVERDUE_LOOKBACK = timedelta(days=7)
PROBE_TIMEOUT = 2.0


def _now() -> datetime:
    return datetime.now(UTC)


# Heartbeats


def beat(name: str, details: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Record a sign of life of ``name`` and commit. An upsert, so two writers never collide."""
    values = {"name": name, "beat_at": at or _now(), "details": details or {}}
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Heartbeat).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Heartbeat.name],
        set_={"beat_at": stmt.excluded.beat_at, "details": stmt.excluded.details},
    )
    db.session.execute(stmt)
    db.session.commit()


def record_task(
    name: str,
    started: datetime,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """The ``task:<name>`` heartbeat: when the task last ran, how long it took, what it did."""
    finished = _now()
    details: dict[str, Any] = {
        "ok": error is None,
        "started_at": started.isoformat(),
        "seconds": round((finished - started).total_seconds(), 3),
        "result": result or {},
    }
    if error is not None:
        details["error"] = error[:1000]
    beat(TASK_PREFIX + name, details, at=finished)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat as the status page shows it."""

    name: str
    label: str
    beat_at: datetime | None
    age_seconds: int | None
    late: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.details.get("ok") is False


def _beat(
    row: Heartbeat | None, name: str, label: str, late_after: timedelta, now: datetime
) -> Beat:
    if row is None:
        return Beat(name, label, None, None, late=True)
    at = _aware(row.beat_at)
    age = now - at
    return Beat(name, label, at, int(age.total_seconds()), age > late_after, dict(row.details))


def scheduler_beat(now: datetime | None = None) -> Beat:
    now = now or _now()
    row = db.session.get(Heartbeat, SCHEDULER)
    return _beat(row, SCHEDULER, "Scheduler", SCHEDULER_STALL, now)


def task_late_after(period: int) -> timedelta:
    """A task is late when it missed two runs, with a minute's grace for a busy queue."""
    return timedelta(seconds=2 * period + 60)


# Redis


def scheduler_expected() -> bool:
    """A scheduler runs only beside Redis; without it (the embedded demo) nothing is late."""
    return bool(current_app.config.get("REDIS_URL"))


def _redis() -> Redis | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    return Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT)


@dataclass(frozen=True, slots=True)
class QueueState:
    name: str
    queued: int
    started: int
    scheduled: int
    failed: int


def _queues(connection: Redis) -> list[QueueState]:
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    from portal.jobs import QUEUES

    states = []
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        states.append(
            QueueState(
                name=name,
                queued=queue.count,
                started=StartedJobRegistry(queue=queue).count,
                scheduled=ScheduledJobRegistry(queue=queue).count,
                failed=FailedJobRegistry(queue=queue).count,
            )
        )
    return states


# The status page


@dataclass(frozen=True, slots=True)
class Status:
    redis: str  # ok, down, absent
    redis_error: str
    queues: list[QueueState]
    outbox: dict[str, int]
    scheduler: Beat
    workers: list[Beat]
    tasks: list[Beat]
    stalled: bool

    @property
    def any_late(self) -> bool:
        return self.stalled or any(b.late for b in [*self.workers, *self.tasks])


def status_snapshot(business: Business, now: datetime | None = None) -> Status:
    """Everything the status page shows. Queues and heartbeats are the installation's; outbox
    counts are the business's own."""
    now = now or _now()
    expected = scheduler_expected()
    redis_state, redis_error, queues = "absent", "", []
    connection = _redis()
    if connection is not None:
        try:
            queues = _queues(connection)
            redis_state = "ok"
        except RedisError as exc:
            redis_state, redis_error = "down", str(exc)
    counts = dict.fromkeys(("pending", "queued", "done", "failed"), 0)
    rows = db.session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.business_id == business.id)
        .group_by(OutboxMessage.status)
    )
    counts.update({status: int(n) for status, n in rows})
    beats = {row.name: row for row in db.session.scalars(select(Heartbeat))}
    scheduler = _beat(beats.get(SCHEDULER), SCHEDULER, "Scheduler", SCHEDULER_STALL, now)
    if not expected:
        scheduler = Beat(SCHEDULER, "Scheduler", scheduler.beat_at, scheduler.age_seconds, False)
    workers = [
        _worker_beat(row, now)
        for name, row in sorted(beats.items())
        if name.startswith(WORKER_PREFIX) and now - _aware(row.beat_at) < WORKER_FORGET
    ]
    tasks = [
        _beat(
            beats.get(TASK_PREFIX + name),
            TASK_PREFIX + name,
            name,
            task_late_after(period),
            now,
        )
        for name, period in TASK_PERIODS.items()
    ]
    if not expected:
        tasks = [Beat(t.name, t.label, t.beat_at, t.age_seconds, False, t.details) for t in tasks]
    return Status(
        redis=redis_state,
        redis_error=redis_error,
        queues=queues,
        outbox=counts,
        scheduler=scheduler,
        workers=workers,
        tasks=tasks,
        stalled=expected and scheduler.late,
    )


def _worker_beat(row: Heartbeat, now: datetime) -> Beat:
    name = row.name.removeprefix(WORKER_PREFIX)
    beat = _beat(row, row.name, name, WORKER_LATE, now)
    if row.details.get("state") == "stopped":
        # A worker that said goodbye is not late, just gone.
        return Beat(beat.name, beat.label, beat.beat_at, beat.age_seconds, False, beat.details)
    return beat


# Alerts


def _stall_id(beat: Beat) -> str:
    start = beat.beat_at.strftime("%Y%m%dT%H%M%SZ") if beat.beat_at else "never"
    return f"scheduler-{start}"


def alert_if_scheduler_stalled(now: datetime | None = None) -> int:
    """Tell every business once per stall that the scheduler stopped. Returns the new messages.

    A stall is named by the scheduler's last beat (when it stopped); that name keys the outbox
    messages ``notify`` adds, so asking again adds nothing and a later stall alerts again.
    """
    if not scheduler_expected():
        return 0
    beat = scheduler_beat(now)
    if not beat.late:
        return 0
    last = beat.beat_at.isoformat(timespec="seconds") if beat.beat_at else "never"
    data = {
        "id": _stall_id(beat),
        "title": "The scheduler has stopped",
        "text": "Periodic work (outbox sweep, recurring invoices, reminders) is not running.",
        "url": "/app/status",
        "facts": {"Last seen": last},
    }
    businesses = list(db.session.scalars(select(Business).order_by(Business.id)))
    return _notify([(b, "scheduler.stalled", data) for b in businesses])


def _notify(items: list[tuple[Business, str, dict[str, Any]]]) -> int:
    """``notifications.notify`` each item, commit, dispatch what is new; returns how many."""
    try:
        from portal.services.notifications import notify  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return 0
    added: list[OutboxMessage] = []
    for business, event, data in items:
        try:
            # Without autoflush a message notify just added is still pending, one it found is not.
            with db.session.no_autoflush:
                messages = notify(business, event, data)
        except ValueError as exc:  # an event the notifications module does not know yet
            log.warning("notification %s not sent: %s", event, exc)
            continue
        added.extend(m for m in messages if inspect(m).pending)
    if not added:
        db.session.rollback()
        return 0
    try:
        db.session.commit()
    except IntegrityError:
        # Someone else told the same news at the same moment: theirs will be sent.
        db.session.rollback()
        return 0
    for message_id in [m.id for m in added]:
        try:
            outbox.dispatch(message_id)
        except Exception:
            # Committed, so not lost: the outbox sweep hands it over later.
            log.exception("outbox %s could not be dispatched", message_id)
    return len(added)


def _money(minor: int, currency: str, locale: str) -> str:
    amount = Decimal(minor).scaleb(-get_currency_precision(currency))
    return format_currency(amount, currency, locale=locale)


def notify_overdue_invoices(today: date | None = None) -> int:
    """Tell each business's channels once about every invoice that fell overdue.

    Overdue is not a stored status (it follows from the due date and the business's clock), so
    the daily run looks at invoices that fell overdue in the last week; the outbox key ``notify``
    makes from the invoice keeps each to one message per channel. Returns the new messages.
    """
    items: list[tuple[Business, str, dict[str, Any]]] = []
    for business in list(db.session.scalars(select(Business).order_by(Business.id))):
        on_day = today or business_today(business)
        invoices = db.session.scalars(
            select(Document)
            .where(
                Document.business_id == business.id,
                Document.kind == DocumentKind.INVOICE,
                Document.status.in_([s.value for s in OPEN_STATUSES]),
                Document.due_date < on_day,
                Document.due_date >= on_day - OVERDUE_LOOKBACK,
                Document.balance_minor > 0,
            )
            .order_by(Document.id)
        ).all()
        items.extend(
            (
                business,
                "invoice.overdue",
                {
                    "id": doc.public_id,
                    "title": f"Invoice {doc.number} is overdue",
                    "url": f"/app/invoices/{doc.public_id}",
                    "facts": {
                        "Due": doc.due_date.isoformat() if doc.due_date else "",
                        "Balance": _money(doc.balance_minor, doc.currency, business.locale),
                    },
                },
            )
            for doc in invoices
        )
    return _notify(items)


# The jobs page


def problem_messages(business: Business, limit: int = 200) -> list[OutboxMessage]:
    """The business's outbox messages that failed or still wait, newest first."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.business_id == business.id,
                OutboxMessage.status.in_(["failed", "pending"]),
            )
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def get_message(public_id: str, business: Business | None = None) -> OutboxMessage:
    """One outbox message; of ``business`` when given (another business's is not found)."""
    stmt = select(OutboxMessage).where(OutboxMessage.public_id == public_id)
    if business is not None:
        stmt = stmt.where(OutboxMessage.business_id == business.id)
    message = db.session.scalar(stmt)
    if message is None:
        raise NotFound("No such outbox message.")
    return message


def retry_message(message: OutboxMessage) -> OutboxMessage:
    """Try a failed message again (``outbox.retry``); anything else is left as it is."""
    outbox.retry(message.id)
    db.session.refresh(message)
    return message


# The probe


@dataclass(frozen=True, slots=True)
class Health:
    database: str
    redis: str
    scheduler_age_seconds: int | None
    scheduler_stalled: bool

    @property
    def ok(self) -> bool:
        return self.database == "ok" and self.redis != "down" and not self.scheduler_stalled

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "database": self.database,
            "redis": self.redis,
            "scheduler": {
                "age_seconds": self.scheduler_age_seconds,
                "stalled": self.scheduler_stalled,
            },
        }


def health(now: datetime | None = None) -> Health:
    """What a load balancer or monitor asks: can we reach the database, Redis, is the scheduler
    beating? Never raises."""
    database, age, stalled = "ok", None, False
    try:
        db.session.execute(text("SELECT 1"))
        beat = scheduler_beat(now)
        age = beat.age_seconds
        stalled = scheduler_expected() and beat.late
        db.session.rollback()
    except SQLAlchemyError as exc:
        log.warning("health: the database does not answer (%s)", exc)
        db.session.rollback()
        database = "down"
    redis_state = "absent"
    connection = _redis()
    if connection is not None:
        try:
            connection.ping()
            redis_state = "ok"
        except RedisError:
            redis_state = "down"
    return Health(database, redis_state, age, stalled)
