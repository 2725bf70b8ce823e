"""An email the server refuses for good is told to the team's channels, once."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db as _db
from portal.models import OutboxMessage, Role
from portal.services import delivery as service
from tests.services import factories as f


def test_a_5xx_answer_tells_the_channel_once(app, team, invoice, scripted, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_ANY_HOST", True)
    f.unheard_channel(team.business, ["delivery.failed"])
    scripted.data_answers.append("554 5.7.1 message refused")

    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)

    assert delivery.status == "failed"
    told = list(
        _db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notify.channel"))
    )
    assert len(told) == 1
    payload = told[0].payload
    assert payload["title"] == "Email not delivered"
    assert invoice.number in payload["text"]
    assert ["Server said", "554 5.7.1 message refused"] in payload["facts"]
