"""The job that charges a recurring invoice to the client's saved card."""

from __future__ import annotations

from typing import Any

from integrations.payments.base import GatewayError
from portal.models import OutboxMessage
from portal.services import outbox, saved_cards


@outbox.handles(saved_cards.KIND)
def charge_saved_card(message: OutboxMessage) -> dict[str, Any]:
    """Stripe down or rate limiting is retried with backoff; a declined card is told to the team
    and ends the job (the invoice stays open for the client to pay another way)."""
    try:
        outcome = saved_cards.charge(
            int(message.payload["document_id"]), int(message.payload["method_id"])
        )
    except GatewayError as error:
        raise outbox.TemporaryFailure(str(error)) from error
    return {"charged": outcome.charged, "message": outcome.message}
