"""The jobs of outgoing webhooks: one delivery attempt, and the email when an endpoint is
switched off.

An attempt records what was sent (headers, body) and what came back (status, the start of the
body, how long it took). A 2xx is success; anything else, or no answer, schedules the next attempt
(``services.webhooks.BACKOFF``) until three days after the delivery began, then the delivery has
failed. ``DISABLE_AFTER`` failed deliveries in a row, or a 410 Gone, switch the endpoint off and
tell the owner.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app

from integrations.notify.email import OutgoingEmail, PermanentSendError, SendError
from integrations.webhooks import DeliveryError, TargetRefused, check_url, post, signed_headers
from portal.extensions import db
from portal.models import Business, OutboxMessage, WebhookDelivery, WebhookEndpoint
from portal.models.base import utcnow
from portal.services import mail, outbox
from portal.services import webhooks as service
from portal.services.actors import system_actor

# How much of an answer the log keeps.
KEPT_ANSWER_CHARS = 4000


@outbox.handles(service.DELIVER)
def deliver_message(message: OutboxMessage) -> dict[str, Any]:
    return attempt(int(message.payload["delivery_id"]), message.payload.get("attempt"))


def attempt(
    delivery_id: int, attempt_no: int | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    """Make one attempt at a delivery and record it; the caller commits.

    ``now`` is the clock the schedule reads (tests pass it); the signature's timestamp is always
    the moment of sending, as a receiver compares it with its own clock.
    """
    delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return {"skipped": "the delivery was removed"}
    if delivery.status != "pending":
        return {"skipped": f"the delivery has {delivery.status}"}
    if attempt_no is not None and attempt_no != delivery.attempts + 1:
        return {"skipped": f"attempt {attempt_no} was made already"}
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None:  # the foreign key cascades; a race with a delete at most
        return {"skipped": "the endpoint was removed"}
    now = now or utcnow()
    if not endpoint.enabled:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        delivery.error = "The endpoint was disabled."
        return {"skipped": "the endpoint is disabled"}

    event = service.event_of(delivery)
    body = service.body_of(event)
    headers = signed_headers(
        event.public_id, datetime.now(UTC), body, service.signing_secrets(endpoint, now)
    )
    delivery.attempts += 1
    delivery.request_headers = headers
    delivery.request_body = body
    delivery.response_status = None
    delivery.response_body = ""
    delivery.error = ""
    cfg = current_app.config
    started = datetime.now(UTC)
    try:
        target = check_url(endpoint.url, allow_loopback=bool(cfg.get("WEBHOOKS_ALLOW_LOOPBACK")))
        answer = post(target, headers, body.encode(), timeout=float(cfg["WEBHOOKS_TIMEOUT"]))
    except TargetRefused as error:
        delivery.error = f"Not sent: {error}"
        delivery.duration_ms = 0
    except DeliveryError as error:
        delivery.error = str(error)
        delivery.duration_ms = round((datetime.now(UTC) - started).total_seconds() * 1000)
    else:
        delivery.response_status = answer.status
        delivery.response_body = answer.body.decode("utf-8", "replace")[:KEPT_ANSWER_CHARS]
        delivery.duration_ms = answer.duration_ms
        if answer.status in range(300, 400):
            where = dict(answer.headers).get("location", "")
            delivery.error = f"Redirects are not followed (to {where or 'nowhere'})."

    if delivery.response_status is not None and 200 <= delivery.response_status < 300:
        delivery.status = "succeeded"
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.consecutive_failures = 0
    elif delivery.response_status == 410:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        service.disable_for_failures(
            endpoint, "The endpoint answered 410 Gone: it no longer takes webhooks.", now
        )
    else:
        due = service.next_attempt_at(delivery, now)
        delivery.next_attempt_at = due
        if due is None:
            delivery.status = "failed"
            endpoint.consecutive_failures += 1
            if endpoint.consecutive_failures >= service.DISABLE_AFTER:
                service.disable_for_failures(endpoint, _reason(endpoint, delivery), now)
    return {
        "attempt": delivery.attempts,
        "at": now.isoformat(),
        "status": delivery.response_status,
        "duration_ms": delivery.duration_ms,
        "error": delivery.error,
        "outcome": delivery.status,
        "next_attempt_at": (
            delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None
        ),
        "answer": delivery.response_body[:500],
    }


def _reason(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> str:
    last = (
        f"HTTP {delivery.response_status}"
        if delivery.response_status is not None
        else delivery.error or "no answer"
    )
    return (
        f"{endpoint.consecutive_failures} deliveries in a row failed for three days each "
        f"(last: {last})."
    )


def deliver_now(delivery_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """One attempt, committed, and what it set off dispatched: for tests, benchmarks and a
    person waiting on a test event."""
    result = attempt(delivery_id, now=now)
    db.session.commit()
    service.dispatch_committed()
    return result


@outbox.handles(service.DISABLED_EMAIL)
def email_owner(message: OutboxMessage) -> dict[str, Any]:
    endpoint = db.session.get(WebhookEndpoint, message.payload["endpoint_id"])
    if endpoint is None or endpoint.enabled:
        return {"skipped": "the endpoint was removed or is on again"}
    business = db.session.get(Business, endpoint.business_id)
    if business is None:
        return {"skipped": "the business was removed"}
    owner = system_actor(business).user
    link = mail.absolute_url(f"/app/settings/webhooks/{endpoint.public_id}")
    text = (
        f"Hello,\n\nInvoice Lite stopped sending webhooks to {service.masked_url(endpoint)}"
        f" for {business.legal_name}.\n\nWhy: {endpoint.disabled_reason}\n\n"
        f"Once the endpoint answers again, switch it back on and resend what it missed:\n{link}\n"
    )
    try:
        message_id = mail.send(
            OutgoingEmail(
                to=(owner.email,),
                subject=f"Webhook endpoint disabled: {service.masked_url(endpoint)}",
                text=text,
                headers=(("Auto-Submitted", "auto-generated"),),
            )
        )
    except PermanentSendError as error:
        raise outbox.PermanentFailure(str(error)) from error
    except SendError as error:
        raise outbox.TemporaryFailure(str(error)) from error
    return {"to": owner.email, "message_id": message_id}
