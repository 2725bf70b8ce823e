"""Redis goes away and comes back: the invoice email waits in the outbox, then goes out once."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from redis import Redis
from rq import Queue
from sqlalchemy import select

from portal.extensions import db as _db
from portal.jobs import QUEUES
from portal.jobs.worker import PortalSimpleWorker
from portal.models import Delivery, OutboxMessage, Role
from portal.services import delivery as delivery_service
from portal.services import outbox
from tests.conftest import Inbox
from tests.operations.conftest import RedisServer
from tests.services import factories as f

pytestmark = pytest.mark.redis


def _work(url: str) -> None:
    connection = Redis.from_url(url)
    queues = [Queue(name, connection=connection) for name in QUEUES]
    PortalSimpleWorker(queues, connection=connection).work(burst=True)
    connection.close()


def _states(delivery_id: int) -> tuple[str, str]:
    _db.session.expire_all()
    delivery = _db.session.get_one(Delivery, delivery_id)
    [message] = [
        m
        for m in _db.session.scalars(select(OutboxMessage))
        if m.payload.get("delivery_id") == delivery_id
    ]
    return delivery.status, message.status


def test_while_redis_is_down_the_invoice_waits_and_is_sent_once_it_is_back(
    app, team, db, inbox: Inbox, own_redis: RedisServer, monkeypatch
):
    owner = team.actor()
    customer = f.client(owner, name="Blue Harbor GmbH", email="ana@client.example")
    invoice = f.issued_invoice(owner, customer, f.line("Design work", "3", "410.52"))
    own_redis.start()
    monkeypatch.setitem(app.config, "REDIS_URL", own_redis.url)
    own_redis.stop()

    delivery = delivery_service.send_invoice(team.actor(Role.STAFF), invoice.public_id)
    assert _states(delivery.id) == ("queued", "pending")
    assert inbox.deliveries == []

    own_redis.start()
    assert outbox.dispatch_pending() == 1
    assert _states(delivery.id) == ("queued", "queued")
    _work(own_redis.url)
    assert _states(delivery.id) == ("sent", "done")

    # The scheduler's sweep and the worker come round again: nothing is sent twice.
    assert outbox.dispatch_pending() == 0
    _work(own_redis.url)
    [received] = inbox.deliveries
    assert received.rcpt_tos == ["ana@client.example"]
    assert received.message["Subject"] == f"Invoice {invoice.number} from Acme Ltd"
    [pdf] = [p for p in received.message.iter_attachments() if p.get_filename().endswith(".pdf")]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert invoice.number in text and "1,231.56" in text
