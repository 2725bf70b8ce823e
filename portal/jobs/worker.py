"""The RQ worker the ``worker`` command runs: RQ's own, plus a heartbeat in the database.

The heartbeat (``worker:<name>``) lets the status page show workers while Redis is down, and a
running worker is also where a stalled scheduler is noticed and announced.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import has_app_context
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.queue import Queue

from portal.extensions import db

log = logging.getLogger(__name__)

# RQ calls ``heartbeat`` often while a job runs; the database hears from us at most this often.
BEAT_EVERY_SECONDS = 60.0


class _DatabaseHeartbeat:
    """Mixed into RQ's worker classes; the methods it overrides are RQ's own."""

    name: str
    _last_db_beat: float = 0.0

    def _beat_db(self, state: str, *, force: bool = False) -> None:
        if not has_app_context():
            return
        moment = time.monotonic()
        if not force and moment - self._last_db_beat < BEAT_EVERY_SECONDS:
            return
        self._last_db_beat = moment
        from portal.services import operations

        worker: Any = self
        try:
            operations.beat(
                operations.WORKER_PREFIX + self.name,
                {
                    "state": state,
                    "queues": list(worker.queue_names()),
                    "host": worker.hostname,
                    "pid": worker.pid,
                },
            )
            operations.alert_if_scheduler_stalled()
        except Exception:
            db.session.rollback()
            log.exception("worker %s could not record its heartbeat", self.name)

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        super().heartbeat(*args, **kwargs)  # type: ignore[misc]
        self._beat_db("busy" if kwargs.get("pipeline") is not None else "alive")

    def register_birth(self) -> None:
        super().register_birth()  # type: ignore[misc]
        self._beat_db("started", force=True)

    def register_death(self) -> None:
        super().register_death()  # type: ignore[misc]
        self._beat_db("stopped", force=True)

    def work(self, *args: Any, with_scheduler: bool = True, **kwargs: Any) -> bool:
        # The outbox retries with intervals (RQ's ``Retry``): those jobs wait in the scheduled
        # registry until a worker's scheduler moves them back, so ours always runs one.
        return bool(super().work(*args, with_scheduler=with_scheduler, **kwargs))  # type: ignore[misc]


class PortalWorker(_DatabaseHeartbeat, Worker):
    """Forks a work horse per job, as RQ's ``Worker`` does."""

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        if has_app_context():
            # The horse is a fork: it must not share the parent's database connections.
            db.engine.dispose(close=False)
        super().main_work_horse(job, queue)


class PortalSimpleWorker(_DatabaseHeartbeat, SimpleWorker):
    """Runs jobs in its own process (tests, debugging)."""
