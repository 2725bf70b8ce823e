"""``/webhook-endpoints`` and ``/events`` over the webhooks service."""

from __future__ import annotations

from typing import Any

from standardwebhooks import Webhook

from portal.models import Role
from portal.services import documents
from tests.api.conftest import PROBLEM, Api, make_key
from tests.conftest import Team
from tests.services import factories as f


def test_an_endpoint_is_added_changed_rotated_and_removed(api: Api) -> None:
    made = api.post(
        "/webhook-endpoints",
        {"url": "http://127.0.0.1:9/in", "description": "Books", "events": ["invoice.issued"]},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    body = made.get_json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["invoice.issued"]
    Webhook(body["secret"])  # a secret the library accepts
    endpoint = body["id"]
    listed = api.get("/webhook-endpoints").get_json()
    assert [e["id"] for e in listed["data"]] == [endpoint]
    assert "secret" not in listed["data"][0]
    changed = api.patch(f"/webhook-endpoints/{endpoint}", {"description": "Ledger"})
    assert changed.status_code == 200 and changed.get_json()["description"] == "Ledger"
    rotated = api.post(f"/webhook-endpoints/{endpoint}/rotate-secret", {"overlap_hours": 0})
    assert rotated.status_code == 200 and rotated.get_json()["secret"] != body["secret"]
    assert api.delete(f"/webhook-endpoints/{endpoint}").status_code == 204
    assert api.get(f"/webhook-endpoints/{endpoint}").status_code == 404


def test_bad_endpoints_are_problems_naming_the_field(api: Api) -> None:
    for payload, field in [
        ({"url": "ftp://example.com/in"}, "url"),
        ({"url": "http://127.0.0.1:9/in", "events": ["invoice.nonsense"]}, "events"),
        ({}, "url"),
    ]:
        response = api.post("/webhook-endpoints", payload)
        assert response.status_code == 422, payload
        assert response.mimetype == PROBLEM
        fields = [e["field"] for e in response.get_json()["errors"]]
        assert any(name.startswith(field) for name in fields), fields


def test_events_list_what_was_published(api: Api, team: Team) -> None:
    api.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/in"})
    actor = team.actor(Role.OWNER)
    customer = f.client(actor)
    draft = f.draft(actor, customer, f.line(price="10"))
    documents.issue_invoice(actor, draft.public_id)
    events = api.get("/events?type=invoice.issued").get_json()["data"]
    assert len(events) == 1 and events[0]["type"] == "invoice.issued"
    one = api.get(f"/events/{events[0]['id']}").get_json()
    assert one["data"]["type"] == "invoice.issued"


def test_webhooks_need_their_scope(client: Any, team: Team) -> None:
    reader = Api(client, make_key(team, ("invoices:read",)))
    response = reader.get("/webhook-endpoints")
    assert response.status_code == 403 and response.mimetype == PROBLEM
    assert reader.get("/events").status_code == 403
