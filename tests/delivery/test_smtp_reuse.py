"""One SMTP session carries one message after another; a session the server dropped is
replaced at once when nothing was delivered, and never when the message may have arrived."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from integrations.notify.email import (
    OutgoingEmail,
    SessionPool,
    SmtpMailer,
    TemporarySendError,
)
from portal.models import Role
from portal.services import delivery as sending
from tests.conftest import _free_port


class Sessions:
    """Records each message with the connection (peer address) it came on; can drop the
    connection right after accepting a message, or while the message arrives."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.peers: list[tuple[str, int]] = []
        self.subjects: list[str] = []
        self.quits = 0
        self.drop_after_next = False
        self.drop_during_next = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.peers.append(session.peer)
        self.subjects.append(str(message["Subject"]))
        if self.drop_during_next:
            self.drop_during_next = False
            server.transport.close()
            return "250 never heard"
        if self.drop_after_next:
            self.drop_after_next = False
            # After the 250 has gone out: the way a server ends an idle session.
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[Controller, Sessions]]:
    handler = Sessions()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def server(_server: tuple[Controller, Sessions]) -> Iterator[tuple[Controller, Sessions]]:
    controller, handler = _server
    handler.reset()
    yield controller, handler


@pytest.fixture
def pool() -> Iterator[SessionPool]:
    sessions = SessionPool()
    yield sessions
    sessions.close_all()


def _mailer(controller: Controller, pool: SessionPool | None) -> SmtpMailer:
    return SmtpMailer(
        host="127.0.0.1",
        port=controller.port,
        sender="Acme <billing@acme.example>",
        security="none",
        sessions=pool,
    )


def _email(subject: str) -> OutgoingEmail:
    return OutgoingEmail(to=("ap@client.example",), subject=subject, text="Hello.")


def test_the_second_email_goes_on_the_same_session(server, pool):
    controller, handler = server
    mailer = _mailer(controller, pool)

    mailer.send(_email("one"))
    mailer.send(_email("two"))
    mailer.send(_email("three"))

    assert handler.subjects == ["one", "two", "three"]
    assert len(set(handler.peers)) == 1
    assert handler.quits == 0 and pool.idle() == 1
    pool.close_all()  # at exit: politely, with QUIT (smtplib waits for the server's answer)
    assert pool.idle() == 0 and handler.quits == 1


def test_a_session_the_server_dropped_is_replaced_and_the_email_goes_once(server, pool):
    controller, handler = server
    mailer = _mailer(controller, pool)
    handler.drop_after_next = True
    mailer.send(_email("one"))

    mailer.send(_email("two"))
    mailer.send(_email("three"))

    assert handler.subjects == ["one", "two", "three"]
    first, second, third = handler.peers
    assert first != second == third


def test_a_connection_lost_during_data_is_not_sent_again_at_once(server, pool):
    controller, handler = server
    mailer = _mailer(controller, pool)
    mailer.send(_email("one"))
    handler.drop_during_next = True

    with pytest.raises(TemporarySendError, match="SMTPServerDisconnected"):
        mailer.send(_email("two"))

    # The server may have the message: the outbox decides when to try again, not the mailer.
    assert handler.subjects == ["one", "two"]
    assert pool.idle() == 0
    mailer.send(_email("three"))
    assert handler.subjects == ["one", "two", "three"]
    assert handler.peers[2] != handler.peers[0]


def test_a_session_idle_too_long_is_closed_not_trusted(server):
    controller, handler = server
    pool = SessionPool(max_idle=0.0)
    mailer = _mailer(controller, pool)

    mailer.send(_email("one"))
    mailer.send(_email("two"))

    assert len(set(handler.peers)) == 2
    pool.close_all()


def test_without_a_pool_each_email_has_its_own_session(server):
    controller, handler = server
    mailer = _mailer(controller, None)

    mailer.send(_email("one"))
    mailer.send(_email("two"))

    assert len(set(handler.peers)) == 2
    assert handler.quits == 2


def test_after_a_fork_the_child_lets_go_of_the_parents_sessions(server, pool):
    controller, handler = server
    mailer = _mailer(controller, pool)
    mailer.send(_email("one"))

    pool.forget_all()  # what a forked child runs

    assert pool.idle() == 0 and handler.quits == 0
    mailer.send(_email("two"))
    assert handler.peers[0] != handler.peers[1]


def test_invoices_sent_one_after_another_share_a_session(
    app, team, invoice, server, db, monkeypatch
):
    controller, handler = server
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", controller.port)
    monkeypatch.setitem(app.config, "SMTP_SECURITY", "none")
    staff = team.actor(Role.STAFF)

    first = sending.send_invoice(staff, invoice.public_id)
    handler.drop_after_next = True
    second = sending.send_invoice(staff, invoice.public_id, to="other@example.org")
    third = sending.send_invoice(staff, invoice.public_id, to="third@example.org")

    assert [d.status for d in (first, second, third)] == ["sent"] * 3
    assert handler.subjects == [f"Invoice {invoice.number} from Acme Ltd"] * 3
    one, two, three = handler.peers
    assert one == two != three
