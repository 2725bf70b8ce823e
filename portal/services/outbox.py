"""The outbox: outside work recorded with the change that causes it, done after commit.

A service adds a message inside its transaction (``add``), commits, then calls ``dispatch``.
With Redis the message goes to an RQ queue; without it the job runs right there. If Redis is
down the message stays *pending* and ``dispatch_pending`` (run by the scheduler) hands it over
later: nothing is lost. Every job is keyed, so it never does its work twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select

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
    from rq import Queue, Retry

    try:
        Queue(message.queue, connection=connection).enqueue(
            run_outbox,
            message_id,
            # RQ job ids allow letters, digits, "-" and "_" only.
            job_id="outbox-" + re.sub(r"[^A-Za-z0-9_-]", "_", message.key),
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        )
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


def retry(message_id: int) -> None:
    """A person asked to try a failed message again."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.status != "failed":
        return
    message.status = "pending"
    message.attempts = 0
    db.session.commit()
    dispatch(message_id)
