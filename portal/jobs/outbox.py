"""The job that does one outbox message's work, once."""

from __future__ import annotations

from typing import Any

from rq import get_current_job
from sqlalchemy import select

from portal.extensions import db
from portal.jobs.context import with_app
from portal.models import OutboxMessage
from portal.models.base import utcnow
from portal.services.outbox import HANDLERS, MAX_ATTEMPTS, PermanentFailure


@with_app
def run_outbox(message_id: int) -> dict[str, Any]:
    """Load the message, do nothing if it is done or failed, else run its handler and record
    the result.

    A temporary failure raises, so RQ retries with backoff; after the last attempt, or at once
    for a permanent failure, the message is marked failed, RQ is told not to try again, and the
    message shows on the Jobs page until a person retries it (``outbox.retry``).
    """
    message = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    )
    if message is None:
        return {}
    if message.status == "done":
        db.session.commit()
        return dict(message.result)
    if message.status == "failed":
        # A run RQ had already scheduled before the failure was final: nothing to do.
        db.session.commit()
        return {"failed": message.last_error}
    handler = HANDLERS.get(message.kind)
    message.attempts += 1
    try:
        if handler is None:
            raise PermanentFailure(f"no handler for outbox messages of kind {message.kind!r}")
        result = handler(message)
    except PermanentFailure as exc:
        db.session.rollback()
        _record_failure(message_id, str(exc), final=True)
        raise
    except Exception as exc:
        db.session.rollback()
        _record_failure(message_id, f"{type(exc).__name__}: {exc}", final=False)
        raise
    message.status = "done"
    message.done_at = utcnow()
    message.result = result
    message.last_error = ""
    db.session.commit()
    return result


def _record_failure(message_id: int, error: str, *, final: bool) -> None:
    """Write the attempt and its error; a final failure ends RQ's retries."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        return
    message.attempts += 1
    message.last_error = error[:4000]
    if final or message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
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
