"""The audit log page's queries: filters, keyset pages, CSV, sign-ins, API calls, the chain."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from portal.extensions import db as _db
from portal.models import ApiRequest, AuditEvent, LoginAttempt, Role
from portal.services import audit_log, clients
from portal.services.audit_log import AuditFilter
from portal.services.errors import Forbidden
from tests.conftest import PASSWORD, make_team
from tests.services import factories as f


def _actions(page) -> list[str]:
    return [e.action for e in page.items]


@pytest.fixture
def history(team):
    """Two clients, one edited and archived by staff; an invoice issued; another business."""
    owner, staff = team.actor(), team.actor(Role.STAFF)
    blue = f.client(owner, name="Blue Harbor", email="=cmd|' /C calc'!A0@x.example")
    red = f.client(staff, name="Red Mill")
    clients.update_client(
        staff, red.public_id, clients.ClientData(name="Red Mill Ltd", currency="EUR")
    )
    clients.archive_client(staff, red.public_id)
    f.issued_invoice(owner, blue)
    other = make_team("Other Co")
    f.client(other.actor(), name="Foreign Client")
    return {"blue": blue, "red": red}


def test_the_filters_find_exactly_the_expected_events(team, history):
    owner = team.actor(Role.ACCOUNTANT)
    red = history["red"].public_id
    by_entity = audit_log.search_events(owner, AuditFilter(entity_type="client", entity_id=red))
    assert _actions(by_entity) == ["client.archived", "client.updated", "client.created"]

    prefix = audit_log.search_events(owner, AuditFilter(action="client."))
    assert sorted(_actions(prefix)) == sorted(
        ["client.created", "client.created", "client.updated", "client.archived"]
    )
    exact = audit_log.search_events(owner, AuditFilter(action="client.updated"))
    assert [e.entity_id for e in exact.items] == [red]

    by_actor = audit_log.search_events(owner, AuditFilter(actor="staff@"))
    assert _actions(by_actor) == ["client.archived", "client.updated", "client.created"]
    # The other business's events are never found.
    everything = audit_log.search_events(owner, AuditFilter())
    assert all(e.business_id == team.business.id for e in everything.items)
    assert "Foreign Client" not in str([e.after for e in everything.items])


def test_a_date_range_includes_its_last_day(team, history):
    actor = team.actor(Role.ACCOUNTANT)
    event = _db.session.scalars(
        AuditEvent.__table__.select().where(AuditEvent.action == "client.archived")
    ).first()
    # Move one event back in time with raw SQL (the chain is not verified here).
    _db.session.execute(
        text("UPDATE audit_events SET created_at = :at WHERE id = :id"),
        {"at": datetime(2024, 3, 31, 23, 59, tzinfo=UTC), "id": event},
    )
    _db.session.commit()
    march = audit_log.search_events(
        actor, AuditFilter(since=date(2024, 3, 1), until=date(2024, 3, 31))
    )
    assert _actions(march) == ["client.archived"]
    before = audit_log.search_events(actor, AuditFilter(until=date(2024, 3, 30)))
    assert before.items == []


def test_pages_follow_the_cursor_without_gaps_or_repeats(team, history):
    actor = team.actor(Role.ACCOUNTANT)
    everything = audit_log.search_events(actor, AuditFilter())
    seen, cursor = [], None
    while True:
        page = audit_log.search_events(actor, AuditFilter(), cursor, limit=2)
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [e.id for e in everything.items]
    assert len(seen) == len(set(seen)) >= 6


def test_staff_may_not_read_the_log_and_only_owners_verify(team, history):
    with pytest.raises(Forbidden):
        audit_log.search_events(team.actor(Role.STAFF), AuditFilter())
    with pytest.raises(Forbidden):
        audit_log.verify_business_chain(team.actor(Role.ADMIN))


def test_the_csv_parses_back_with_formula_cells_guarded(team, history):
    lines = audit_log.events_csv(team.actor(Role.ACCOUNTANT), AuditFilter(action="client.created"))
    rows = list(csv.DictReader(io.StringIO("".join(lines))))
    assert [r["action"] for r in rows] == ["client.created", "client.created"]
    blue = next(r for r in rows if r["entity_id"] == history["blue"].public_id)
    # The JSON snapshot starts with "{", so it is plain; the actor cell too.
    assert blue["actor"] == "owner@acme-ltd.example"
    assert "=cmd" in blue["after"]
    for row in rows:
        for cell in row.values():
            assert cell[:1] not in {"=", "+", "-", "@"}


def test_a_formula_at_the_start_of_a_cell_is_defused():
    rows = list(csv.reader(io.StringIO("".join(audit_log._csv(["a"], [["=1+1"], ["-2"], ["ok"]])))))
    assert rows == [["a"], ["'=1+1"], ["'-2"], ["ok"]]


def test_verify_finds_the_row_tampered_with_raw_sql(team, history):
    owner = team.actor()
    report = audit_log.verify_business_chain(owner)
    assert report.ok and report.chains == 1 and report.events >= 6
    target = _db.session.scalar(
        AuditEvent.__table__.select()
        .with_only_columns(AuditEvent.seq)
        .where(AuditEvent.business_id == team.business.id, AuditEvent.action == "client.updated")
    )
    _db.session.execute(
        text(
            "UPDATE audit_events SET actor_label = 'someone@else'"
            " WHERE business_id = :b AND seq = :s"
        ),
        {"b": team.business.id, "s": target},
    )
    _db.session.commit()
    _db.session.expire_all()
    broken = audit_log.verify_business_chain(owner)
    assert not broken.ok
    assert broken.broken is not None
    assert (broken.broken.seq, broken.broken.reason) == (target, "content was altered")


def test_sign_ins_of_members_only_with_their_result(app, team, history, client):
    for email, password in (
        ("staff@acme-ltd.example", "wrong one!"),
        ("staff@acme-ltd.example", PASSWORD),
        ("owner@other-co.example", PASSWORD),
        ("nobody@acme-ltd.example", "x"),
    ):
        app.test_client().post("/login", data={"email": email, "password": password})
    actor = team.actor(Role.ACCOUNTANT)
    page = audit_log.search_sign_ins(actor, AuditFilter())
    assert [(a.email, a.success) for a in page.items] == [
        ("staff@acme-ltd.example", True),
        ("staff@acme-ltd.example", False),
    ]
    failed = audit_log.search_sign_ins(actor, AuditFilter(action="sign_in.failed"))
    assert [a.success for a in failed.items] == [False]
    rows = list(csv.DictReader(io.StringIO("".join(audit_log.sign_ins_csv(actor, AuditFilter())))))
    assert [r["result"] for r in rows] == ["succeeded", "failed"]
    assert _db.session.query(LoginAttempt).count() == 4


def test_api_calls_of_the_business_only(team, history):
    other = make_team("Third Co")
    now = datetime.now(UTC)
    _db.session.add_all(
        [
            ApiRequest(
                business_id=team.business.id,
                method="GET",
                path="/api/v1/clients",
                status=200,
                created_at=now - timedelta(days=3),
            ),
            ApiRequest(
                business_id=team.business.id,
                method="POST",
                path="/api/v1/invoices",
                status=422,
                created_at=now,
            ),
            ApiRequest(
                business_id=other.business.id,
                method="GET",
                path="/api/v1/secret",
                status=200,
                created_at=now,
            ),
        ]
    )
    _db.session.commit()
    actor = team.actor(Role.ACCOUNTANT)
    every = audit_log.search_api_calls(actor, audit_log.api_filter(AuditFilter()))
    assert [e.request.path for e in every.items] == ["/api/v1/invoices", "/api/v1/clients"]
    errors = audit_log.search_api_calls(actor, audit_log.api_filter(AuditFilter(), status="4xx"))
    assert [e.request.status for e in errors.items] == [422]
    rows = list(
        csv.DictReader(
            io.StringIO(
                "".join(audit_log.api_calls_csv(actor, audit_log.api_filter(AuditFilter())))
            )
        )
    )
    assert [r["path"] for r in rows] == ["/api/v1/invoices", "/api/v1/clients"]
