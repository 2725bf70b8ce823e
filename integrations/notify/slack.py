"""Slack: an incoming webhook, or ``chat.postMessage`` with a bot token (official ``slack_sdk``).

Both speak Block Kit. Retries are the outbox's job, so the SDK's own retry handlers are off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from integrations.notify.base import Notification, NotifyError, SendResult, failure, retry_after

API_BASE = "https://slack.com/api/"
# chat.postMessage answers HTTP 200 with ok=false and one of these when trying again may work.
RETRYABLE_API_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)


def blocks(notification: Notification) -> list[dict[str, Any]]:
    """Block Kit: a header, the text, the facts as fields (Slack allows 10), a link."""
    result: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notification.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": notification.text[:3000] or " "}},
    ]
    if notification.facts:
        fields = [
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"[:2000]}
            for label, value in notification.facts[:10]
        ]
        result.append({"type": "section", "fields": fields})
    if notification.url:
        result.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open"},
                        "url": notification.url,
                    }
                ],
            }
        )
    return result


def fallback_text(notification: Notification) -> str:
    """What notifications and screen readers show instead of the blocks."""
    return f"{notification.title}: {notification.text}" if notification.text else notification.title


@dataclass(frozen=True, slots=True)
class SlackWebhookNotifier:
    url: str
    timeout: int = 10
    name: str = "slack"

    def send(self, notification: Notification) -> SendResult:
        client = WebhookClient(self.url, timeout=self.timeout, retry_handlers=[])
        try:
            response = client.send(text=fallback_text(notification), blocks=blocks(notification))
        except (SlackClientError, OSError) as error:
            raise NotifyError(f"could not reach Slack: {error}", retryable=True) from error
        if response.status_code == 200:
            return SendResult(self.name, response.status_code)
        wait = retry_after(response.headers.get("retry-after"))
        # Slack names the problem in the body: invalid_payload, invalid_token, no_service, ...
        raise failure("Slack", response.status_code, response.body.strip()[:200], wait)


@dataclass(frozen=True, slots=True)
class SlackApiNotifier:
    token: str
    channel: str
    api_base: str = API_BASE
    timeout: int = 10
    name: str = "slack"

    def send(self, notification: Notification) -> SendResult:
        client = WebClient(
            token=self.token, base_url=self.api_base, timeout=self.timeout, retry_handlers=[]
        )
        try:
            response = client.chat_postMessage(
                channel=self.channel,
                text=fallback_text(notification),
                blocks=blocks(notification),
                unfurl_links=False,
            )
        except SlackApiError as error:
            status = error.response.status_code
            code = str(error.response.get("error") or "") if _is_json(error.response.data) else ""
            wait = retry_after(error.response.headers.get("retry-after"))
            if status == 200:
                raise NotifyError(
                    f"Slack answered {code}", retryable=code in RETRYABLE_API_ERRORS, status=status
                ) from error
            raise failure("Slack", status, code, wait) from error
        except (SlackClientError, OSError, ValueError) as error:
            raise NotifyError(f"could not reach Slack: {error}", retryable=True) from error
        return SendResult(self.name, response.status_code, str(response.get("ts") or ""))


def _is_json(data: Any) -> bool:
    return isinstance(data, dict)
