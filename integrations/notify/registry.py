"""The notifier for a channel, chosen by provider name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.notify.base import Notifier
from integrations.notify.discord import DiscordWebhookNotifier
from integrations.notify.slack import API_BASE, SlackApiNotifier, SlackWebhookNotifier
from integrations.notify.teams import TeamsWebhookNotifier


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """What the portal knows about a channel, as plain data."""

    provider: str
    target: str  # a webhook URL, or a Slack bot token
    settings: Mapping[str, Any] = field(default_factory=dict)
    slack_api_base: str = API_BASE
    timeout: int = 10


def is_webhook_url(target: str) -> bool:
    return target.startswith(("https://", "http://"))


def _slack(config: ChannelConfig) -> Notifier:
    if is_webhook_url(config.target):
        return SlackWebhookNotifier(config.target, timeout=config.timeout)
    return SlackApiNotifier(
        token=config.target,
        channel=str(config.settings.get("channel", "")),
        api_base=config.slack_api_base,
        timeout=config.timeout,
    )


def _teams(config: ChannelConfig) -> Notifier:
    return TeamsWebhookNotifier(config.target, timeout=config.timeout)


def _discord(config: ChannelConfig) -> Notifier:
    return DiscordWebhookNotifier(config.target, timeout=config.timeout)


NOTIFIERS: dict[str, Callable[[ChannelConfig], Notifier]] = {
    "slack": _slack,
    "teams": _teams,
    "discord": _discord,
}
PROVIDERS = tuple(NOTIFIERS)


def notifier_for(config: ChannelConfig) -> Notifier:
    try:
        build = NOTIFIERS[config.provider]
    except KeyError:
        raise ValueError(f"unknown notification provider {config.provider!r}") from None
    return build(config)
