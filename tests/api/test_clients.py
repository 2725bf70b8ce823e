"""``/api/v1/clients``: list, filter, sort, page, create, change, scopes, tenancy."""

from __future__ import annotations

from typing import Any

from portal.services.actors import Actor
from tests.api.conftest import Api, assert_problem
from tests.conftest import Team, make_team
from tests.services import factories


def _names(body: dict[str, Any]) -> list[str]:
    return [c["name"] for c in body["data"]]


def test_create_read_and_change_a_client(api: Api) -> None:
    created = api.post(
        "/clients",
        {
            "name": "Nordlicht AG",
            "currency": "eur",
            "email": "AP@nordlicht.example",
            "billing_address": {"city": "Kiel", "country": "de"},
            "contacts": [{"name": "Ada", "email": "ada@nordlicht.example"}],
            "tags": ["Retail"],
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["currency"] == "EUR"
    assert body["email"] == "ap@nordlicht.example"
    assert body["billing_address"]["country"] == "DE"
    assert body["contacts"][0]["is_primary"] is True
    assert len(body["id"]) == 26 and not body["id"].isdigit()
    one = api.get(f"/clients/{body['id']}").get_json()
    assert one == body
    changed = api.patch(f"/clients/{body['id']}", {"phone": "+49 431 1"}).get_json()
    assert changed["phone"] == "+49 431 1"
    assert changed["name"] == "Nordlicht AG"
    assert changed["contacts"][0]["name"] == "Ada"
    contacts = api.get(f"/clients/{body['id']}/contacts").get_json()
    assert [c["name"] for c in contacts] == ["Ada"]


def test_bad_input_is_a_problem_naming_each_field(api: Api) -> None:
    body = assert_problem(api.post("/clients", {"currency": "euro"}), 422, "name")
    assert {e["field"] for e in body["errors"]} >= {"name", "currency"}
    assert_problem(api.post("/clients", {"name": "X", "currency": "XXQ"}), 422, "currency")
    assert_problem(api.post("/clients", {"name": "X\x00", "currency": "EUR"}), 422, "name")
    assert_problem(
        api.post("/clients", {"name": "X", "currency": "EUR", "contacts": [{}]}),
        422,
        "contacts/0/name",
    )
    assert_problem(api.get("/clients?limit=500"), 422, "limit")
    assert_problem(api.get("/clients?sort=secret"), 422, "sort")
    assert_problem(api.get("/clients?cursor=garbage"), 422, "cursor")
    response = api.client.post(
        "/api/v1/clients",
        data="{not json",
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
        csrf=False,
    )
    assert response.status_code in {400, 422}
    assert response.mimetype == "application/problem+json"


def test_list_filters_sorts_and_pages_without_repeats(api: Api, team: Team) -> None:
    owner = team.actor()
    for n in range(7):
        factories.client(owner, name=f"Client {n}", email=f"c{n}@example.com")
    seen: list[str] = []
    cursor = None
    while True:
        query = "/clients?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(query).get_json()
        assert "data" in body, (body.get("errors"), query)
        seen += _names(body)
        if cursor is None:
            # A client added while paging sorts before the cursor: it never shifts the pages.
            factories.client(owner, name="Aardvark", email="a@example.com")
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Client {n}" for n in range(7)]
    newest = api.get("/clients?sort=-created_at&limit=2").get_json()
    assert _names(newest) == ["Aardvark", "Client 6"]
    assert _names(api.get("/clients?q=client 3").get_json()) == ["Client 3"]
    # The same cursor with another sort is refused, not misread.
    first = api.get("/clients?limit=2").get_json()
    assert_problem(api.get(f"/clients?sort=-name&cursor={first['next_cursor']}"), 422, "cursor")


def test_updated_since_and_archive(api: Api, team: Team) -> None:
    owner: Actor = team.actor()
    old = factories.client(owner, name="Old", email="old@example.com")
    mark = api.get(f"/clients/{old.public_id}").get_json()["updated_at"]
    archived = api.post(f"/clients/{old.public_id}/archive").get_json()
    assert archived["archived"] is True
    assert _names(api.get("/clients").get_json()) == []
    assert _names(api.get("/clients?archived=true").get_json()) == ["Old"]
    api.post(f"/clients/{old.public_id}/restore")
    since = api.get("/clients", query_string={"updated_since": mark}).get_json()
    assert _names(since) == ["Old"]
    assert _names(api.get("/clients?updated_since=2999-01-01T00:00:00Z").get_json()) == []


def test_scopes_and_tenancy(api_with: Any, team: Team) -> None:
    reader = api_with("clients:read")
    assert reader.get("/clients").status_code == 200
    body = assert_problem(reader.post("/clients", {"name": "X", "currency": "EUR"}), 403)
    assert "clients:write" in body["detail"]
    assert_problem(api_with("invoices:read").get("/clients"), 403)
    other = make_team("Other Co")
    theirs = factories.client(other.actor(), name="Theirs", email="t@example.com")
    assert_problem(reader.get(f"/clients/{theirs.public_id}"), 404)
    assert_problem(
        api_with("clients:write").patch(f"/clients/{theirs.public_id}", {"name": "Mine"}), 404
    )


def test_anonymous_and_bad_keys_are_401_problems(client: Any) -> None:
    response = client.get("/api/v1/clients")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.get("/api/v1/clients", headers={"Authorization": "Bearer il_000000000000_nope"})
    assert_problem(bad, 401)
    assert_problem(client.get("/api/v1/no-such-thing"), 401)


def test_unknown_paths_and_methods_are_problems(api: Api) -> None:
    assert_problem(api.get("/no-such-thing"), 404)
    assert_problem(api.get("/clients/not%00an-id"), 404)
    response = api.delete("/clients")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_refused_keys_count_against_the_address(client: Any, app: Any) -> None:
    """Guessing keys from one address runs into its limit like any other calls."""
    app.config["API_RATE_LIMIT_PER_IP"] = "3 per minute"
    address = {"REMOTE_ADDR": "198.51.100.77"}
    statuses = [
        client.get(
            "/api/v1/clients",
            headers={"Authorization": "Bearer il_000000000000_notakey"},
            environ_base=address,
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
