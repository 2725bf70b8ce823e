"""An outbox kind for tests: records each run and fails as its payload says."""

from __future__ import annotations

from typing import Any

from portal.models import OutboxMessage
from portal.services import outbox

KIND = "test.echo"
CALLS: list[str] = []


@outbox.handles(KIND)
def echo(message: OutboxMessage) -> dict[str, Any]:
    CALLS.append(message.key)
    mode = message.payload.get("fail")
    if mode == "temporary":
        raise outbox.TemporaryFailure("421 try later")
    if mode == "permanent":
        raise outbox.PermanentFailure("550 no such mailbox")
    return {"echo": message.payload.get("text")}
