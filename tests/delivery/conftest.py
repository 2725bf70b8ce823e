"""An SMTP server whose answers a test chooses, and an invoice ready to send."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from portal.models import Business, Document
from portal.services.clients import ContactData
from tests.conftest import Team, _free_port
from tests.services import factories as f


class Scripted:
    """Accepts mail, except that it first gives the answers queued in ``data_answers`` to DATA
    and refuses the recipients listed in ``refuse``."""

    def __init__(self) -> None:
        self.data_answers: list[str] = []
        self.refuse: dict[str, str] = {}
        self.accepted: list[email.message.EmailMessage] = []
        self.attempts = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.data_answers:
            return self.data_answers.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.accepted.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def _scripted_server() -> Iterator[tuple[Controller, Scripted]]:
    handler = Scripted()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def scripted(
    _scripted_server: tuple[Controller, Scripted],
    app: Flask,
    team: Team,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Scripted:
    """The business's own SMTP server for this test (smtp_host set, on loopback: allowed
    through ``SMTP_ALLOW_PRIVATE_HOSTS``), reset."""
    monkeypatch.setitem(app.config, "SMTP_ALLOW_PRIVATE_HOSTS", True)
    controller, handler = _scripted_server
    handler.data_answers.clear()
    handler.refuse.clear()
    handler.accepted.clear()
    handler.attempts = 0
    business: Business = team.business
    business.smtp_host = "127.0.0.1"
    business.smtp_port = controller.port
    business.smtp_security = "none"
    business.mail_from = "Acme Billing <billing@acme.example>"
    db.session.commit()
    return handler


@pytest.fixture
def invoice(team: Team, db: Any) -> Document:
    owner = team.actor()
    customer = f.client(
        owner,
        name="Blue Harbor GmbH",
        email="accounts@blueharbor.example",
        contacts=(
            ContactData("Ada Payable", "ada@blueharbor.example", is_primary=True),
            ContactData("Ben Boss", "ben@blueharbor.example"),
            ContactData("No Mail"),
        ),
    )
    return f.issued_invoice(owner, customer, f.line("Design work", "3", "410.52"))
