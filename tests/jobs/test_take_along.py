"""An email job takes along the emails still waiting behind it; nothing is lost or sent twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select

from portal.extensions import db as _db
from portal.jobs.worker import PortalSimpleWorker
from portal.models import Delivery, OutboxMessage, Role
from portal.models.base import utcnow
from portal.services import delivery as sending
from portal.services import outbox
from tests.conftest import Inbox, redis_test_url
from tests.jobs.echo import CALLS, KIND
from tests.services import factories as f

pytestmark = pytest.mark.redis


@pytest.fixture
def redis(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Redis]:
    url = redis_test_url("TEST_REDIS_URL", 11)
    connection = Redis.from_url(url)
    connection.flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    CALLS.clear()
    yield connection
    connection.flushdb()


def _queue(team: Any, key: str, **payload: Any) -> int:
    message = outbox.add(team.business, KIND, key, payload, queue="email")
    _db.session.commit()
    outbox.dispatch(message.id)
    return message.id


def _states(prefix: str) -> dict[str, tuple[str, int]]:
    _db.session.expire_all()
    rows = _db.session.scalars(select(OutboxMessage).where(OutboxMessage.key.like(prefix + "%")))
    return {m.key: (m.status, m.attempts) for m in rows}


def test_one_job_sends_the_emails_waiting_behind_it(team, db, redis):
    for n in range(1, 6):
        _queue(team, f"mail-{n}")
    queue = Queue("email", connection=redis)
    assert queue.count == 5

    worker = SimpleWorker([queue], connection=redis)
    worker.work(burst=True)

    assert [f"mail-{n}" for n in range(1, 6)] == CALLS  # each once, in order
    assert _states("mail-") == {f"mail-{n}": ("done", 1) for n in range(1, 6)}
    # RQ ran one job; the four it took along left no job behind.
    assert FinishedJobRegistry(queue=queue).get_job_ids() == ["outbox-mail-1"]
    assert queue.count == 0
    assert sorted(k.decode() for k in redis.keys("rq:job:outbox-*")) == ["rq:job:outbox-mail-1"]


def test_an_email_another_worker_holds_is_left_to_it(team, db, redis):
    _queue(team, "held-1")
    _queue(team, "held-2")
    queue = Queue("email", connection=redis)
    # Another worker has just taken held-2's job off the queue.
    assert redis.lrem(queue.key, 1, "outbox-held-2") == 1

    SimpleWorker([queue], connection=redis).work(burst=True)

    assert CALLS == ["held-1"]
    assert _states("held-") == {"held-1": ("done", 1), "held-2": ("queued", 0)}
    assert redis.exists("rq:job:outbox-held-2")  # its job is untouched


def test_failures_of_emails_taken_along_keep_their_own_retries(team, db, redis):
    _queue(team, "fail-0")
    _queue(team, "fail-temp", fail="temporary")
    _queue(team, "fail-perm", fail="permanent")
    _queue(team, "fail-ok")
    queue = Queue("email", connection=redis)

    SimpleWorker([queue], connection=redis).work(burst=True)

    assert _states("fail-") == {
        "fail-0": ("done", 1),
        "fail-temp": ("queued", 1),
        "fail-perm": ("failed", 1),
        "fail-ok": ("done", 1),  # after the failures, the rest still went out
    }
    # The temporary failure waits for its retry as if it had run in its own job; the carrying
    # job succeeded, and the permanent failure is never run again.
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == ["outbox-fail-temp"]
    assert FinishedJobRegistry(queue=queue).get_job_ids() == ["outbox-fail-0"]
    assert FailedJobRegistry(queue=queue).get_job_ids() == []
    retry = queue.fetch_job("outbox-fail-temp")
    assert retry is not None and retry.retries_left == len(outbox.RETRY_INTERVALS) - 1


def test_a_retry_is_not_taken_along_before_its_time(team, db, redis):
    _queue(team, "wait-temp", fail="temporary")
    queue = Queue("email", connection=redis)
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert _states("wait-") == {"wait-temp": ("queued", 1)}
    _queue(team, "wait-new")

    SimpleWorker([queue], connection=redis).work(burst=True)

    assert CALLS == ["wait-temp", "wait-new"]
    assert _states("wait-")["wait-temp"] == ("queued", 1)
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == ["outbox-wait-temp"]


def test_a_message_whose_job_was_lost_is_handed_over_again(team, db, redis):
    lost = _queue(team, "lost-1")
    _queue(team, "lost-2")
    waiting = _queue(team, "lost-3")
    # Redis forgot two jobs (a restart without persistence); lost-3's job is still queued.
    redis.delete("rq:job:outbox-lost-1", "rq:job:outbox-lost-2")
    queue = Queue("email", connection=redis)
    redis.lrem(queue.key, 0, "outbox-lost-1")
    redis.lrem(queue.key, 0, "outbox-lost-2")
    long_ago = utcnow() - outbox.LOST_AFTER - timedelta(minutes=1)
    for message_id in (lost, waiting):
        _db.session.get_one(OutboxMessage, message_id).queued_at = long_ago
    _db.session.commit()

    assert outbox.requeue_lost() == 1  # lost-2 was queued too recently to call it lost

    assert queue.get_job_ids() == ["outbox-lost-3", "outbox-lost-1"]
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert sorted(CALLS) == ["lost-1", "lost-3"]
    assert _states("lost-") == {
        "lost-1": ("done", 1),
        "lost-2": ("queued", 0),
        "lost-3": ("done", 1),
    }


def test_invoices_sent_together_arrive_once_each(app, team, db, redis, inbox: Inbox):
    owner = team.actor()
    invoices = []
    for n in range(4):
        customer = f.client(owner, name=f"Client {n}", email=f"ap{n}@client.example")
        invoices.append(f.issued_invoice(owner, customer, f.line("Work", "1", f"{100 + n}.00")))
    for invoice in invoices:
        sending.send_invoice(team.actor(Role.STAFF), invoice.public_id)
    queue = Queue("email", connection=redis)
    assert queue.count == 4

    PortalSimpleWorker([queue], connection=redis).work(burst=True)

    got = sorted((d.rcpt_tos[0], str(d.message["Subject"])) for d in inbox.deliveries)
    assert got == sorted(
        (f"ap{n}@client.example", f"Invoice {invoice.number} from {team.business.legal_name}")
        for n, invoice in enumerate(invoices)
    )
    for d in inbox.deliveries:
        [pdf] = [p for p in d.message.iter_attachments() if p.get_content_type().endswith("pdf")]
        assert pdf.get_content().startswith(b"%PDF")
    _db.session.expire_all()
    assert {row.status for row in _db.session.scalars(select(Delivery))} == {"sent"}
    assert len(FinishedJobRegistry(queue=queue).get_job_ids()) == 1
