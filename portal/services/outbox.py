"""The outbox: outside work recorded with the change that causes it, done after commit.

A service adds a message inside its transaction (``add``), commits, then calls ``dispatch``.
With Redis the message goes to an RQ queue; without it the job runs right there. If Redis is
down the message stays *pending* and ``dispatch_pending`` (run by the scheduler) hands it over
later, and ``requeue_lost`` queues again a message whose job Redis no longer has: nothing is
lost. Every job is keyed, so it never does its work twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Business, OutboxMessage
from portal.models.base import utcnow

log = logging.getLogger(__name__)

Handler = Callable[[OutboxMessage], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}
# Seconds RQ waits before each retry; the first run plus one per interval.
RETRY_INTERVALS = [10, 60, 300, 900]
MAX_ATTEMPTS = 1 + len(RETRY_INTERVALS)


class TemporaryFailure(Exception):
    """Worth trying again later (a 4xx from SMTP, a timeout, a 429)."""


class PermanentFailure(Exception):
    """Will fail the same way every time (a 5xx from SMTP, a refused address)."""


def handles(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that does one kind of outside work."""

    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return register


def add(
    business: Business | None,
    kind: str,
    key: str,
    payload: dict[str, Any],
    queue: str = "default",
) -> OutboxMessage:
    """Add a message to the caller's transaction; asking again with the same key returns the
    message already there."""
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
    if existing is not None:
        return existing
    message = OutboxMessage(
        business_id=business.id if business is not None else None,
        kind=kind,
        key=key,
        queue=queue,
        payload=payload,
    )
    db.session.add(message)
    return message


def job_id_for(key: str) -> str:
    """The RQ job of the message with this key (RQ allows letters, digits, "-" and "_")."""
    return "outbox-" + re.sub(r"[^A-Za-z0-9_-]", "_", key)


def enqueue(
    connection: Redis, message: OutboxMessage, *, after_failures: int = 0, delay: int = 0
) -> None:
    """Put the message's job on its queue (after ``delay`` seconds), with RQ retries for the
    attempts still left after ``after_failures`` failed ones."""
    from rq import Queue, Retry

    from portal.jobs.outbox import run_outbox

    left = RETRY_INTERVALS[after_failures:]
    queue = Queue(message.queue, connection=connection)
    options: dict[str, Any] = {
        "job_id": job_id_for(message.key),
        "retry": Retry(max=len(left), interval=left) if left else None,
    }
    if delay:
        queue.enqueue_in(timedelta(seconds=delay), run_outbox, message.id, **options)
    else:
        queue.enqueue(run_outbox, message.id, **options)


def dispatch(message_id: int) -> None:
    """Hand one committed message to its queue, or do it now when there is no Redis."""
    from portal.jobs import redis_connection
    from portal.jobs.outbox import run_outbox

    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.status in {"done", "failed", "queued"}:
        return
    connection = redis_connection()
    if connection is None:
        try:
            run_outbox(message_id)
        except Exception:
            log.exception("outbox %s failed inline", message_id)
        return
    try:
        enqueue(connection, message)
    except RedisError as exc:
        log.warning("outbox %s stays pending: Redis refused it (%s)", message.key, exc)
        return
    message.status = "queued"
    message.queued_at = utcnow()
    db.session.commit()


def dispatch_pending(limit: int = 500) -> int:
    """Hand over every message still pending (Redis was down, or nobody dispatched it)."""
    ids = list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending")
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    for message_id in ids:
        dispatch(message_id)
    return len(ids)


#: A message queued this long ago whose RQ job is gone is handed over again.
LOST_AFTER = timedelta(minutes=15)


def _job_lost(connection: Redis, message: OutboxMessage, waiting: dict[str, set[str]]) -> bool:
    """True when no job will ever run the message: Redis lost it (a restart without
    persistence), or a worker died holding it. ``waiting`` keeps each queue's job ids, read
    once per sweep."""
    from rq import Queue
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    job_id = job_id_for(message.key)
    try:
        status = Job.fetch(job_id, connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return True
    if status == JobStatus.QUEUED:
        if message.queue not in waiting:
            queue = Queue(message.queue, connection=connection)
            waiting[message.queue] = set(queue.get_job_ids())
        return job_id not in waiting[message.queue]
    return status in {
        JobStatus.FAILED,
        JobStatus.FINISHED,
        JobStatus.CANCELED,
        JobStatus.STOPPED,
    }


def requeue_lost(now: datetime | None = None, limit: int = 500) -> int:
    """Hand over again each message queued long ago whose job is gone; returns how many."""
    from portal.jobs import redis_connection

    connection = redis_connection()
    if connection is None:
        return 0
    cutoff = (now or utcnow()) - LOST_AFTER
    queued = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "queued", OutboxMessage.queued_at < cutoff)
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    try:
        waiting: dict[str, set[str]] = {}
        lost = [m.id for m in queued if _job_lost(connection, m, waiting)]
    except RedisError as exc:
        log.warning("could not look for lost outbox jobs: %s", exc)
        db.session.rollback()
        return 0
    requeued = 0
    for message_id in lost:
        # Only if still queued: a job may have finished it meanwhile.
        changed = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "queued")
            .values(status="pending")
        )
        db.session.commit()
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            log.warning("outbox message %s lost its job; handing it over again", message_id)
            dispatch(message_id)
            requeued += 1
    return requeued


def retry(message_id: int) -> None:
    """A person asked to try a failed message again."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.status != "failed":
        return
    message.status = "pending"
    message.attempts = 0
    db.session.commit()
    dispatch(message_id)
