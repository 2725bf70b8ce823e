"""A receiver for the whole session, emptied for each test; a test fails if any delivery it
received did not verify."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from portal.models import WebhookEndpoint
from portal.services import webhooks
from tests.conftest import Team
from tests.webhooks.receiver import Receiver

# Long enough for a loaded machine to answer, short enough for a timeout test.
TIMEOUT = 1.0


@pytest.fixture(scope="session")
def _receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(
    _receiver: Receiver, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Receiver]:
    monkeypatch.setitem(app.config, "WEBHOOKS_TIMEOUT", TIMEOUT)
    _receiver.reset()
    yield _receiver
    problems = list(_receiver.problems)
    _receiver.reset()
    assert problems == []


def make_endpoint(
    team: Team, receiver: Receiver | None = None, **overrides: Any
) -> WebhookEndpoint:
    data = {"url": receiver.url if receiver else "https://hooks.example.com/in", **overrides}
    endpoint = webhooks.create_endpoint(team.actor(), webhooks.EndpointData(**data))
    if receiver is not None:
        receiver.secrets.append(endpoint.secret)
    return endpoint


@pytest.fixture
def receiver_only(_receiver: Receiver) -> Iterator[Receiver]:
    """The receiver without the app, for the adapter's own tests."""
    _receiver.reset()
    yield _receiver
    problems = list(_receiver.problems)
    _receiver.reset()
    assert problems == []


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``*.example.com`` resolves to a public address (no DNS in the tests)."""
    import socket

    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".example.com"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
