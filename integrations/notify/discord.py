"""Discord: execute a webhook (``POST /webhooks/{webhook_id}/{webhook_token}?wait=true``).

``wait=true`` makes Discord answer the created message, whose id we keep. Mentions are switched
off: a client's name must never ping a whole server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from integrations.notify.base import Notification, SendResult, failure, post_json, retry_after

BLURPLE = 0x5865F2


def payload(notification: Notification) -> dict[str, Any]:
    embed: dict[str, Any] = {
        "title": notification.title[:256],
        "description": notification.text[:4096],
        "color": BLURPLE,
    }
    if notification.url:
        embed["url"] = notification.url
    if notification.facts:
        embed["fields"] = [
            {"name": label[:256], "value": value[:1024] or "-", "inline": True}
            for label, value in notification.facts[:25]
        ]
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


@dataclass(frozen=True, slots=True)
class DiscordWebhookNotifier:
    url: str
    timeout: float = 10.0
    name: str = "discord"

    def send(self, notification: Notification) -> SendResult:
        answer = post_json(_with_wait(self.url), payload(notification), self.timeout)
        body = answer.json()
        if 200 <= answer.status < 300:
            message_id = str(body.get("id", "")) if isinstance(body, dict) else ""
            return SendResult(self.name, answer.status, message_id)
        detail = ""
        wait = retry_after(answer.headers.get("retry-after"))
        if isinstance(body, dict):
            detail = str(body.get("message", ""))
            if isinstance(body.get("retry_after"), int | float):
                wait = float(body["retry_after"])
        raise failure("Discord", answer.status, detail, wait)


def _with_wait(url: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"wait": "true"})))
