"""Chat notifications: the team's Slack, Teams and Discord channels, and telling them of events.

``notify`` adds one outbox message per active channel that listens to the event, in the caller's
transaction; the caller commits, then hands the messages to ``dispatch``. The job that sends one
lives in ``portal.jobs.notifications``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from integrations.notify.base import Notification, Notifier, NotifyError
from integrations.notify.registry import PROVIDERS, ChannelConfig, is_webhook_url, notifier_for
from integrations.notify.slack import API_BASE
from portal.extensions import db
from portal.models import Business, NotificationChannel, OutboxMessage, Role
from portal.services import audit, outbox
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound

KIND = "notify.channel"
EVENTS = {
    "invoice.paid": "Invoice paid",
    "invoice.overdue": "Invoice overdue",
    "quote.accepted": "Quote accepted",
    "payment.failed": "Payment failed",
    "payment.disputed": "Payment disputed",
    "delivery.failed": "Email not delivered",
    "scheduler.stalled": "Scheduler stalled",
}
PROVIDER_NAMES = {"slack": "Slack", "teams": "Microsoft Teams", "discord": "Discord"}
# Where each provider's webhooks live; another host is refused unless NOTIFY_ANY_HOST is set
# (tests and self-hosted relays), so a channel cannot be aimed at the portal's own network.
WEBHOOK_HOSTS = {
    "slack": ("hooks.slack.com",),
    "teams": (".webhook.office.com", ".logic.azure.com", ".powerplatform.com"),
    "discord": ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"),
}


@dataclass(frozen=True, slots=True)
class ChannelData:
    provider: str
    name: str
    target: str  # empty on edit: keep the stored one
    events: tuple[str, ...]
    slack_channel: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True)
class TestOutcome:
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class _Message:
    title: str
    text: str
    url: str | None = None
    facts: tuple[tuple[str, str], ...] = field(default=())


# ----------------------------------------------------------------------------- telling channels


def notify(business: Business, event: str, data: Mapping[str, Any]) -> list[OutboxMessage]:
    """Queue ``event`` for every active channel of ``business`` subscribed to it.

    ``data``: ``id`` (the entity's public id, required: it keys the message, so the same event
    about the same thing is told once), and optionally ``title``, ``text``, ``url`` (absolute
    or a path on the portal) and ``facts`` (label -> value).
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    entity = str(data["id"])
    message = _message(event, data)
    channels = db.session.scalars(
        select(NotificationChannel)
        .where(
            NotificationChannel.business_id == business.id,
            NotificationChannel.active.is_(True),
        )
        .order_by(NotificationChannel.id)
    )
    added = []
    for channel in channels:
        if event not in (channel.events or []):
            continue
        payload = {
            "channel_id": channel.id,
            "event": event,
            "title": message.title,
            "text": message.text,
            "url": message.url,
            "facts": [list(pair) for pair in message.facts],
        }
        key = f"notify-{channel.public_id}-{event}-{entity}"
        added.append(outbox.add(business, KIND, key, payload, queue="default"))
    return added


def dispatch(messages: Iterable[OutboxMessage]) -> None:
    """After the caller's commit: hand the messages ``notify`` added to the workers."""
    for message_id in [m.id for m in messages]:
        outbox.dispatch(message_id)


def _message(event: str, data: Mapping[str, Any]) -> _Message:
    facts = data.get("facts") or {}
    url = data.get("url")
    if url and str(url).startswith("/"):
        url = str(current_app.config["PUBLIC_URL"]).rstrip("/") + str(url)
    return _Message(
        title=str(data.get("title") or EVENTS[event]),
        text=str(data.get("text") or ""),
        url=str(url) if url else None,
        facts=tuple((str(k), str(v)) for k, v in dict(facts).items()),
    )


def notification_from(payload: Mapping[str, Any]) -> Notification:
    return Notification(
        event=str(payload["event"]),
        title=str(payload["title"]),
        text=str(payload.get("text") or ""),
        url=payload.get("url") or None,
        facts=tuple((str(k), str(v)) for k, v in payload.get("facts") or []),
    )


def notifier(channel: NotificationChannel) -> Notifier:
    cfg = current_app.config
    return notifier_for(
        ChannelConfig(
            provider=channel.provider,
            target=channel.target,
            settings=dict(channel.settings or {}),
            slack_api_base=str(cfg.get("SLACK_API_BASE") or API_BASE),
            timeout=int(cfg.get("NOTIFY_TIMEOUT", 10)),
        )
    )


def record_sent(channel: NotificationChannel) -> None:
    """Part of the job's transaction: the channel works again."""
    channel.last_error = ""


def record_broken(channel_id: int, error: str) -> None:
    """Keep why a channel refused a message, in a transaction of its own.

    The outbox rolls back a failed job's work, which would take this with it; the job's open
    transaction holds only the attempt count, which the outbox records again.
    """
    db.session.rollback()
    channel = db.session.get(NotificationChannel, channel_id)
    if channel is not None:
        channel.last_error = error[:2000]
        db.session.commit()


# ----------------------------------------------------------------------------- managing channels


def channels(actor: Actor) -> list[NotificationChannel]:
    actor.require(Role.ADMIN)
    return list(
        db.session.scalars(
            select(NotificationChannel)
            .where(NotificationChannel.business_id == actor.business.id)
            .order_by(NotificationChannel.name, NotificationChannel.id)
        )
    )


def get_channel(actor: Actor, public_id: str) -> NotificationChannel:
    actor.require(Role.ADMIN)
    channel = db.session.scalar(
        select(NotificationChannel).where(
            NotificationChannel.public_id == public_id,
            NotificationChannel.business_id == actor.business.id,
        )
    )
    if channel is None:
        raise NotFound("No such notification channel.")
    return channel


def add_channel(actor: Actor, data: ChannelData) -> NotificationChannel:
    actor.require(Role.ADMIN)
    _check(data, stored_target=None)
    channel = NotificationChannel(business_id=actor.business.id, provider=data.provider)
    _apply(channel, data)
    db.session.add(channel)
    db.session.flush()
    _audit(actor, "notification_channel.added", channel, after=_describe(channel))
    db.session.commit()
    return channel


def update_channel(actor: Actor, public_id: str, data: ChannelData) -> NotificationChannel:
    channel = get_channel(actor, public_id)
    if data.provider != channel.provider:
        raise InvalidInput({"provider": "The provider of a channel cannot change; add a new one."})
    _check(data, stored_target=channel.target)
    before = _describe(channel)
    _apply(channel, data)
    _audit(actor, "notification_channel.changed", channel, before=before, after=_describe(channel))
    db.session.commit()
    return channel


def remove_channel(actor: Actor, public_id: str) -> None:
    channel = get_channel(actor, public_id)
    _audit(actor, "notification_channel.removed", channel, before=_describe(channel))
    db.session.delete(channel)
    db.session.commit()


def send_test(actor: Actor, channel_id: str) -> TestOutcome:
    """Send a test message now, while the admin waits, and keep the outcome on the channel."""
    channel = get_channel(actor, channel_id)
    test = Notification(
        event="test",
        title="Test from Invoice Lite",
        text=f"{actor.business.legal_name} will post its notifications here.",
        facts=(("Channel", channel.name or PROVIDER_NAMES[channel.provider]),),
    )
    try:
        notifier(channel).send(test)
    except NotifyError as error:
        channel.last_error = str(error)[:2000]
        db.session.commit()
        return TestOutcome(False, str(error))
    channel.last_error = ""
    db.session.commit()
    return TestOutcome(True, "Sent")


def masked_target(channel: NotificationChannel) -> str:
    """Enough of the webhook URL or token to recognise it, never enough to use it."""
    target = channel.target
    if is_webhook_url(target):
        parts = urlsplit(target)
        return f"{parts.scheme}://{parts.netloc}/…{target[-4:]}"
    return f"{target[:5]}…{target[-4:]}" if len(target) > 12 else "…"


def _check(data: ChannelData, stored_target: str | None) -> None:
    errors: dict[str, str] = {}
    if data.provider not in PROVIDERS:
        errors["provider"] = "Choose Slack, Microsoft Teams or Discord."
    if not data.name.strip():
        errors["name"] = "Give the channel a name you will recognise."
    target = data.target.strip()
    if not target and stored_target is None:
        errors["target"] = "Paste the webhook URL (or, for Slack, a bot token)."
    elif target and data.provider in PROVIDERS:
        message = _target_problem(data.provider, target, data.slack_channel)
        if message:
            errors["target"] = message
    bot_token = data.provider == "slack" and not is_webhook_url(target or stored_target or "")
    if bot_token and not data.slack_channel.strip():
        errors["slack_channel"] = "With a bot token, give the channel id (C0123…)."
    unknown = [e for e in data.events if e not in EVENTS]
    if unknown:
        errors["events"] = f"Unknown events: {', '.join(unknown)}."
    if errors:
        raise InvalidInput(errors)


def _target_problem(provider: str, target: str, slack_channel: str) -> str | None:
    if provider == "slack" and target.startswith("xox"):
        return None
    if not is_webhook_url(target):
        if provider == "slack":
            return "Paste an incoming webhook URL, or a bot token starting with xoxb-."
        return "Paste the webhook URL the provider gave you."
    parts = urlsplit(target)
    if current_app.config.get("NOTIFY_ANY_HOST"):
        return None if parts.hostname else "This is not a complete URL."
    host = (parts.hostname or "").lower()
    allowed = WEBHOOK_HOSTS[provider]
    if parts.scheme != "https" or not any(
        host == h or (h.startswith(".") and host.endswith(h)) for h in allowed
    ):
        return (
            f"A {PROVIDER_NAMES[provider]} webhook URL starts with https://{allowed[0].lstrip('.')}"
        )
    return None


def _apply(channel: NotificationChannel, data: ChannelData) -> None:
    channel.name = data.name.strip()
    if data.target.strip():
        channel.target = data.target.strip()
    settings = dict(channel.settings or {})
    if data.provider == "slack" and not is_webhook_url(channel.target):
        settings["channel"] = data.slack_channel.strip()
    else:
        settings.pop("channel", None)
    channel.settings = settings
    channel.events = [e for e in EVENTS if e in data.events]
    channel.active = data.active
    channel.last_error = "" if data.target.strip() else channel.last_error


def _describe(channel: NotificationChannel) -> dict[str, Any]:
    # Never the target itself: it is a secret.
    return {
        "provider": channel.provider,
        "name": channel.name,
        "events": list(channel.events or []),
        "active": channel.active,
    }


def _audit(
    actor: Actor,
    action: str,
    channel: NotificationChannel,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=action,
        entity_type="notification_channel",
        entity_id=channel.public_id,
        before=before,
        after=after,
    )
