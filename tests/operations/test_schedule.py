"""The periodic tasks: registered on RQ's cron scheduler with their intervals, each leaving a
heartbeat when it runs; the scheduler and the workers beat too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue

from portal.commands.operations import scheduler_command
from portal.extensions import db as _db
from portal.jobs import QUEUES, schedule
from portal.jobs.worker import PortalSimpleWorker
from portal.models import Heartbeat, NotificationChannel, OutboxMessage
from portal.services import operations
from tests.services import factories

pytestmark = pytest.mark.redis

EXPECTED = {
    "outbox-sweep": (60, "default", "portal.jobs.schedule.sweep_outbox"),
    "recurring-invoices": (3600, "default", "portal.jobs.schedule.make_recurring_invoices"),
    "reminders": (3600, "email", "portal.jobs.schedule.send_reminders"),
    "bounces": (300, "email", "portal.jobs.schedule.read_bounces"),
    "late-fees": (86400, "default", "portal.jobs.schedule.apply_late_fees"),
    "quote-expiry": (86400, "default", "portal.jobs.schedule.expire_quotes"),
    "overdue-invoices": (86400, "default", "portal.jobs.schedule.notify_overdue_invoices"),
    "audit-verify": (86400, "default", "portal.jobs.schedule.verify_audit"),
    "webhook-retries": (30, "webhooks", "portal.jobs.schedule.retry_webhooks"),
    "webhook-purge": (86400, "default", "portal.jobs.schedule.purge_webhook_bodies"),
    "api-purge": (3600, "default", "portal.jobs.schedule.purge_api_records"),
    "tracking-purge": (86400, "default", "portal.jobs.schedule.purge_tracking_data"),
}
# Once a night at a fixed time rather than every so often.
NIGHTLY = {
    "risk-retrain": ("30 2 * * *", "analytics", "portal.jobs.schedule.retrain_risk_models"),
}


def _beats(prefix: str) -> dict[str, Heartbeat]:
    _db.session.expire_all()
    rows = _db.session.query(Heartbeat).filter(Heartbeat.name.startswith(prefix)).all()
    return {row.name.removeprefix(prefix): row for row in rows}


def test_every_task_is_registered_with_its_interval(app, db, redis_url):
    scheduler = schedule.build_scheduler(Redis.from_url(redis_url))
    jobs = scheduler.get_jobs()
    registered = {
        job.name: (job.interval, job.queue_name, job.func_name) for job in jobs if job.cron is None
    }
    nightly = {job.name: (job.cron, job.queue_name, job.func_name) for job in jobs if job.cron}
    assert registered == EXPECTED
    assert nightly == NIGHTLY


def test_the_scheduler_command_lists_the_tasks(app, db, redis_url):
    # Invoked as an object: cli.py registers it as ``invoice-lite scheduler``.
    result = app.test_cli_runner().invoke(scheduler_command, ["--list"])
    assert result.exit_code == 0, result.output
    assert "outbox-sweep         every     60s on default" in result.output
    assert "audit-verify         every  86400s on default" in result.output
    assert "risk-retrain         cron 30 2 * * * on analytics" in result.output


def test_scheduled_tasks_run_on_a_worker_and_leave_heartbeats(app, team, db, redis_url):
    connection = Redis.from_url(redis_url)
    scheduler = schedule.build_scheduler(connection)
    # Interval jobs are due at once when the scheduler starts.
    assert {job.name for job in scheduler.enqueue_jobs()} == set(EXPECTED)
    scheduler.heartbeat()
    assert _beats("scheduler")[""].details["redis"] == "ok"

    worker = PortalSimpleWorker(
        [Queue(q, connection=connection) for q in QUEUES], connection=connection
    )
    worker.work(burst=True)

    tasks = _beats(operations.TASK_PREFIX)
    assert set(tasks) == set(EXPECTED)
    for name, beat in tasks.items():
        assert beat.details["ok"] is True, (name, beat.details)
    assert tasks["outbox-sweep"].details["result"] == {"dispatched": 0, "requeued": 0}
    assert tasks["audit-verify"].details["result"]["ok"] is True
    workers = _beats(operations.WORKER_PREFIX)
    assert workers[worker.name].details["state"] == "stopped"
    assert workers[worker.name].details["queues"] == list(QUEUES)
    # Run twice, the tasks find nothing left to do.
    assert schedule.sweep_outbox() == {"dispatched": 0, "requeued": 0}
    assert schedule.expire_quotes() == {"quotes": 0}


def test_a_failing_task_records_its_error_and_raises(app, db, monkeypatch):
    def broken(limit: int = 500) -> int:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("portal.services.outbox.dispatch_pending", broken)
    with pytest.raises(RuntimeError, match="database on fire"):
        schedule.sweep_outbox()
    beat = _beats(operations.TASK_PREFIX)["outbox-sweep"]
    assert beat.details["ok"] is False
    assert beat.details["error"] == "RuntimeError: database on fire"


def test_the_scheduler_rides_out_redis_refusing(app, db):
    scheduler = schedule.build_scheduler(Redis.from_url("redis://127.0.0.1:1/0"))
    assert scheduler.enqueue_jobs() == []
    assert scheduler.calculate_sleep_interval() == schedule.REDIS_RETRY_SECONDS
    scheduler.heartbeat()
    beat = _beats("scheduler")[""]
    assert beat.details["redis"] == "down"
    assert beat.beat_at.replace(tzinfo=UTC) > datetime.now(UTC) - timedelta(minutes=1)


def test_an_invoice_that_falls_overdue_is_announced_once(app, team, db, monkeypatch):
    dispatched: list[int] = []
    monkeypatch.setattr("portal.services.outbox.dispatch", dispatched.append)
    actor = team.actor()
    _db.session.add(
        NotificationChannel(
            business_id=team.business.id,
            provider="slack",
            name="#money",
            target="https://hooks.slack.com/services/T0/B0/x",
            events=["invoice.overdue"],
        )
    )
    invoice = factories.issued_invoice(actor, factories.client(actor))
    invoice.due_date = date(2026, 3, 1)
    old = factories.issued_invoice(actor, factories.client(actor, name="Old Co"))
    old.due_date = date(2025, 1, 1)
    _db.session.commit()

    assert operations.notify_overdue_invoices(today=date(2026, 3, 1)) == 0  # due today: not yet
    assert operations.notify_overdue_invoices(today=date(2026, 3, 2)) == 1
    assert operations.notify_overdue_invoices(today=date(2026, 3, 3)) == 0
    (message,) = _db.session.query(OutboxMessage).filter_by(kind="notify.channel").all()
    assert message.key.endswith(f"-invoice.overdue-{invoice.public_id}")
    assert message.payload["title"] == f"Invoice {invoice.number} is overdue"
    # Handed over after the commit, once.
    assert dispatched == [message.id]
