"""Each adapter against its provider's fake: what it sends, and how it reads each answer."""

from __future__ import annotations

import re

import pytest

from integrations.notify.base import Notification, NotifyError
from integrations.notify.discord import DiscordWebhookNotifier
from integrations.notify.registry import ChannelConfig, notifier_for
from integrations.notify.slack import SlackApiNotifier, SlackWebhookNotifier
from integrations.notify.teams import TeamsWebhookNotifier
from tests.notify.fakes import DiscordWebhook, SlackApi, SlackWebhook, TeamsWebhook

PAID = Notification(
    event="invoice.paid",
    title="Invoice INV-0042 paid",
    text="Blue Ltd paid €1,200.00.",
    url="https://invoices.example/app/invoices/01J0",
    facts=(("Client", "Blue Ltd"), ("Amount", "€1,200.00")),
)


def test_slack_webhook_posts_block_kit(slack_webhook: SlackWebhook) -> None:
    result = SlackWebhookNotifier(slack_webhook.url).send(PAID)
    assert (result.provider, result.status) == ("slack", 200)
    (body,) = slack_webhook.received
    assert body["text"] == "Invoice INV-0042 paid: Blue Ltd paid €1,200.00."
    assert body["blocks"][0]["text"]["text"] == "Invoice INV-0042 paid"
    assert body["blocks"][2]["fields"][1]["text"] == "*Amount*\n€1,200.00"


@pytest.mark.parametrize(
    ("answer", "retryable", "message"),
    [
        ("rate_limited", True, "Slack answered 429: rate_limited"),
        ("server_error", True, "Slack answered 503"),
        ("invalid_token", False, "Slack answered 403: invalid_token"),
        ("no_service", False, "Slack answered 404: no_service"),
    ],
)
def test_slack_webhook_errors(
    slack_webhook: SlackWebhook, answer: str, retryable: bool, message: str
) -> None:
    slack_webhook.answers.append(answer)
    with pytest.raises(NotifyError, match=re.escape(message)) as caught:
        SlackWebhookNotifier(slack_webhook.url).send(PAID)
    assert caught.value.retryable is retryable
    if answer == "rate_limited":
        assert caught.value.retry_after == 1.0
    assert slack_webhook.received == []


def test_slack_api_posts_with_the_bot_token(slack_api: SlackApi) -> None:
    notifier = SlackApiNotifier(slack_api.token, slack_api.channel, api_base=slack_api.api_base)
    result = notifier.send(PAID)
    assert result.message_id == "1700000001.000100"
    (params,) = slack_api.received
    assert params["channel"] == "C0123ABCD"
    assert params["unfurl_links"] is False


def test_slack_api_rate_limit_is_retryable_and_a_bad_token_is_not(slack_api: SlackApi) -> None:
    slack_api.answers.append("rate_limited")
    good = SlackApiNotifier(slack_api.token, slack_api.channel, api_base=slack_api.api_base)
    with pytest.raises(NotifyError, match=re.escape("Slack answered 429: rate_limited")) as caught:
        good.send(PAID)
    assert (caught.value.retryable, caught.value.retry_after) == (True, 1.0)
    bad = SlackApiNotifier("xoxb-revoked", slack_api.channel, api_base=slack_api.api_base)
    with pytest.raises(NotifyError, match=re.escape("Slack answered invalid_auth")) as caught:
        bad.send(PAID)
    assert caught.value.retryable is False
    assert slack_api.received == []


def test_teams_posts_an_adaptive_card(teams: TeamsWebhook) -> None:
    TeamsWebhookNotifier(teams.url).send(PAID)
    (body,) = teams.received
    card = body["attachments"][0]["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][2]["facts"][0] == {"title": "Client", "value": "Blue Ltd"}
    assert card["actions"][0]["url"] == PAID.url


def test_teams_400_is_permanent_and_429_is_not(teams: TeamsWebhook) -> None:
    teams.answers += ["bad_request", "throttled"]
    with pytest.raises(NotifyError, match=re.escape("Teams answered 400: Bad payload")) as caught:
        TeamsWebhookNotifier(teams.url).send(PAID)
    assert caught.value.retryable is False
    with pytest.raises(NotifyError, match=re.escape("Teams answered 429")) as caught:
        TeamsWebhookNotifier(teams.url).send(PAID)
    assert caught.value.retryable is True


def test_discord_executes_the_webhook_and_keeps_the_message_id(discord: DiscordWebhook) -> None:
    result = DiscordWebhookNotifier(discord.url).send(PAID)
    assert result.message_id == "1200000000000000001"
    (body,) = discord.received
    assert body["allowed_mentions"] == {"parse": []}
    assert body["embeds"][0]["fields"][1] == {
        "name": "Amount",
        "value": "€1,200.00",
        "inline": True,
    }


@pytest.mark.parametrize(
    ("answer", "retryable", "message", "wait"),
    [
        ("rate_limited", True, "Discord answered 429: You are being rate limited.", 0.5),
        ("unknown_webhook", False, "Discord answered 404: Unknown Webhook", None),
        ("invalid_token", False, "Discord answered 401: Invalid Webhook Token", None),
    ],
)
def test_discord_errors(
    discord: DiscordWebhook, answer: str, retryable: bool, message: str, wait: float | None
) -> None:
    discord.answers.append(answer)
    with pytest.raises(NotifyError, match=re.escape(message)) as caught:
        DiscordWebhookNotifier(discord.url).send(PAID)
    assert (caught.value.retryable, caught.value.retry_after) == (retryable, wait)


def test_an_unreachable_provider_is_retryable() -> None:
    with pytest.raises(NotifyError, match="could not reach") as caught:
        TeamsWebhookNotifier("http://127.0.0.1:9/nothing", timeout=2).send(PAID)
    assert caught.value.retryable is True


def test_the_registry_picks_the_adapter_by_provider_and_target() -> None:
    assert isinstance(notifier_for(ChannelConfig("slack", "https://h/x")), SlackWebhookNotifier)
    api = notifier_for(ChannelConfig("slack", "xoxb-1", {"channel": "C1"}, "http://s/api/"))
    assert api == SlackApiNotifier("xoxb-1", "C1", api_base="http://s/api/")
    assert isinstance(notifier_for(ChannelConfig("teams", "https://t")), TeamsWebhookNotifier)
    with pytest.raises(ValueError, match=re.escape("unknown notification provider 'irc'")):
        notifier_for(ChannelConfig("irc", "x"))
