"""Background work: RQ on Redis when ``REDIS_URL`` is set, inline otherwise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from redis import Redis
from rq import Queue

QUEUES = ("default", "email", "sync", "webhooks", "analytics")


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: str
    inline_result: Any = None


def redis_connection() -> Redis | None:
    url = current_app.config.get("REDIS_URL")
    return Redis.from_url(url) if url else None


def enqueue(
    func: Callable[..., Any], *args: Any, queue: str = "default", job_id: str, **kwargs: Any
) -> Enqueued:
    """Hand a job to RQ, or run it now when there is no Redis (the embedded demo).

    ``job_id`` carries meaning (``verify-audit-2026-11-25``): RQ keeps one job per id.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")
    connection = redis_connection()
    if connection is None:
        return Enqueued(job_id, func(*args, **kwargs))
    job = Queue(queue, connection=connection).enqueue(func, *args, job_id=job_id, **kwargs)
    return Enqueued(job.id)
