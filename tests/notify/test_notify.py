"""notify() fans an event out through the outbox; the job retries what may pass later and
marks the channel broken when the provider refuses it for good."""

from __future__ import annotations

import re

import pytest

from portal.extensions import db as _db
from portal.models import NotificationChannel, OutboxMessage, Role
from portal.services import notifications, outbox
from portal.services.errors import Forbidden
from tests.notify.conftest import make_channel
from tests.notify.fakes import DiscordWebhook, SlackApi, SlackWebhook, TeamsWebhook

PAID = {"id": "01INV", "title": "Invoice INV-0042 paid", "text": "Blue Ltd paid.", "url": "/app/x"}


def _status(message_id: int) -> tuple[str, int]:
    _db.session.expire_all()
    message = _db.session.get(OutboxMessage, message_id)
    return message.status, message.attempts


def test_notify_fans_out_to_active_channels_subscribed_to_the_event(team, db):
    listening = make_channel(team.business, name="listens")
    make_channel(team.business, name="off", active=False)
    make_channel(team.business, name="other event", events=["quote.accepted"])
    other = make_channel(make_team_business(), name="another business")
    messages = notifications.notify(team.business, "invoice.paid", PAID)
    _db.session.commit()
    assert [m.payload["channel_id"] for m in messages] == [listening.id]
    (message,) = messages
    assert (message.kind, message.queue) == ("notify.channel", "default")
    assert message.key == f"notify-{listening.public_id}-invoice.paid-01INV"
    assert message.payload["url"] == "http://127.0.0.1/app/x"
    assert other.id not in [m.payload["channel_id"] for m in messages]
    # The same event about the same invoice again is the same message, not a second post.
    again = notifications.notify(team.business, "invoice.paid", PAID)
    assert [m.id for m in again] == [message.id]
    with pytest.raises(ValueError, match=re.escape("unknown notification event 'invoice.eaten'")):
        notifications.notify(team.business, "invoice.eaten", PAID)


def make_team_business():
    from tests.conftest import make_team

    return make_team("Other Co").business


def test_a_rate_limit_is_retried_and_succeeds_the_second_time_exactly_once(
    team, db, any_host, slack_webhook: SlackWebhook
):
    channel = make_channel(team.business, target=slack_webhook.url)
    slack_webhook.answers.append("rate_limited")
    (message,) = notifications.notify(team.business, "invoice.paid", PAID)
    _db.session.commit()
    notifications.dispatch([message])
    assert _status(message.id) == ("pending", 1)
    assert slack_webhook.received == []
    outbox.dispatch(message.id)  # RQ's retry, or the scheduler's sweep
    assert _status(message.id) == ("done", 2)
    outbox.dispatch(message.id)
    assert len(slack_webhook.received) == 1
    assert len(slack_webhook.requests) == 2
    assert _db.session.get(NotificationChannel, channel.id).last_error == ""


def test_discord_429_is_temporary(team, db, any_host, discord: DiscordWebhook):
    make_channel(team.business, provider="discord", target=discord.url)
    discord.answers.append("rate_limited")
    (message,) = notifications.notify(team.business, "invoice.paid", PAID)
    _db.session.commit()
    outbox.dispatch(message.id)
    assert _status(message.id)[0] == "pending"
    outbox.dispatch(message.id)
    assert _status(message.id)[0] == "done"
    assert len(discord.received) == 1


@pytest.mark.parametrize("answer", ["invalid_token", "no_service"])
def test_a_refused_webhook_fails_at_once_and_marks_the_channel(
    team, db, any_host, slack_webhook: SlackWebhook, answer: str
):
    channel = make_channel(team.business, target=slack_webhook.url)
    slack_webhook.answers.append(answer)
    (message,) = notifications.notify(team.business, "invoice.paid", PAID)
    _db.session.commit()
    outbox.dispatch(message.id)
    assert _status(message.id) == ("failed", 1)
    _db.session.expire_all()
    assert _db.session.get(NotificationChannel, channel.id).last_error.startswith("Slack answered")
    assert answer in _db.session.get(OutboxMessage, message.id).last_error


def test_an_invalid_bot_token_is_permanent(team, db, slack_api: SlackApi):
    channel = make_channel(
        team.business, target="xoxb-revoked", settings={"channel": slack_api.channel}
    )
    (message,) = notifications.notify(team.business, "invoice.paid", PAID)
    _db.session.commit()
    outbox.dispatch(message.id)
    assert _status(message.id)[0] == "failed"
    _db.session.expire_all()
    assert _db.session.get(NotificationChannel, channel.id).last_error == (
        "Slack answered invalid_auth"
    )


def test_teams_400_is_permanent(team, db, any_host, teams: TeamsWebhook):
    channel = make_channel(team.business, provider="teams", target=teams.url)
    teams.answers.append("bad_request")
    (message,) = notifications.notify(team.business, "invoice.paid", PAID)
    _db.session.commit()
    outbox.dispatch(message.id)
    assert _status(message.id)[0] == "failed"
    _db.session.expire_all()
    assert "Teams answered 400" in _db.session.get(NotificationChannel, channel.id).last_error


def test_a_channel_switched_off_after_queueing_is_skipped(team, db, any_host, teams):
    channel = make_channel(team.business, provider="teams", target=teams.url)
    (message,) = notifications.notify(team.business, "invoice.paid", PAID)
    channel.active = False
    _db.session.commit()
    outbox.dispatch(message.id)
    assert _status(message.id)[0] == "done"
    assert teams.requests == []


def test_managing_channels_needs_admin(team, db):
    data = notifications.ChannelData(
        "discord", "ops", "https://discord.com/api/webhooks/1/abc", ("invoice.paid",)
    )
    with pytest.raises(Forbidden, match=re.escape("This needs the admin role or higher.")):
        notifications.add_channel(team.actor(Role.STAFF), data)
    channel = notifications.add_channel(team.actor(Role.ADMIN), data)
    with pytest.raises(Forbidden):
        notifications.send_test(team.actor(Role.ACCOUNTANT), channel.public_id)
    with pytest.raises(Forbidden):
        notifications.remove_channel(team.actor(Role.STAFF), channel.public_id)


def test_webhook_hosts_are_checked_unless_allowed(team, db, app, monkeypatch):
    from portal.services.errors import InvalidInput

    admin = team.actor(Role.ADMIN)
    bad = notifications.ChannelData("slack", "x", "https://127.0.0.1/hook", ("invoice.paid",))
    with pytest.raises(InvalidInput, match=re.escape("starts with https://hooks.slack.com")):
        notifications.add_channel(admin, bad)
    token = notifications.ChannelData("slack", "x", "xoxb-123", ("invoice.paid",))
    with pytest.raises(InvalidInput, match="give the channel id"):
        notifications.add_channel(admin, token)
    monkeypatch.setitem(app.config, "NOTIFY_ANY_HOST", True)
    assert notifications.add_channel(admin, bad).target == "https://127.0.0.1/hook"
