"""A business's own SMTP server is checked on every connection, not only when it is saved: a
name that leads to an inner address by the time the email goes out is refused, and the
delivery fails with words a person can act on."""

from __future__ import annotations

import ipaddress

from integrations.notify.email import OutgoingEmail, SmtpMailer
from portal.extensions import db as _db
from portal.models import Role
from portal.services import delivery as service
from tests.delivery.conftest import Scripted


def test_a_name_that_now_leads_to_loopback_is_refused_when_sending(
    app, team, invoice, scripted: Scripted, monkeypatch
):
    # Saved when the name led to the internet; by the time of sending, "localhost" it is.
    team.business.smtp_host = "localhost"
    _db.session.commit()
    monkeypatch.setitem(app.config, "SMTP_ALLOW_PRIVATE_HOSTS", False)

    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)

    assert delivery.status == "failed"
    assert delivery.error.startswith("The server localhost is a loopback address (")
    assert delivery.error.endswith("email goes only to servers on the internet.")
    assert scripted.attempts == 0  # no connection was made
    assert [d.id for d, _ in service.recent_failures(team.business)] == [delivery.id]


def test_with_inner_servers_allowed_the_same_name_is_used(app, team, invoice, scripted):
    team.business.smtp_host = "localhost"
    _db.session.commit()

    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)

    assert (delivery.status, delivery.error) == ("sent", "")
    [mail] = scripted.accepted
    assert mail["Message-ID"] == delivery.message_id


def test_the_guard_sees_each_address_and_the_session_goes_to_a_checked_one(team, scripted):
    seen: list[str] = []

    def guard(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        seen.append(str(address))
        return None

    mailer = SmtpMailer(
        host="127.0.0.1",
        port=team.business.smtp_port,
        sender="billing@acme.example",
        security="none",
        sessions=None,
        guard=guard,
    )
    mailer.send(OutgoingEmail(to=("ap@client.example",), subject="Hello", text="Hi"))
    mailer.send(OutgoingEmail(to=("ap@client.example",), subject="Again", text="Hi"))

    assert seen == ["127.0.0.1", "127.0.0.1"]  # checked on every connection
    assert [str(m["Subject"]) for m in scripted.accepted] == ["Hello", "Again"]
