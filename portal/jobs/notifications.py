"""The job that tells one chat channel about one event."""

from __future__ import annotations

from typing import Any

from integrations.notify.base import NotifyError
from portal.extensions import db
from portal.models import NotificationChannel, OutboxMessage
from portal.services import notifications, outbox


@outbox.handles(notifications.KIND)
def send_to_channel(message: OutboxMessage) -> dict[str, Any]:
    """Rate limits, 5xx and timeouts are retried; a refused token or a deleted webhook fails at
    once and shows on the channel until an admin fixes it."""
    channel = db.session.get(NotificationChannel, message.payload["channel_id"])
    if channel is None or not channel.active:
        return {"skipped": "the channel was removed or switched off"}
    try:
        result = notifications.notifier(channel).send(
            notifications.notification_from(message.payload)
        )
    except NotifyError as error:
        if error.retryable:
            raise outbox.TemporaryFailure(str(error)) from error
        notifications.record_broken(channel.id, str(error))
        raise outbox.PermanentFailure(str(error)) from error
    notifications.record_sent(channel)
    return {"provider": result.provider, "status": result.status, "message_id": result.message_id}
