import json

from sqlalchemy import select, text, update

from portal.models import AuditEvent
from portal.services import audit, clients
from portal.services.clients import ClientData
from tests.conftest import make_team


def _make_events(team, n=3):
    for i in range(n):
        clients.create_client(team.actor(), ClientData(name=f"Client {i}", currency="EUR"))


def test_untouched_chains_verify(team, db):
    make_team("Second Co")
    _make_events(team)
    report = audit.verify_chains()
    assert report.ok
    assert report.chains == 2
    assert report.events == 5  # two business.created + three client.created


def test_an_altered_event_is_the_first_broken_link(team, db):
    _make_events(team)
    chain = audit.chain_for(team.business)
    db.session.execute(
        update(AuditEvent)
        .where(AuditEvent.chain == chain, AuditEvent.seq == 3)
        .values(after={"name": "Forged"})
    )
    db.session.commit()
    report = audit.verify_chains()
    assert report.broken == audit.BrokenLink(chain, 3, "content was altered")


def test_a_removed_last_event_is_detected(team, db):
    _make_events(team)
    chain = audit.chain_for(team.business)
    db.session.execute(text("DELETE FROM audit_events WHERE chain = :c AND seq = 4"), {"c": chain})
    db.session.commit()
    report = audit.verify_chains()
    assert report.broken == audit.BrokenLink(chain, 4, "events after this were removed")


def test_the_cli_prints_the_broken_link_and_exits_1(app, team, db):
    _make_events(team)
    chain = audit.chain_for(team.business)
    ok = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert ok.exit_code == 0
    assert json.loads(ok.output)["ok"] is True
    db.session.execute(text("DELETE FROM audit_events WHERE chain = :c AND seq = 2"), {"c": chain})
    db.session.commit()
    bad = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["broken"] == {
        "chain": chain,
        "seq": 2,
        "reason": "event missing",
    }


def test_events_record_actor_and_business(team, db):
    _make_events(team, 1)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "client.created"))
    assert event.business_id == team.business.id
    assert event.actor_id == team.users[next(iter(team.users))].id
