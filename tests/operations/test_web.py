"""The status page, the outbox page with its Retry button, and /healthz."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portal.extensions import db as _db
from portal.jobs import QUEUES
from portal.models import NotificationChannel, OutboxMessage, Role
from portal.services import operations, outbox
from tests.conftest import make_team

FLAKY: dict[str, bool] = {"fail": True}


@outbox.handles("test.operations-flaky")
def _flaky(message: OutboxMessage) -> dict[str, Any]:
    if FLAKY["fail"]:
        raise outbox.PermanentFailure("550 mailbox unavailable")
    return {"sent": True}


@pytest.fixture(autouse=True)
def _reset() -> None:
    FLAKY["fail"] = True


def _failed(team: Any, key: str = "flaky-1") -> OutboxMessage:
    message = outbox.add(team.business, "test.operations-flaky", key, {})
    # As a worker leaves it after a permanent failure.
    message.status, message.attempts, message.last_error = "failed", 1, "550 mailbox unavailable"
    _db.session.commit()
    return message


def _stalled_scheduler(minutes: int = 15) -> datetime:
    at = (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)
    operations.beat(operations.SCHEDULER, {"name": "old"}, at=at)
    return at


@pytest.mark.parametrize("role", [Role.VIEWER, Role.STAFF, Role.ACCOUNTANT])
def test_below_admin_the_pages_and_retry_are_forbidden(login, team, role):
    client = login(role)
    message = _failed(team)
    assert client.get("/app/status").status_code == 403
    assert client.get("/app/outbox").status_code == 403
    response = client.post(f"/app/outbox/{message.public_id}/retry", headers={"HX-Request": "true"})
    assert response.status_code == 403
    _db.session.expire_all()
    assert message.status == "failed"


def test_the_outbox_page_lists_failed_messages_and_retry_answers_the_row(login, team):
    client = login(Role.ADMIN)
    message = _failed(team)
    page = client.get("/app/outbox").get_data(as_text=True)
    assert f'id="outbox-{message.public_id}"' in page
    assert "550 mailbox unavailable" in page
    assert "Retry" in page

    FLAKY["fail"] = False
    response = client.post(f"/app/outbox/{message.public_id}/retry", headers={"HX-Request": "true"})
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert row.startswith(f'<tr id="outbox-{message.public_id}">')
    assert ">done<" in row
    assert "Retry" not in row
    _db.session.expire_all()
    assert (message.status, message.result) == ("done", {"sent": True})


def test_without_htmx_retry_redirects_to_the_outbox_page(login, team):
    client = login(Role.OWNER)
    message = _failed(team)
    response = client.post(f"/app/outbox/{message.public_id}/retry")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/app/outbox")


def test_another_business_message_is_not_found(login, team):
    other = make_team("Other Co")
    message = _failed(other, key="flaky-other")
    client = login(Role.OWNER)
    assert client.post(f"/app/outbox/{message.public_id}/retry").status_code == 404
    assert message.public_id not in client.get("/app/outbox").get_data(as_text=True)


@pytest.mark.redis
def test_the_status_page_shows_queues_outbox_and_heartbeats(login, team, redis_url):
    client = login(Role.ADMIN)
    _failed(team)
    operations.beat(operations.SCHEDULER, {"name": "sched-1"})
    operations.record_task("outbox-sweep", datetime.now(UTC), result={"dispatched": 3})
    operations.beat(operations.WORKER_PREFIX + "w1", {"state": "alive", "queues": ["default"]})
    page = client.get("/app/status").get_data(as_text=True)
    assert 'id="queue-email"' in page
    assert 'id="scheduler-stalled"' not in page
    assert "{&#34;dispatched&#34;: 3}" in page or '{"dispatched": 3}' in page
    assert "Worker w1" in page
    snapshot = operations.status_snapshot(team.business)
    assert snapshot.outbox == {"pending": 0, "queued": 0, "done": 0, "failed": 1}
    assert [q.name for q in snapshot.queues] == list(QUEUES)
    tasks = {t.label: t for t in snapshot.tasks}
    assert not tasks["outbox-sweep"].late
    assert tasks["late-fees"].late  # never ran


@pytest.mark.redis
def test_a_stalled_scheduler_shows_a_banner_and_notifies_once_per_stall(
    login, team, redis_url, monkeypatch
):
    monkeypatch.setitem(
        __import__("portal.services.notifications", fromlist=["EVENTS"]).EVENTS,
        "scheduler.stalled",
        "Scheduler stalled",
    )
    dispatched: list[int] = []
    monkeypatch.setattr("portal.services.outbox.dispatch", dispatched.append)
    _db.session.add(
        NotificationChannel(
            business_id=team.business.id,
            provider="slack",
            target="https://hooks.slack.com/services/T0/B0/x",
            events=["scheduler.stalled"],
        )
    )
    _db.session.commit()
    stopped = _stalled_scheduler()
    client = login(Role.ADMIN)

    page = client.get("/app/status").get_data(as_text=True)
    assert 'id="scheduler-stalled"' in page
    assert "The scheduler has not run for more than 10 minutes" in page
    client.get("/app/status")
    assert operations.alert_if_scheduler_stalled() == 0
    (message,) = _db.session.query(OutboxMessage).filter_by(kind="notify.channel").all()
    assert message.key.endswith(f"scheduler.stalled-scheduler-{stopped:%Y%m%dT%H%M%SZ}")
    assert dispatched == [message.id]

    # It comes back, then stops again: a new stall, a new alert.
    _stalled_scheduler(minutes=11)
    assert operations.alert_if_scheduler_stalled() == 1


def test_without_redis_nothing_is_expected_of_a_scheduler(login, team):
    client = login(Role.ADMIN)
    page = client.get("/app/status").get_data(as_text=True)
    assert 'id="scheduler-stalled"' not in page
    assert "No Redis is configured" in page
    assert operations.alert_if_scheduler_stalled() == 0


def test_healthz_without_redis_is_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "ok": True,
        "database": "ok",
        "redis": "absent",
        "scheduler": {"age_seconds": None, "stalled": False},
    }


def test_healthz_is_503_when_redis_does_not_answer(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["redis"] == "down"


@pytest.mark.redis
def test_healthz_reports_the_scheduler_age_and_a_stall(client, redis_url):
    operations.beat(operations.SCHEDULER, {}, at=datetime.now(UTC) - timedelta(seconds=30))
    body = client.get("/healthz").get_json()
    assert body["redis"] == "ok"
    assert 29 <= body["scheduler"]["age_seconds"] <= 60
    _stalled_scheduler()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["scheduler"]["stalled"] is True
