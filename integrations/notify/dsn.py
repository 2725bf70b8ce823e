"""Read delivery status notifications (RFC 3464) that mail servers send back.

A DSN is a ``multipart/report; report-type=delivery-status`` message: a human part, a
``message/delivery-status`` part (one block of per-message fields, then one block per
recipient), and usually the original message or its headers. Only what a bounce needs is kept:
which recipient failed, the status code, the server's words and the original Message-ID.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

__all__ = ["Bounce", "is_dsn", "parse_dsn"]


@dataclass(frozen=True, slots=True)
class Bounce:
    recipient: str
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # e.g. 5.1.1
    diagnostic: str  # Diagnostic-Code without its type ("smtp; "), or ""
    original_message_id: str  # with angle brackets, or "" when the DSN does not say

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


def _message(raw: bytes | Message) -> Message:
    if isinstance(raw, Message):
        return raw
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def is_dsn(raw: bytes | Message) -> bool:
    message = _message(raw)
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status"
    )


def _blocks(part: Message) -> list[Message]:
    """The field blocks of a message/delivery-status part, however the parser stored them."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    parser = HeaderParser()
    chunks = text.replace("\r\n", "\n").split("\n\n")
    return [parser.parsestr(chunk.strip() + "\n") for chunk in chunks if chunk.strip()]


def _value(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _typed(value: str) -> str:
    """``rfc822; bob@example.com`` → ``bob@example.com``."""
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else value.strip()


def _message_id(value: str) -> str:
    value = value.strip()
    if value and not value.startswith("<"):
        value = f"<{value}>"
    return value


def _original_message_id(report: Message) -> str:
    for part in report.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return _message_id(str(inner["Message-ID"]))
        elif content_type == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            headers = HeaderParser().parsestr(text)
            if headers.get("Message-ID"):
                return _message_id(str(headers["Message-ID"]))
    return ""


def parse_dsn(raw: bytes | Message) -> list[Bounce]:
    """One ``Bounce`` per recipient block; an empty list when ``raw`` is not a DSN."""
    report = _message(raw)
    if not is_dsn(report):
        return []
    status_part = next(
        (p for p in report.walk() if p.get_content_type() == "message/delivery-status"), None
    )
    if status_part is None:
        return []
    blocks = _blocks(status_part)
    if not blocks:
        return []
    per_message, recipients = blocks[0], blocks[1:]
    fallback_id = _message_id(_value(per_message, "Original-Message-ID")) or (
        _original_message_id(report)
    )
    bounces = []
    for block in recipients:
        recipient = _typed(_value(block, "Final-Recipient") or _value(block, "Original-Recipient"))
        if not recipient:
            continue
        bounces.append(
            Bounce(
                recipient=recipient,
                action=_value(block, "Action").lower(),
                status=_value(block, "Status").split(" ")[0],
                diagnostic=_typed(_value(block, "Diagnostic-Code")),
                original_message_id=(
                    _message_id(_value(block, "Original-Message-ID")) or fallback_id
                ),
            )
        )
    return bounces
