"""``/api/v1/invoices`` and the other resources: money, expand, actions, files, scopes."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, assert_problem
from tests.conftest import Inbox, Team, make_team
from tests.documents.conftest import pdf_text
from tests.services import factories


def _draft(api: Api, team: Team) -> dict[str, Any]:
    client = factories.client(team.actor(), email="billing@blue.example")
    response = api.post(
        "/invoices",
        {
            "client_id": client.public_id,
            "lines": [{"description": "Design", "quantity": "2", "unit_price": "12.50"}],
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.get_json())


def test_a_draft_is_issued_sent_and_voided(api: Api, team: Team, inbox: Inbox) -> None:
    draft = _draft(api, team)
    assert draft["status"] == "draft"
    assert draft["total"] == {"minor": 2500, "currency": "EUR", "display": "€25.00"}
    assert draft["lines"][0]["unit_price"] == "12.500000"
    issued = api.post(f"/invoices/{draft['id']}/issue").get_json()
    assert issued["status"] == "issued" and issued["number"]
    sent = api.post(f"/invoices/{draft['id']}/send", {"message": "Thanks for the work."})
    assert sent.status_code == 202, sent.get_data(as_text=True)
    assert sent.get_json()["status"] == "sent"
    [received] = inbox.deliveries
    assert received.rcpt_tos == ["billing@blue.example"]
    mail = received.message
    assert mail["Subject"] == f"Invoice {issued['number']} from Acme Ltd"
    text = mail.get_body(("plain",))
    assert text is not None and "Thanks for the work." in text.get_content()
    [pdf] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    shown = pdf_text(pdf.get_content())
    assert issued["number"] in shown and "€25.00" in shown
    # The e-invoice rules need the seller's country, which this business has not given.
    refused = assert_problem(api.get(f"/invoices/{draft['id']}/einvoice/ubl"), 422)
    assert "BR-09" in refused["detail"]
    assert_problem(api.post(f"/invoices/{draft['id']}/void", {"reason": ""}), 422, "reason")
    voided = api.post(f"/invoices/{draft['id']}/void", {"reason": "Sent twice"}).get_json()
    assert voided["status"] == "void"


def test_bad_lines_name_the_field(api: Api, team: Team) -> None:
    client = factories.client(team.actor())
    base = {"client_id": client.public_id}
    assert_problem(api.post("/invoices", {**base, "lines": []}), 422, "lines")
    line = {"description": "X", "quantity": 2.5, "unit_price": "1"}
    assert_problem(api.post("/invoices", {**base, "lines": [line]}), 422, "lines/0/quantity")
    line = {"description": "X", "quantity": "1", "unit_price": "99999999999"}
    assert_problem(api.post("/invoices", {**base, "lines": [line]}), 422, "lines/0/unit_price")
    line = {"description": "X", "quantity": "1", "unit_price": "1"}
    body = {"client_id": "01JAAAAAAAAAAAAAAAAAAAAAAA", "lines": [line]}
    assert_problem(api.post("/invoices", body), 422, "client_id")


def test_list_filters_expands_and_pages(api: Api, team: Team) -> None:
    owner = team.actor()
    blue = factories.client(owner, email="b@example.com")
    red = factories.client(owner, name="Red", email="r@example.com")
    for _ in range(3):
        factories.issued_invoice(owner, blue)
    factories.draft(owner, red)
    page = api.get("/invoices?limit=2&expand=client,lines").get_json()
    assert len(page["data"]) == 2 and page["next_cursor"]
    assert page["data"][0]["client"]["name"] == "Red"
    assert page["data"][0]["lines"][0]["net"]["minor"] == 10000
    rest = api.get(f"/invoices?limit=2&expand=client,lines&cursor={page['next_cursor']}")
    ids = [d["id"] for d in page["data"] + rest.get_json()["data"]]
    assert len(set(ids)) == 4 and rest.get_json()["next_cursor"] is None
    assert "client" not in api.get("/invoices").get_json()["data"][0]
    drafts = api.get("/invoices?status=draft").get_json()["data"]
    assert [d["client_id"] for d in drafts] == [red.public_id]
    blues = api.get(f"/invoices?client_id={blue.public_id}&sort=number").get_json()["data"]
    assert [d["number"] for d in blues] == sorted(d["number"] for d in blues)
    assert_problem(api.get("/invoices?expand=secrets"), 422, "expand")


def test_scopes_and_other_businesses(api_with: Any, team: Team) -> None:
    other = make_team("Other Co")
    theirs = factories.issued_invoice(other.actor(), factories.client(other.actor()))
    reader = api_with("invoices:read")
    assert_problem(reader.get(f"/invoices/{theirs.public_id}"), 404)
    assert_problem(reader.get(f"/invoices/{theirs.public_id}/pdf"), 404)
    assert_problem(reader.post(f"/invoices/{theirs.public_id}/issue"), 403)
    assert_problem(api_with("invoices:write").post(f"/invoices/{theirs.public_id}/issue"), 404)
    assert_problem(api_with("clients:read").get("/reports/ageing"), 403)


def test_payments_products_and_reports(api: Api, team: Team) -> None:
    owner = team.actor()
    client = factories.client(owner)
    invoice = factories.issued_invoice(owner, client)
    paid = api.post(
        "/payments",
        {
            "client_id": client.public_id,
            "amount_minor": 10000,
            "currency": "EUR",
            "received_on": "2026-01-05",
            "allocations": [{"invoice_id": invoice.public_id, "amount_minor": 10000}],
        },
    )
    assert paid.status_code == 201, paid.get_data(as_text=True)
    payment = paid.get_json()
    assert payment["amount"]["display"] == "€100.00"
    assert payment["allocations"][0]["invoice_id"] == invoice.public_id
    refund = api.post(
        f"/payments/{payment['id']}/refunds", {"amount_minor": 500, "refunded_on": "2026-01-06"}
    )
    assert refund.status_code == 201, refund.get_data(as_text=True)
    assert api.get("/refunds").get_json()["data"][0]["amount"]["minor"] == 500
    product = api.post(
        "/products", {"name": "Hour", "unit_price_minor": 8000, "currency": "JPY"}
    ).get_json()
    assert product["unit_price"] == {"minor": 8000, "currency": "JPY", "display": "¥8,000"}
    ageing = api.get("/reports/ageing").get_json()
    assert ageing["total"]["currency"] == "EUR"
    revenue = api.get("/reports/revenue?start=2026-01-01&end=2026-12-31")
    assert revenue.status_code == 200
    assert_problem(api.get("/reports/revenue?start=2026-02-01&end=2026-01-01"), 422, "start")


def test_the_document_and_docs_page(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    list_invoices = document["paths"]["/api/v1/invoices"]["get"]
    assert list_invoices["security"] == [
        {"apiKey": ["invoices:read"]},
        {"oauth2": ["invoices:read"]},
    ]
    assert (
        "invoices:write"
        in document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"][
            "scopes"
        ]
    )
    post = document["paths"]["/api/v1/clients"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "swagger-ui-5.35.0-bundle.js" in page.get_data(as_text=True)
    assert "<script>" not in page.get_data(as_text=True)
    assert client.get("/api/v1/docs.js").mimetype == "text/javascript"
