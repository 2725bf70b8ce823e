"""Redis goes away and comes back: the email waits in the outbox and is sent exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from flask import current_app
from redis import Redis
from rq import Queue

from integrations.notify.email import OutgoingEmail, SmtpMailer
from portal.extensions import db as _db
from portal.jobs import QUEUES
from portal.jobs.worker import PortalSimpleWorker
from portal.models import OutboxMessage
from portal.services import outbox
from tests.conftest import Inbox
from tests.operations.conftest import RedisServer

pytestmark = pytest.mark.redis


@outbox.handles("test.operations-mail")
def _mail(message: OutboxMessage) -> dict[str, Any]:
    cfg = current_app.config
    host, port, sender = cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), cfg["MAIL_SENDER"]
    mailer = SmtpMailer(host=host, port=port, sender=sender, security="none")
    message_id = mailer.send(
        OutgoingEmail(to=(message.payload["to"],), subject=message.payload["subject"], text="Hi")
    )
    return {"message_id": message_id}


def _work(url: str) -> None:
    connection = Redis.from_url(url)
    queues = [Queue(name, connection=connection) for name in QUEUES]
    PortalSimpleWorker(queues, connection=connection).work(burst=True)
    connection.close()


def _status(message_id: int) -> str:
    _db.session.expire_all()
    return _db.session.get_one(OutboxMessage, message_id).status


def test_while_redis_is_down_the_email_waits_and_is_sent_once_it_is_back(
    app, team, db, inbox: Inbox, own_redis: RedisServer, monkeypatch
):
    own_redis.start()
    monkeypatch.setitem(app.config, "REDIS_URL", own_redis.url)
    own_redis.stop()

    message = outbox.add(
        team.business,
        "test.operations-mail",
        "operations-mail-1",
        {"to": "ana@client.example", "subject": "Invoice INV-1"},
        queue="email",
    )
    _db.session.commit()
    outbox.dispatch(message.id)
    assert _status(message.id) == "pending"
    assert inbox.deliveries == []

    own_redis.start()
    assert outbox.dispatch_pending() == 1
    assert _status(message.id) == "queued"
    _work(own_redis.url)
    assert _status(message.id) == "done"
    assert [d.message["Subject"] for d in inbox.deliveries] == ["Invoice INV-1"]

    # The scheduler's sweep and the worker come round again: nothing is sent twice.
    assert outbox.dispatch_pending() == 0
    _work(own_redis.url)
    assert len(inbox.deliveries) == 1
    assert [d.rcpt_tos for d in inbox.deliveries] == [["ana@client.example"]]
