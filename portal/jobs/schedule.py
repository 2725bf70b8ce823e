"""The periodic work, run by RQ's own cron scheduler (``invoice-lite scheduler``).

RQ 2.12's ``CronScheduler`` enqueues each registered function on its queue every ``interval``
seconds (the first time at start-up) and a worker runs it. Every task here is idempotent, so a
scheduler restarted, or two of them running, does no work twice; each writes its ``task:<name>``
heartbeat with what it did.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq.cron import CronJob, CronScheduler

from portal.extensions import db
from portal.jobs.context import with_app
from portal.services import operations
from portal.services.operations import TASK_PERIODS

log = logging.getLogger(__name__)

# How long the scheduler waits before asking a Redis that refused it again.
REDIS_RETRY_SECONDS = 5


def _run(name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = datetime.now(UTC)
    try:
        result = work()
    except Exception as exc:
        db.session.rollback()
        operations.record_task(name, started, error=f"{type(exc).__name__}: {exc}")
        raise
    operations.record_task(name, started, result=result)
    return result


@with_app
def sweep_outbox() -> dict[str, Any]:
    """Hand every pending outbox message to its queue (Redis was down, or a dispatch was lost),
    and again each queued one whose job is gone (Redis lost its data, a worker died)."""
    from portal.services.outbox import dispatch_pending, requeue_lost

    return _run(
        "outbox-sweep", lambda: {"dispatched": dispatch_pending(), "requeued": requeue_lost()}
    )


@with_app
def make_recurring_invoices() -> dict[str, Any]:
    from portal.services.recurring import run_due_schedules

    return _run("recurring-invoices", lambda: {"invoices": len(run_due_schedules())})


@with_app
def apply_late_fees() -> dict[str, Any]:
    from portal.services.late_fees import apply_late_fees as apply

    return _run("late-fees", lambda: {"invoices": len(apply())})


@with_app
def expire_quotes() -> dict[str, Any]:
    from sqlalchemy import select

    from portal.models import Business
    from portal.services.pricing import business_today
    from portal.services.quotes import expire_quotes as expire

    def work() -> dict[str, Any]:
        expired = 0
        for business in list(db.session.scalars(select(Business).order_by(Business.id))):
            expired += len(expire(business, business_today(business)))
        return {"quotes": expired}

    return _run("quote-expiry", work)


@with_app
def notify_overdue_invoices() -> dict[str, Any]:
    return _run("overdue-invoices", lambda: {"notified": operations.notify_overdue_invoices()})


@with_app
def send_reminders() -> dict[str, Any]:
    def work() -> dict[str, Any]:
        try:
            from portal.services.reminders import (  # type: ignore[import-not-found,unused-ignore]
                send_due_reminders,
            )
        except ImportError:
            return {"skipped": "reminders are not installed"}
        sent = send_due_reminders()
        return {"reminders": len(sent) if isinstance(sent, list | tuple | set) else sent}

    return _run("reminders", work)


@with_app
def verify_audit() -> dict[str, Any]:
    from portal.jobs.audit import verify_audit_chains

    def work() -> dict[str, Any]:
        result = verify_audit_chains()
        if not result["ok"]:
            # A broken chain is news: the task shows as failed on the status page.
            raise RuntimeError(f"audit chain broken: {result.get('broken')}")
        return result

    return _run("audit-verify", work)


@with_app
def retrain_risk_models() -> dict[str, Any]:
    from portal.jobs.analytics import retrain_all

    return _run("risk-retrain", retrain_all)


@with_app
def retry_webhooks() -> dict[str, Any]:
    """Hand each webhook delivery whose next attempt is due to the ``webhooks`` workers."""
    from portal.services.webhooks import hand_over_due

    return _run("webhook-retries", lambda: {"queued": hand_over_due()})


@with_app
def purge_webhook_bodies() -> dict[str, Any]:
    from portal.services.webhooks import purge_bodies

    return _run("webhook-purge", lambda: {"deliveries": purge_bodies()})


@with_app
def purge_api_records() -> dict[str, Any]:
    """Idempotency records older than a day (signature nonces are purged as they are spent)."""
    from portal.api.idempotency import purge_expired

    return _run("api-purge", lambda: {"idempotency_records": purge_expired()})


@with_app
def purge_tracking_data() -> dict[str, Any]:
    """Email opens, view times and link visits older than each business's retention."""
    from portal.services.gdpr import purge_tracking

    return _run("tracking-purge", lambda: purge_tracking().as_dict())


@with_app
def read_bounces() -> dict[str, Any]:
    """Delivery status notifications that came back to the bounce mailbox, if one is set."""
    from pathlib import Path

    from flask import current_app

    from portal.services.delivery import read_bounce_mailbox

    def work() -> dict[str, Any]:
        folder = current_app.config.get("BOUNCE_MAILDIR")
        if not folder:
            return {"skipped": "no bounce mailbox is configured (INVOICE_LITE_BOUNCE_MAILDIR)"}
        found = read_bounce_mailbox(Path(folder))
        return {"messages": found.messages, "reports": found.reports, "bounced": found.bounced}

    return _run("bounces", work)


# name -> (function, queue). The intervals come from ``operations.TASK_PERIODS``, which the
# status page uses to tell a late task.
TASKS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "outbox-sweep": (sweep_outbox, "default"),
    "recurring-invoices": (make_recurring_invoices, "default"),
    "reminders": (send_reminders, "email"),
    "bounces": (read_bounces, "email"),
    "late-fees": (apply_late_fees, "default"),
    "quote-expiry": (expire_quotes, "default"),
    "overdue-invoices": (notify_overdue_invoices, "default"),
    "audit-verify": (verify_audit, "default"),
    "webhook-retries": (retry_webhooks, "webhooks"),
    "webhook-purge": (purge_webhook_bodies, "default"),
    "api-purge": (purge_api_records, "default"),
    "tracking-purge": (purge_tracking_data, "default"),
}
# name -> (function, queue, cron): work run at a time of day rather than every period.
NIGHTLY: dict[str, tuple[Callable[[], dict[str, Any]], str, str]] = {
    "risk-retrain": (retrain_risk_models, "analytics", "30 2 * * *"),
}


class PortalScheduler(CronScheduler):
    """RQ's cron scheduler that also beats in the database and rides out a Redis outage.

    RQ's loop wakes at least once a minute and calls ``heartbeat``; we record the ``scheduler``
    heartbeat there. If Redis refuses an enqueue, the job stays due and is tried again a few
    seconds later instead of the process dying.
    """

    def __init__(self, connection: Redis, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self.redis_error = ""

    def enqueue_jobs(self) -> list[CronJob]:
        try:
            enqueued = super().enqueue_jobs()
        except RedisError as exc:
            self.redis_error = str(exc)
            self.log.warning("CronScheduler %s: Redis refused an enqueue (%s)", self.name, exc)
            return []
        self.redis_error = ""
        return enqueued

    def heartbeat(self) -> None:
        try:
            operations.beat(
                operations.SCHEDULER,
                {
                    "name": self.name,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "redis": "down" if self.redis_error else "ok",
                    "redis_error": self.redis_error,
                    "jobs": len(self.get_jobs()),
                },
            )
        except Exception:
            db.session.rollback()
            self.log.exception("CronScheduler %s: could not record its heartbeat", self.name)
        try:
            super().heartbeat()
        except RedisError as exc:
            self.redis_error = str(exc)

    def calculate_sleep_interval(self) -> float:
        if self.redis_error:
            return REDIS_RETRY_SECONDS
        return super().calculate_sleep_interval()


def register_tasks(scheduler: CronScheduler) -> list[CronJob]:
    """Register every periodic task on ``scheduler`` with its interval."""
    return [
        scheduler.register(
            func,
            queue_name=queue,
            interval=TASK_PERIODS[name],
            name=name,
            # A run that cannot finish within its period is stuck; let the next one try.
            job_timeout=min(TASK_PERIODS[name], 3600) * 10,
            # Nobody reads a run's result from RQ: the heartbeat has it.
            result_ttl=TASK_PERIODS[name] * 2,
        )
        for name, (func, queue) in TASKS.items()
    ] + [
        scheduler.register(
            func, queue_name=queue, cron=cron, name=name, job_timeout=4 * 3600, result_ttl=2 * 86400
        )
        for name, (func, queue, cron) in NIGHTLY.items()
    ]


def build_scheduler(connection: Redis | None = None) -> PortalScheduler:
    from portal.jobs import redis_connection

    connection = connection or redis_connection()
    if connection is None:
        raise RuntimeError("REDIS_URL is not set: the scheduler needs Redis.")
    scheduler = PortalScheduler(connection)
    register_tasks(scheduler)
    return scheduler
