"""Fake Slack, Teams and Discord servers for the whole session, emptied for each test; a test
fails if any request or answer broke the provider's description."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from portal.extensions import db as _db
from portal.models import NotificationChannel
from tests.notify.fakes import DiscordWebhook, FakeServer, SlackApi, SlackWebhook, TeamsWebhook


def _serve(fake: FakeServer) -> Iterator[Any]:
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def _slack_webhook() -> Iterator[SlackWebhook]:
    yield from _serve(SlackWebhook())


@pytest.fixture(scope="session")
def _slack_api() -> Iterator[SlackApi]:
    yield from _serve(SlackApi())


@pytest.fixture(scope="session")
def _teams() -> Iterator[TeamsWebhook]:
    yield from _serve(TeamsWebhook())


@pytest.fixture(scope="session")
def _discord() -> Iterator[DiscordWebhook]:
    yield from _serve(DiscordWebhook())


def _checked(fake: FakeServer) -> Iterator[Any]:
    fake.reset()
    yield fake
    assert fake.problems == []


@pytest.fixture
def slack_webhook(_slack_webhook: SlackWebhook) -> Iterator[SlackWebhook]:
    yield from _checked(_slack_webhook)


@pytest.fixture
def slack_api(
    _slack_api: SlackApi, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SlackApi]:
    monkeypatch.setitem(app.config, "SLACK_API_BASE", _slack_api.api_base)
    yield from _checked(_slack_api)


@pytest.fixture
def teams(_teams: TeamsWebhook) -> Iterator[TeamsWebhook]:
    yield from _checked(_teams)


@pytest.fixture
def discord(_discord: DiscordWebhook) -> Iterator[DiscordWebhook]:
    yield from _checked(_discord)


@pytest.fixture
def any_host(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fakes live on 127.0.0.1, which a real channel may not point at."""
    monkeypatch.setitem(app.config, "NOTIFY_ANY_HOST", True)


def make_channel(business: Any, **overrides: Any) -> NotificationChannel:
    fields: dict[str, Any] = {
        "provider": "slack",
        "name": "#billing",
        "target": "https://hooks.slack.com/services/T0/B0/X",
        "events": ["invoice.paid"],
        "active": True,
    }
    fields.update(overrides)
    channel = NotificationChannel(business_id=business.id, **fields)
    _db.session.add(channel)
    _db.session.commit()
    return channel
