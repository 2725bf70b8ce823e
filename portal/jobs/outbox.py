"""The job that does one outbox message's work, once, and takes waiting emails along.

An email job, once its own message is done, sends other emails still waiting in the ``email``
queue on the same SMTP session: it claims each one by removing its job from the queue (only
one process can), so a backlog (a month's invoices, a morning's reminders) is not paid for
job by job. Each message taken along is its own transaction, with the same retries and
failures as one run by its own job.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from redis import Redis
from redis.commands.core import Script
from rq import Queue, get_current_job
from rq.job import Job
from sqlalchemy import select, update

from portal.extensions import db
from portal.jobs.context import with_app
from portal.models import OutboxMessage
from portal.models.base import utcnow
from portal.services import outbox
from portal.services.outbox import HANDLERS, MAX_ATTEMPTS, RETRY_INTERVALS, PermanentFailure

log = logging.getLogger(__name__)

#: The most emails one job takes along, and for how long it keeps taking more.
TAKE_ALONG_MAX = 200
TAKE_ALONG_SECONDS = 15.0
_CANDIDATES = 25  # waiting messages looked up at a time


@with_app
def run_outbox(message_id: int) -> dict[str, Any]:
    """Load the message, do nothing if it is done or failed, else run its handler and record
    the result.

    A temporary failure raises, so RQ retries with backoff; after the last attempt, or at once
    for a permanent failure, the message is marked failed, RQ is told not to try again, and the
    message shows on the Jobs page until a person retries it (``outbox.retry``).
    """
    result, queue = _run(message_id)
    job = get_current_job()
    if queue == "email" and job is not None:
        try:
            _take_along(job.connection, message_id)
        except Exception:
            # The job's own message is done; what was not taken along waits for its own job.
            db.session.rollback()
            log.exception("taking waiting emails along after outbox %s failed", message_id)
    return result


def _run(message_id: int, *, own_job: bool = True) -> tuple[dict[str, Any], str | None]:
    """Run one message; returns its result and queue. ``own_job`` is False for a message
    taken along, whose failure must not end the carrying job's retries."""
    message = _begin_attempt(message_id)
    if message is None:
        message = db.session.get(OutboxMessage, message_id)
        db.session.commit()
        if message is None:
            return {}, None
        if message.status == "done":
            return dict(message.result), message.queue
        # A run RQ had already scheduled before the failure was final: nothing to do.
        return {"failed": message.last_error}, message.queue
    queue = message.queue
    handler = HANDLERS.get(message.kind)
    try:
        if handler is None:
            raise PermanentFailure(f"no handler for outbox messages of kind {message.kind!r}")
        result = handler(message)
    except PermanentFailure as exc:
        db.session.rollback()
        _record_failure(message_id, str(exc), final=True, own_job=own_job)
        raise
    except Exception as exc:
        db.session.rollback()
        _record_failure(message_id, f"{type(exc).__name__}: {exc}", final=False, own_job=own_job)
        raise
    message.status = "done"
    message.done_at = utcnow()
    message.result = result
    message.last_error = ""
    db.session.commit()
    return result, queue


def _begin_attempt(message_id: int) -> OutboxMessage | None:
    """Count one more attempt of a message still to be done, locking its row until the
    transaction ends: one statement. None when it is done, failed or gone."""
    return db.session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.not_in(("done", "failed")))
        .values(attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).one_or_none()


def _record_failure(message_id: int, error: str, *, final: bool, own_job: bool = True) -> None:
    """Write the attempt and its error; a final failure ends RQ's retries."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        return
    message.attempts += 1
    message.last_error = error[:4000]
    if final or message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
        if own_job:
            _stop_rq_retries()
    db.session.commit()


def _stop_rq_retries() -> None:
    """RQ retries whatever raises; a failure that is final must not be run again by it.

    The worker decides on a retry from the very job object the function runs under, so
    clearing its retries here leaves the job in RQ's failed registry instead.
    """
    job = get_current_job()
    if job is not None:
        job.retries_left = 0


def _waiting(after: int) -> list[tuple[int, str]]:
    """Email messages queued for a first run, oldest first (a retry waits for its time)."""
    rows = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.key)
        .where(
            OutboxMessage.status == "queued",
            OutboxMessage.queue == "email",
            OutboxMessage.attempts == 0,
            OutboxMessage.id > after,
        )
        .order_by(OutboxMessage.id)
        .limit(_CANDIDATES)
    ).all()
    db.session.commit()
    return [(row.id, row.key) for row in rows]


# Remove the job from the queue and, only if that worked, its hash: one round trip, atomic.
_CLAIM = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return 1
"""


def _claim(claim: Script, queue: Queue, key: str) -> bool:
    """Take the message's job off the queue; False when a worker has it already."""
    job = Job(outbox.job_id_for(key), connection=queue.connection)
    keys = [queue.key, job.key, job.dependents_key, job.dependencies_key]
    return bool(claim(keys=keys, args=[job.id]))


def _take_along(connection: Redis, carrier_id: int) -> int:
    """Run email messages whose jobs still wait in the queue; returns how many were taken.

    A message claimed here and lost before it ran (the worker died) stays *queued* with no
    job; the scheduler's sweep hands it over again (``outbox.requeue_lost``).
    """
    queue = Queue("email", connection=connection)
    claim = connection.register_script(_CLAIM)
    deadline = time.monotonic() + TAKE_ALONG_SECONDS
    taken, after = 0, 0
    while taken < TAKE_ALONG_MAX and time.monotonic() < deadline:
        waiting = [(i, key) for i, key in _waiting(after) if i != carrier_id]
        if not waiting:
            break
        for message_id, key in waiting:
            after = message_id
            if taken >= TAKE_ALONG_MAX or time.monotonic() >= deadline:
                break
            if _claim(claim, queue, key):
                taken += 1
                _run_taken(connection, message_id)
    return taken


def _run_taken(connection: Redis, message_id: int) -> None:
    """Run a message taken along; a temporary failure goes back to the queue for its retry."""
    try:
        _run(message_id, own_job=False)
    except Exception as exc:
        message = db.session.get(OutboxMessage, message_id)
        if message is None or message.status != "queued":
            return  # done after all, or failed for good
        failures = message.attempts
        wait = RETRY_INTERVALS[min(failures, len(RETRY_INTERVALS)) - 1]
        log.info("outbox %s failed (%s); trying again in %s s", message.key, exc, wait)
        outbox.enqueue(connection, message, after_failures=failures, delay=wait)
