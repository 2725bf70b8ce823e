"""What every chat notifier takes and returns, and the one way it fails."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Notification:
    """One event told to a team: a title line, a sentence, a link and a few labelled facts."""

    event: str  # invoice.paid, invoice.overdue, quote.accepted, payment.failed, ...
    title: str
    text: str
    url: str | None = None
    facts: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SendResult:
    provider: str
    status: int
    message_id: str = ""  # Slack's ts, Discord's message id; webhooks without one leave it empty


class NotifyError(Exception):
    """The provider did not take the message. ``retryable``: the same request may work later
    (rate limit, 5xx, timeout); otherwise it fails the same way until someone fixes the channel."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class Notifier(Protocol):
    @property
    def name(self) -> str:
        """The provider: slack, teams, discord."""
        ...

    def send(self, notification: Notification) -> SendResult:
        """Deliver the notification or raise ``NotifyError``."""
        ...


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def post_json(url: str, body: Any, timeout: float) -> HttpAnswer:
    """POST a JSON body; any HTTP status is an answer, only a network failure raises
    (``NotifyError``, retryable)."""
    request = urllib.request.Request(  # noqa: S310 -- the scheme is checked when a channel is saved
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "InvoiceLite"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HttpAnswer(response.status, _headers(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, _headers(error.headers), error.read())
    except (urllib.error.URLError, OSError) as error:
        raise NotifyError(f"could not reach the provider: {error}", retryable=True) from error


def _headers(headers: Message) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number; HTTP dates are rare here and ignored)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def failure(provider: str, status: int, detail: str, wait: float | None = None) -> NotifyError:
    """The error for an HTTP answer that is not a success: 429 and 5xx are worth retrying."""
    retryable = status == 429 or status >= 500
    message = f"{provider} answered {status}" + (f": {detail}" if detail else "")
    return NotifyError(message, retryable=retryable, status=status, retry_after=wait)
