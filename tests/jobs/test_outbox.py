"""The outbox keeps outside work until a job has done it, once."""

from typing import Any

import pytest
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import select

from portal.extensions import db as _db
from portal.jobs.outbox import run_outbox
from portal.models import OutboxMessage
from portal.services import outbox
from tests.conftest import redis_test_url
from tests.jobs.echo import CALLS, KIND


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


def _add(team: Any, key: str, **payload: Any) -> int:
    message = outbox.add(team.business, KIND, key, payload)
    _db.session.commit()
    return message.id


def test_inline_the_work_is_done_after_commit_and_only_once(team, db):
    message_id = _add(team, "echo-1", text="hi")
    outbox.dispatch(message_id)
    outbox.dispatch(message_id)
    message = _db.session.get(OutboxMessage, message_id)
    assert (message.status, message.result, message.attempts) == ("done", {"echo": "hi"}, 1)
    assert CALLS == ["echo-1"]
    # The same key again is the same message, not new work.
    assert outbox.add(team.business, KIND, "echo-1", {}).id == message_id


def test_a_job_run_again_after_the_work_is_done_or_failed_counts_no_attempt(team, db):
    done = _add(team, "echo-done", text="once")
    failed = _add(team, "echo-failed", fail="permanent")
    outbox.dispatch(done)
    outbox.dispatch(failed)
    # RQ runs a job again (a retry scheduled before the failure was final, a lost worker's job).
    assert run_outbox(done) == {"echo": "once"}
    assert run_outbox(failed) == {"failed": "550 no such mailbox"}
    _db.session.expire_all()
    rows = _db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.key, m.status, m.attempts) for m in rows] == [
        ("echo-done", "done", 1),
        ("echo-failed", "failed", 1),
    ]
    assert CALLS == ["echo-done", "echo-failed"]


def test_a_temporary_failure_stays_pending_and_a_permanent_one_fails(team, db):
    temporary = _add(team, "echo-temp", fail="temporary")
    permanent = _add(team, "echo-perm", fail="permanent")
    outbox.dispatch(temporary)
    outbox.dispatch(permanent)
    _db.session.expire_all()
    first = _db.session.get(OutboxMessage, temporary)
    second = _db.session.get(OutboxMessage, permanent)
    assert (first.status, first.last_error) == ("pending", "TemporaryFailure: 421 try later")
    assert (second.status, second.last_error) == ("failed", "550 no such mailbox")
    second.payload = {"text": "fixed"}
    _db.session.commit()
    outbox.retry(permanent)
    _db.session.expire_all()
    assert _db.session.get(OutboxMessage, permanent).status == "done"


@pytest.mark.redis
def test_with_redis_a_worker_does_it_and_redis_down_loses_nothing(app, team, db, monkeypatch):
    url = redis_test_url("TEST_REDIS_URL", 11)
    connection = Redis.from_url(url)
    connection.flushdb()
    # Redis that does not answer: the message stays pending.
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    message_id = _add(team, "echo-down", text="later")
    outbox.dispatch(message_id)
    _db.session.expire_all()
    assert _db.session.get(OutboxMessage, message_id).status == "pending"
    # Redis is back: the scheduler's sweep queues it, a worker runs it once.
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    assert outbox.dispatch_pending() == 1
    _db.session.expire_all()
    assert _db.session.get(OutboxMessage, message_id).status == "queued"
    from rq import Queue

    worker = SimpleWorker([Queue("default", connection=connection)], connection=connection)
    worker.work(burst=True)
    _db.session.expire_all()
    message = _db.session.get(OutboxMessage, message_id)
    assert (message.status, message.result) == ("done", {"echo": "later"})
    assert CALLS == ["echo-down"]
    connection.flushdb()


@pytest.mark.redis
def test_with_redis_a_final_failure_is_not_run_again_by_rq(app, team, db, monkeypatch):
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry

    url = redis_test_url("TEST_REDIS_URL", 11)
    connection = Redis.from_url(url)
    connection.flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    queue = Queue("default", connection=connection)
    permanent = _add(team, "echo-rq-perm", fail="permanent")
    temporary = _add(team, "echo-rq-temp", fail="temporary")
    last_try = _add(team, "echo-rq-last", fail="temporary")
    _db.session.get(OutboxMessage, last_try).attempts = outbox.MAX_ATTEMPTS - 1
    _db.session.commit()
    for message_id in (permanent, temporary, last_try):
        outbox.dispatch(message_id)

    SimpleWorker([queue], connection=connection).work(burst=True)

    _db.session.expire_all()
    states = {
        m.key: (m.status, m.attempts)
        for m in _db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.like("echo-rq-%"))
        )
    }
    assert states == {
        "echo-rq-perm": ("failed", 1),
        "echo-rq-temp": ("queued", 1),
        "echo-rq-last": ("failed", outbox.MAX_ATTEMPTS),
    }
    # Only the temporary failure waits for another run; the final ones sit in RQ's failed list.
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == ["outbox-echo-rq-temp"]
    assert sorted(FailedJobRegistry(queue=queue).get_job_ids()) == [
        "outbox-echo-rq-last",
        "outbox-echo-rq-perm",
    ]
    assert CALLS == ["echo-rq-perm", "echo-rq-temp", "echo-rq-last"]
    # A run RQ had scheduled before the failure became final does nothing.
    queue.enqueue_call("portal.jobs.outbox.run_outbox", args=(permanent,), job_id="late-run")
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert CALLS == ["echo-rq-perm", "echo-rq-temp", "echo-rq-last"]
    connection.flushdb()
