"""A business with an issued invoice, a portal link to it, and Stripe connected to a fake."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.models import Client, Document, PaymentAccount, Role
from portal.services import client_portal, payment_accounts
from tests.conftest import Team
from tests.fakes.stripe_api import FakeStripe
from tests.services import factories


@pytest.fixture
def fake_stripe(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake.base)
        yield fake
        assert fake.problems == []


@dataclass
class PayShop:
    team: Team
    client: Client
    invoice: Document
    account: PaymentAccount
    token: str

    @property
    def hook(self) -> str:
        return f"/hooks/payments/{self.account.provider}/{self.account.public_id}"


def connect(team: Team, provider: str, credentials: dict[str, str], **kw: Any) -> PaymentAccount:
    methods = kw.pop("payment_methods", (next(iter(payment_accounts.METHODS[provider])),))
    return payment_accounts.save_account(
        team.actor(Role.OWNER),
        provider,
        payment_accounts.AccountData(credentials=credentials, payment_methods=tuple(methods), **kw),
    )


@pytest.fixture
def stripe_shop(team: Team, fake_stripe: FakeStripe) -> PayShop:
    actor = team.actor(Role.STAFF)
    client = factories.client(actor, email="ap@blueharbor.example")
    invoice = factories.issued_invoice(actor, client, factories.line(price="100"))
    account = connect(
        team,
        "stripe",
        {"secret_key": fake_stripe.secret_key, "webhook_secret": fake_stripe.webhook_secret},
        allow_partial=True,
        minimum_partial_minor=1000,
    )
    _, token = client_portal.create_link(actor, client.public_id, invoice.public_id)
    return PayShop(team, client, invoice, account, token)


def submit(url: str, form: dict[str, str] | None = None) -> str:
    """Press a button on a provider's hosted page (a form POST); returns where it redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    body = urllib.parse.urlencode(form or {}).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        opener.open(request, timeout=10)
    except urllib.error.HTTPError as answer:
        if answer.code in (302, 303):
            return str(answer.headers["Location"])
        raise
    raise AssertionError("the hosted page did not redirect")


def post_events(client: FlaskClient, hook: str, sent: list[tuple[Any, ...]]) -> list[int]:
    """Deliver the provider's recorded webhooks to the app, as the provider would."""
    statuses = []
    for entry in sent:
        headers, body = entry[-2], entry[-1]
        response = client.post(hook, data=body, headers=headers, csrf=False)
        statuses.append(response.status_code)
    return statuses
