"""The settings pages: add an endpoint, see its secret once, test it, read the log, resend."""

from __future__ import annotations

from typing import Any

from portal.extensions import db as _db
from portal.models import Role, WebhookDelivery, WebhookEndpoint
from portal.services import webhooks
from tests.conftest import Team
from tests.webhooks.receiver import Receiver


def _endpoints() -> list[WebhookEndpoint]:
    return list(_db.session.scalars(_db.select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def test_add_test_log_and_resend(login: Any, team: Team, receiver: Receiver) -> None:
    client = login(Role.ADMIN)
    page = client.post(
        "/app/settings/webhooks",
        data={"url": receiver.url, "description": "ERP", "events": ["invoice.paid"]},
    )
    assert page.status_code == 200
    (endpoint,) = _endpoints()
    html = page.get_data(as_text=True)
    assert endpoint.secret in html and "shown only this once" in html
    assert endpoint.events == ["invoice.paid"]
    receiver.secrets.append(endpoint.secret)
    # The secret is not on the page again.
    detail = client.get(f"/app/settings/webhooks/{endpoint.public_id}")
    assert endpoint.secret not in detail.get_data(as_text=True)

    sent = client.post(f"/app/settings/webhooks/{endpoint.public_id}/test")
    assert sent.status_code == 303
    (got,) = receiver.wait_for(1)
    assert got.payload["type"] == "webhook.test"
    log = client.get(f"/app/settings/webhooks/{endpoint.public_id}").get_data(as_text=True)
    assert "HTTP 200" in log and "webhook.test" in log and "succeeded" in log
    (delivery,) = _db.session.scalars(_db.select(WebhookDelivery))
    shown = client.get(
        f"/app/settings/webhooks/{endpoint.public_id}/deliveries/{delivery.public_id}"
    ).get_data(as_text=True)
    assert "webhook-signature: v1," in shown and "HTTP 200 in" in shown
    assert "&#34;ok&#34;: true" in shown

    resent = client.post(
        f"/app/settings/webhooks/{endpoint.public_id}/deliveries/{delivery.public_id}/resend"
    )
    assert resent.status_code == 303
    assert len(receiver.wait_for(2)) == 2
    assert _db.session.scalar(_db.select(_db.func.count()).select_from(WebhookDelivery)) == 2
    # htmx polls the log until nothing is pending, then 286 stops it.
    poll = client.get(
        f"/app/settings/webhooks/{endpoint.public_id}",
        headers={"HX-Request": "true", "HX-Target": "delivery-log"},
    )
    assert poll.status_code == 286
    assert poll.get_data(as_text=True).lstrip().startswith('<div id="delivery-log"')


def test_bad_input_is_shown_beside_the_field_and_nothing_is_stored(
    login: Any, team: Team, db: Any
) -> None:
    client = login(Role.OWNER)
    page = client.post("/app/settings/webhooks", data={"url": "https://10.0.0.1/in"})
    assert page.status_code == 422
    assert "points at a private address" in page.get_data(as_text=True)
    page = client.post("/app/settings/webhooks", data={"url": "ftp://x.example.com/"})
    assert "Use an http:// or https:// URL." in page.get_data(as_text=True)
    assert _endpoints() == []


def test_rotate_edit_enable_and_delete(login: Any, team: Team, db: Any) -> None:
    client = login(Role.ADMIN)
    endpoint = webhooks.create_endpoint(
        team.actor(), webhooks.EndpointData(url="http://127.0.0.1:9/in")
    )
    old = endpoint.secret
    page = client.post(
        f"/app/settings/webhooks/{endpoint.public_id}/rotate", data={"overlap_hours": "6"}
    )
    _db.session.refresh(endpoint)
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in page.get_data(as_text=True)
    saved = client.post(
        f"/app/settings/webhooks/{endpoint.public_id}/edit",
        data={"url": "http://127.0.0.1:10/in", "events": ["client.created", "invoice.paid"]},
    )
    assert saved.status_code == 303
    _db.session.refresh(endpoint)
    assert endpoint.url == "http://127.0.0.1:10/in"
    assert endpoint.events == ["invoice.paid", "client.created"]
    endpoint.enabled = False
    endpoint.disabled_reason = "5 deliveries in a row failed for three days each (last: HTTP 500)."
    _db.session.commit()
    listing = client.get("/app/settings/webhooks").get_data(as_text=True)
    assert "is switched off: 5 deliveries in a row failed" in listing
    client.post(f"/app/settings/webhooks/{endpoint.public_id}/enable")
    _db.session.refresh(endpoint)
    assert endpoint.enabled and endpoint.disabled_reason == ""
    client.post(f"/app/settings/webhooks/{endpoint.public_id}/delete")
    assert _endpoints() == []
