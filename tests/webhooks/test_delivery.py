"""Delivering: signatures a receiver verifies, retries over three days, disabling, resending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from portal.extensions import db as _db
from portal.jobs import webhooks as jobs
from portal.models import OutboxMessage, Role, WebhookDelivery, WebhookEndpoint, WebhookEvent
from portal.services import documents, webhooks
from tests.conftest import Inbox, Team
from tests.services import factories
from tests.webhooks.conftest import make_endpoint
from tests.webhooks.receiver import Receiver


def _deliveries(endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    _db.session.expire_all()
    return list(
        _db.session.scalars(
            _db.select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id)
        )
    )


def test_an_issued_invoice_reaches_the_receiver_signed(
    team: Team, db: Any, receiver: Receiver
) -> None:
    actor = team.actor()
    endpoint = make_endpoint(team, receiver, events=("invoice.issued",))
    doc = factories.draft(actor, factories.client(actor))
    documents.issue_invoice(actor, doc.public_id)
    # After the commit, the outbox runs the attempt (inline: no Redis in the tests).
    assert webhooks.dispatch_committed() == 1
    (got,) = receiver.wait_for(1)
    assert got.verified_by == (endpoint.secret,)
    assert got.payload["type"] == "invoice.issued"
    assert got.payload["data"]["id"] == doc.public_id
    (delivery,) = _deliveries(endpoint)
    event = _db.session.get(WebhookEvent, delivery.event_id)
    assert got.headers["webhook-id"] == event.public_id
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert delivery.request_headers["webhook-signature"] == got.headers["webhook-signature"]
    assert delivery.request_body == got.body
    assert delivery.response_body == '{"ok":true}'
    message = _db.session.scalar(
        _db.select(OutboxMessage).where(OutboxMessage.key == f"webhook-{delivery.public_id}-1")
    )
    assert message.status == "done" and message.result["status"] == 200
    assert webhooks.attempts_of(delivery)[0]["outcome"] == "succeeded"


def test_failures_are_retried_with_backoff_and_fail_after_three_days(
    team: Team, db: Any, receiver: Receiver
) -> None:
    endpoint = make_endpoint(team, receiver)
    receiver.answers.extend(["error"] * 12)
    delivery = webhooks.send_test(team.actor(), endpoint.public_id)
    start = delivery.created_at
    waits = []
    now = start
    while True:
        result = jobs.deliver_now(delivery.id, now=now)
        _db.session.refresh(delivery)
        if delivery.status != "pending":
            break
        waits.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at
    assert result["outcome"] == "failed" and result["status"] == 500
    assert waits == [
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=6),
        timedelta(hours=12),
        timedelta(hours=12),
        timedelta(hours=12),
        timedelta(hours=12),
        timedelta(hours=12),
    ]
    assert delivery.attempts == 12
    assert now <= start + timedelta(days=3) < now + timedelta(hours=12)
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    # Every attempt verified at the receiver, and one failed delivery does not disable.
    assert len(receiver.wait_for(12)) == 12
    _db.session.refresh(endpoint)
    assert endpoint.enabled and endpoint.consecutive_failures == 1
    # A later success starts the count again.
    jobs.deliver_now(webhooks.resend(team.actor(), delivery.public_id).id)
    _db.session.refresh(endpoint)
    assert endpoint.consecutive_failures == 0


def test_the_scheduler_hands_over_only_due_retries(team: Team, db: Any, receiver: Receiver) -> None:
    endpoint = make_endpoint(team, receiver)
    receiver.answers.append("error")
    first = webhooks.send_test(team.actor(), endpoint.public_id)
    webhooks.dispatch_committed()
    _db.session.refresh(first)
    assert (first.status, first.attempts) == ("pending", 1)
    due = first.next_attempt_at
    assert webhooks.hand_over_due(now=due - timedelta(seconds=1)) == 0
    assert webhooks.hand_over_due(now=due) == 1
    _db.session.refresh(first)
    assert (first.status, first.attempts) == ("succeeded", 2)
    assert [r.answer for r in receiver.wait_for(2)] == ["error", "ok"]
    assert [a["status"] for a in webhooks.attempts_of(first)] == [500, 200]
    # Nothing is due any more; a second run queues nothing twice.
    assert webhooks.hand_over_due(now=due + timedelta(days=1)) == 0


def test_no_answer_within_the_timeout_is_a_failed_attempt(
    team: Team, db: Any, receiver: Receiver
) -> None:
    endpoint = make_endpoint(team, receiver)
    receiver.answers.append("hang")
    delivery = webhooks.send_test(team.actor(), endpoint.public_id)
    webhooks.dispatch_committed()
    _db.session.refresh(delivery)
    assert (delivery.status, delivery.response_status) == ("pending", None)
    assert delivery.error == "No answer within 1 s."
    assert delivery.next_attempt_at is not None


def test_a_redirect_is_a_failure_and_is_not_followed(
    team: Team, db: Any, receiver: Receiver
) -> None:
    endpoint = make_endpoint(team, receiver)
    receiver.answers.append("redirect:http://169.254.169.254/latest/meta-data")
    delivery = webhooks.send_test(team.actor(), endpoint.public_id)
    webhooks.dispatch_committed()
    _db.session.refresh(delivery)
    assert (delivery.status, delivery.response_status) == ("pending", 302)
    assert "Redirects are not followed" in delivery.error
    assert len(receiver.wait_for(1)) == 1


def test_during_a_rotation_both_secrets_sign_and_each_verifies(
    team: Team, db: Any, receiver: Receiver
) -> None:
    endpoint = make_endpoint(team, receiver)
    old = endpoint.secret
    webhooks.rotate_secret(team.actor(), endpoint.public_id, overlap_hours=24)
    receiver.secrets.append(endpoint.secret)
    delivery = webhooks.send_test(team.actor(), endpoint.public_id)
    webhooks.dispatch_committed()
    (got,) = receiver.wait_for(1)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert set(got.verified_by) == {old, endpoint.secret}
    # Once the overlap is over only the new secret signs.
    later = datetime.now(UTC) + timedelta(hours=25)
    assert webhooks.signing_secrets(endpoint, later) == [endpoint.secret]
    receiver.secrets.remove(old)
    jobs.deliver_now(webhooks.resend(team.actor(), delivery.public_id).id, now=later)
    second = receiver.wait_for(2)[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 1
    assert second.verified_by == (endpoint.secret,)


def test_resend_is_a_new_attempt_with_the_same_webhook_id(
    team: Team, db: Any, receiver: Receiver
) -> None:
    endpoint = make_endpoint(team, receiver)
    first = webhooks.send_test(team.actor(), endpoint.public_id)
    webhooks.dispatch_committed()
    again = webhooks.resend(team.actor(), first.public_id)
    webhooks.dispatch_committed()
    one, two = receiver.wait_for(2)
    assert one.headers["webhook-id"] == two.headers["webhook-id"]
    assert one.body == two.body
    assert [(d.status, d.attempts) for d in _deliveries(endpoint)] == [
        ("succeeded", 1),
        ("succeeded", 1),
    ]
    assert again.public_id != first.public_id


def test_repeated_failures_disable_the_endpoint_and_email_the_owner(
    team: Team, db: Any, receiver: Receiver, inbox: Inbox
) -> None:
    endpoint = make_endpoint(team, receiver)
    receiver.answers.extend(["error"] * 100)
    actor = team.actor()
    for n in range(webhooks.DISABLE_AFTER):
        factories.client(actor, name=f"Client {n}")
        webhooks.dispatch_committed()
    started = _deliveries(endpoint)
    assert len(started) == webhooks.DISABLE_AFTER
    later = started[0].created_at + timedelta(days=3)
    for delivery in started:
        while delivery.status == "pending":
            jobs.deliver_now(
                delivery.id, now=max(later - timedelta(hours=1), delivery.next_attempt_at)
            )
            _db.session.refresh(delivery)
        if delivery is not started[-1]:
            _db.session.refresh(endpoint)
            assert endpoint.enabled
    _db.session.refresh(endpoint)
    assert not endpoint.enabled
    assert endpoint.disabled_reason.startswith("5 deliveries in a row failed for three days each")
    (mail,) = inbox.deliveries
    assert mail.rcpt_tos == [team.users[Role.OWNER].email]
    assert "Webhook endpoint disabled" in mail.message["Subject"]
    body = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert endpoint.disabled_reason in body
    assert f"/app/settings/webhooks/{endpoint.public_id}" in body
    # Nothing more goes to a disabled endpoint.
    factories.client(actor, name="After")
    webhooks.dispatch_committed()
    assert len(_deliveries(endpoint)) == webhooks.DISABLE_AFTER
    # Switched on again, it gets events and a test again.
    webhooks.enable_endpoint(actor, endpoint.public_id)
    assert (
        endpoint.enabled and endpoint.consecutive_failures == 0 and endpoint.disabled_reason == ""
    )


def test_410_gone_disables_at_once(team: Team, db: Any, receiver: Receiver, inbox: Inbox) -> None:
    endpoint = make_endpoint(team, receiver)
    receiver.answers.append("gone")
    webhooks.send_test(team.actor(), endpoint.public_id)
    webhooks.dispatch_committed()
    _db.session.refresh(endpoint)
    assert not endpoint.enabled
    assert "410 Gone" in endpoint.disabled_reason
    assert len(inbox.deliveries) == 1


def test_old_bodies_are_purged(team: Team, db: Any, receiver: Receiver) -> None:
    endpoint = make_endpoint(team, receiver)
    delivery = webhooks.send_test(team.actor(), endpoint.public_id)
    webhooks.dispatch_committed()
    assert webhooks.purge_bodies(now=datetime.now(UTC) + timedelta(days=1)) == 0
    assert webhooks.purge_bodies(now=datetime.now(UTC) + timedelta(days=31)) == 1
    _db.session.refresh(delivery)
    assert (delivery.request_body, delivery.response_body, delivery.response_status) == (
        "",
        "",
        200,
    )
