"""List filters: invoices by issue date and by last change, payments by the day received,
clients with their contacts expanded."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from portal.extensions import db
from portal.models import Document
from portal.services import documents, payments
from portal.services.clients import ContactData
from tests.api.conftest import Api, assert_problem
from tests.conftest import Team
from tests.services import factories


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


def _issued_on(team: Team, client: Any, day: date) -> Document:
    draft = factories.draft(team.actor(), client)
    return documents.issue_invoice(team.actor(), draft.public_id, on=day)


def test_invoices_issued_from_and_to_include_both_days(api: Api, team: Team) -> None:
    client = factories.client(team.actor())
    jan, feb, mar = (
        _issued_on(team, client, date(2026, month, 10)).public_id for month in (1, 2, 3)
    )
    factories.draft(team.actor(), client)  # no issue date: outside every range

    def listed(query: str) -> set[str]:
        return set(_ids(api.get(f"/invoices?{query}").get_json()))

    assert listed("issued_from=2026-02-10") == {feb, mar}
    assert listed("issued_to=2026-02-10") == {jan, feb}
    assert listed("issued_from=2026-02-10&issued_to=2026-02-10") == {feb}
    assert listed("issued_from=2026-01-11&issued_to=2026-03-09") == {feb}
    assert listed("issued_from=2026-03-11") == set()
    assert len(listed("")) == 4
    assert_problem(api.get("/invoices?issued_from=10.02.2026"), 422, "issued_from")


def test_invoices_updated_since_is_inclusive_and_reads_the_offset(api: Api, team: Team) -> None:
    client = factories.client(team.actor())
    old, new = (factories.draft(team.actor(), client) for _ in range(2))
    for doc, when in (
        (old, datetime(2026, 1, 1, 12, tzinfo=UTC)),
        (new, datetime(2026, 3, 1, 12, tzinfo=UTC)),
    ):
        db.session.execute(update(Document).where(Document.id == doc.id).values(updated_at=when))
    db.session.commit()

    def since(moment: str) -> list[str]:
        return _ids(api.get("/invoices", query_string={"updated_since": moment}).get_json())

    assert since("2026-03-01T12:00:00Z") == [new.public_id]
    # The same instant in another zone; an hour later finds nothing.
    assert since("2026-03-01T13:00:00+01:00") == [new.public_id]
    assert since("2026-03-01T13:00:00Z") == []
    assert set(since("2026-01-01T12:00:00Z")) == {old.public_id, new.public_id}
    shown = api.get(f"/invoices/{new.public_id}").get_json()["updated_at"]
    assert datetime.fromisoformat(shown) == datetime(2026, 3, 1, 12, tzinfo=UTC)
    # A time without its offset could be any zone's: refused, not guessed.
    assert_problem(
        api.get("/invoices", query_string={"updated_since": "2026-03-01T12:00:00"}),
        422,
        "updated_since",
    )


def test_payments_received_from_and_to_include_both_days(api: Api, team: Team) -> None:
    owner = team.actor()
    client = factories.client(owner)
    invoice = factories.issued_invoice(owner, client)
    jan, feb, mar = (
        payments.pay_invoice(owner, invoice.public_id, Decimal("10"), date(2026, m, 5)).public_id
        for m in (1, 2, 3)
    )

    def listed(query: str) -> set[str]:
        return set(_ids(api.get(f"/payments?{query}").get_json()))

    assert listed("received_from=2026-02-05") == {feb, mar}
    assert listed("received_to=2026-02-05") == {jan, feb}
    assert listed("received_from=2026-02-05&received_to=2026-02-05") == {feb}
    assert listed("received_from=2026-03-06") == set()
    assert listed("") == {jan, feb, mar}
    assert_problem(api.get("/payments?received_to=yesterday"), 422, "received_to")


def test_clients_expand_contacts(api: Api, team: Team) -> None:
    owner = team.actor()
    factories.client(owner, name="Alone")
    busy = factories.client(
        owner,
        name="Busy",
        contacts=(
            ContactData("Ada", "ada@busy.example"),
            ContactData("Bo", "bo@busy.example", is_primary=True),
        ),
    )
    plain = api.get("/clients").get_json()["data"]
    assert [c["name"] for c in plain] == ["Alone", "Busy"]
    assert all("contacts" not in c for c in plain)

    expanded = api.get("/clients?expand=contacts").get_json()["data"]
    assert {c["name"]: [p["name"] for p in c["contacts"]] for c in expanded} == {
        "Alone": [],
        "Busy": ["Bo", "Ada"],  # the primary billing contact first
    }
    assert expanded[1]["contacts"][0]["is_primary"] is True
    assert_problem(api.get("/clients?expand=contacts,secrets"), 422, "expand")

    # One client always has its contacts.
    one = api.get(f"/clients/{busy.public_id}").get_json()
    assert [p["name"] for p in one["contacts"]] == ["Bo", "Ada"]
    assert api.get(f"/clients/{busy.public_id}?expand=contacts").get_json() == one
    assert_problem(api.get(f"/clients/{busy.public_id}?expand=secrets"), 422, "expand")
