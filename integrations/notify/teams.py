"""Microsoft Teams: an incoming webhook (a Workflows or connector URL) given an Adaptive Card.

The message shape is the one Teams documents for incoming webhooks:
``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"content": <AdaptiveCard 1.4>}]}``. Classic connectors answer 200 "1", Workflows 202.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integrations.notify.base import Notification, SendResult, failure, post_json, retry_after

CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def message(notification: Notification) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": notification.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "TextBlock", "text": notification.text, "wrap": True},
    ]
    if notification.facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": label, "value": value} for label, value in notification.facts],
            }
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if notification.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": notification.url}]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}],
    }


@dataclass(frozen=True, slots=True)
class TeamsWebhookNotifier:
    url: str
    timeout: float = 10.0
    name: str = "teams"

    def send(self, notification: Notification) -> SendResult:
        answer = post_json(self.url, message(notification), self.timeout)
        if 200 <= answer.status < 300:
            return SendResult(self.name, answer.status)
        detail = answer.body.decode(errors="replace").strip()[:200]
        wait = retry_after(answer.headers.get("retry-after"))
        raise failure("Teams", answer.status, detail, wait)
