import re
import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db as _db
from portal.models import AuditEvent, Document, DocumentKind, RecurringSchedule, Role
from portal.services import catalogue, documents, pricing, recurring
from portal.services.errors import Forbidden, InvalidInput, NotFound
from portal.services.recurring import ScheduleData
from tests.conftest import is_postgres, make_team
from tests.services import factories as f


def schedule(actor: Any, for_client: Any, **overrides: Any) -> RecurringSchedule:
    data: dict[str, Any] = {
        "client_id": for_client.public_id,
        "lines": (f.line("Retainer", "1", "500.00"),),
        "frequency": "monthly",
        "start_date": date(2026, 1, 31),
        **overrides,
    }
    return recurring.create_schedule(actor, ScheduleData(**data))


def invoices() -> list[Document]:
    _db.session.expire_all()
    return list(
        _db.session.scalars(
            select(Document)
            .where(Document.kind == DocumentKind.INVOICE)
            .order_by(Document.issue_date, Document.id)
        )
    )


def test_a_schedule_keeps_its_lines_in_a_hidden_template(team, db):
    actor = team.actor(Role.STAFF)
    vat = f.tax_rate(team.actor(), "VAT 19%", "19")
    client = f.client(actor)
    made = schedule(
        actor, client, lines=(f.line("Retainer", "1", "500.00", tax_rate_ids=(vat.public_id,)),)
    )
    assert (made.frequency, made.day_of_month, made.interval_count) == ("monthly", 31, 1)
    assert (made.next_run_on, made.generated_count, made.active) == (date(2026, 1, 31), 0, True)
    template = made.template
    assert template.kind is DocumentKind.TEMPLATE
    assert (template.currency, template.terms_code, template.total_minor) == ("EUR", "NET30", 59500)
    with pytest.raises(NotFound):
        documents.get_document(actor, template.public_id)
    event = _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "schedule.created"))
    assert [e.entity_id for e in event] == [made.public_id]


def test_monthly_from_january_31_invoices_on_each_months_last_day(team, db):
    actor = team.actor()
    vat = f.tax_rate(actor, "VAT 19%", "19")
    client = f.client(actor)
    made = schedule(
        actor, client, lines=(f.line("Retainer", "2", "250.00", tax_rate_ids=(vat.public_id,)),)
    )
    new = recurring.run_due_schedules(team.business, date(2026, 4, 30))
    assert [d.issue_date for d in new] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert [d.generator_key for d in new] == [
        f"schedule:{made.public_id}:2026-01",
        f"schedule:{made.public_id}:2026-02",
        f"schedule:{made.public_id}:2026-03",
        f"schedule:{made.public_id}:2026-04",
    ]
    first = new[0]
    assert (first.status, first.number, first.schedule_id) == ("draft", None, made.id)
    assert (first.total_minor, first.tax_minor) == (59500, 9500)
    # The tax snapshots are copied from the template, not read again from the rates.
    assert [(line.description, line.quantity, line.taxes) for line in first.lines] == [
        ("Retainer", Decimal("2.0000"), made.template.lines[0].taxes)
    ]
    assert first.lines[0].taxes[0]["percent"] == "19"
    _db.session.refresh(made)
    assert (made.generated_count, made.next_run_on) == (4, date(2026, 5, 31))


def test_later_tax_rate_edits_do_not_change_the_invoices_a_schedule_makes(team, db):
    actor = team.actor()
    vat = f.tax_rate(actor, "VAT 19%", "19")
    schedule(
        actor,
        f.client(actor),
        lines=(f.line("Retainer", "1", "100", tax_rate_ids=(vat.public_id,)),),
    )
    catalogue.update_tax_rate(
        actor, vat.public_id, catalogue.TaxRateData(name="VAT 19%", rate=Decimal(21))
    )
    (doc,) = recurring.run_due_schedules(team.business, date(2026, 1, 31))
    assert (doc.tax_minor, doc.lines[0].taxes[0]["percent"]) == (1900, "19")


def test_running_twice_makes_nothing_new(team, db):
    actor = team.actor()
    schedule(actor, f.client(actor))
    first = recurring.run_due_schedules(team.business, date(2026, 3, 31))
    assert len(first) == 3
    assert recurring.run_due_schedules(team.business, date(2026, 3, 31)) == []
    assert recurring.run_due_schedules(None, date(2026, 3, 31)) == []
    assert [d.public_id for d in invoices()] == [d.public_id for d in first]


def test_a_run_whose_bookkeeping_was_lost_skips_the_periods_already_invoiced(team, db):
    actor = team.actor()
    made = schedule(actor, f.client(actor))
    recurring.run_due_schedules(team.business, date(2026, 2, 28))
    # As if another process made the invoices but its counters never reached this one.
    _db.session.execute(
        update(RecurringSchedule)
        .where(RecurringSchedule.id == made.id)
        .values(generated_count=0, next_run_on=date(2026, 1, 31))
    )
    _db.session.commit()
    new = recurring.run_due_schedules(team.business, date(2026, 3, 31))
    assert [d.issue_date for d in new] == [date(2026, 3, 31)]
    assert len(invoices()) == 3
    _db.session.refresh(made)
    assert (made.generated_count, made.next_run_on) == (3, date(2026, 4, 30))


def test_auto_send_issues_and_marks_each_invoice_sent_as_the_owner(team, db):
    actor = team.actor(Role.STAFF)
    schedule(
        actor,
        f.client(actor),
        frequency="quarterly",
        day_of_month=1,
        start_date=date(2026, 1, 15),
        terms_code="NET14",
        auto_send=True,
    )
    new = recurring.run_due_schedules(team.business, date(2026, 8, 1))
    assert [(d.number, d.issue_date, d.due_date, d.status) for d in new] == [
        ("INV-2026-00001", date(2026, 2, 1), date(2026, 2, 15), "sent"),
        ("INV-2026-00002", date(2026, 5, 1), date(2026, 5, 15), "sent"),
        ("INV-2026-00003", date(2026, 8, 1), date(2026, 8, 15), "sent"),
    ]
    assert [d.balance_minor for d in new] == [50000, 50000, 50000]
    events = _db.session.execute(
        select(AuditEvent.action, AuditEvent.actor_label)
        .where(AuditEvent.entity_id == new[0].public_id)
        .order_by(AuditEvent.seq)
    ).all()
    owner = team.users[Role.OWNER].email
    assert events == [
        ("invoice.created", owner),
        ("invoice.issued", owner),
        ("invoice.sent", owner),
    ]


def test_auto_send_without_an_exchange_rate_leaves_a_draft(team, db):
    actor = team.actor()
    schedule(actor, f.client(actor, currency="USD"), auto_send=True)
    (doc,) = recurring.run_due_schedules(team.business, date(2026, 1, 31))
    _db.session.refresh(doc)
    assert (doc.status, doc.number, doc.issue_date) == ("draft", None, date(2026, 1, 31))
    issued = documents.issue_invoice(actor, doc.public_id, exchange_rate=Decimal("0.92"))
    assert (issued.number, issued.issue_date) == ("INV-2026-00001", date(2026, 1, 31))


def test_a_schedule_ends_after_its_count_or_on_its_end_date(team, db):
    actor = team.actor()
    client = f.client(actor)
    by_count = schedule(actor, client, end_after_count=2)
    by_date = schedule(
        actor, client, frequency="weekly", start_date=date(2026, 3, 2), end_date=date(2026, 3, 16)
    )
    new = recurring.run_due_schedules(team.business, date(2026, 12, 31))
    assert [(d.schedule_id, d.issue_date) for d in new] == [
        (by_count.id, date(2026, 1, 31)),
        (by_count.id, date(2026, 2, 28)),
        (by_date.id, date(2026, 3, 2)),
        (by_date.id, date(2026, 3, 9)),
        (by_date.id, date(2026, 3, 16)),
    ]
    assert new[2].generator_key == f"schedule:{by_date.public_id}:2026-W10"
    for made in (by_count, by_date):
        _db.session.refresh(made)
        assert made.next_run_on is None


def test_a_paused_schedule_skips_the_periods_it_missed(team, db):
    actor = team.actor(Role.STAFF)
    made = schedule(actor, f.client(actor), end_after_count=3)
    recurring.run_due_schedules(team.business, date(2026, 1, 31))
    recurring.pause_schedule(actor, made.public_id)
    assert recurring.run_due_schedules(team.business, date(2026, 4, 30)) == []
    resumed = recurring.resume_schedule(actor, made.public_id, today=date(2026, 5, 10))
    assert (resumed.active, resumed.next_run_on) == (True, date(2026, 5, 31))
    new = recurring.run_due_schedules(team.business, date(2026, 12, 31))
    # Three invoices in all: January, then May and June after the pause.
    assert [d.issue_date for d in new] == [date(2026, 5, 31), date(2026, 6, 30)]
    actions = _db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_id == made.public_id)
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == ["schedule.created", "schedule.paused", "schedule.resumed"]


def test_without_a_date_each_business_runs_on_its_own_today(team, db):
    actor = team.actor()
    today = pricing.business_today(team.business)
    schedule(actor, f.client(actor), start_date=today)
    other = make_team("Other Co")
    schedule(other.actor(), f.client(other.actor()), start_date=today)
    new = recurring.run_due_schedules()
    assert sorted(d.business_id for d in new) == sorted([team.business.id, other.business.id])
    assert {d.issue_date for d in new} == {today}


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"frequency": "daily"}, {"frequency": "Choose weekly, monthly, quarterly or yearly."}),
        ({"interval_count": 0}, {"interval_count": "Repeat every 1 to 52 periods."}),
        (
            {"frequency": "weekly", "day_of_month": 1},
            {
                "day_of_month": (
                    "A weekly schedule runs on the start date's weekday; leave the day empty."
                )
            },
        ),
        ({"day_of_month": 32}, {"day_of_month": "Choose a day between 1 and 31."}),
        (
            {"end_after_count": 0},
            {"end_after_count": "End after at least 1 invoice, or leave it empty."},
        ),
        (
            {"end_date": date(2026, 1, 1)},
            {"end_date": "The end date cannot be before the start date."},
        ),
        (
            {"start_date": date(2026, 1, 15), "day_of_month": 1, "end_date": date(2026, 1, 31)},
            {"end_date": "The schedule ends before its first invoice date."},
        ),
        ({"lines": ()}, {"lines": "Add at least one line."}),
        ({"currency": "XXY"}, {"currency": "'XXY' is not an ISO 4217 currency code."}),
        ({"terms_code": "SOON"}, {"terms_code": "unknown payment terms 'SOON'"}),
        (
            {"lines": (f.line(description=" "),)},
            {"lines-0": "Describe the line or pick a product."},
        ),
    ],
)
def test_bad_schedules_write_nothing(team, db, overrides, errors):
    actor = team.actor()
    client = f.client(actor)
    with pytest.raises(InvalidInput) as info:
        schedule(actor, client, **overrides)
    assert info.value.errors == errors
    assert _db.session.scalar(select(func.count(RecurringSchedule.id))) == 0
    assert _db.session.scalar(select(func.count(Document.id))) == 0


def test_roles_and_businesses_are_checked(team, db):
    with pytest.raises(Forbidden, match=re.escape("This needs the staff role or higher.")):
        schedule(team.actor(Role.VIEWER), f.client(team.actor()))
    other = make_team("Other Co")
    with pytest.raises(InvalidInput) as info:
        schedule(team.actor(), f.client(other.actor()))
    assert info.value.errors == {"client_id": "Choose one of your clients."}
    made = schedule(team.actor(), f.client(team.actor()))
    with pytest.raises(NotFound, match=re.escape("No such schedule.")):
        recurring.pause_schedule(other.actor(), made.public_id)
    # Another business's run leaves this one's schedules alone.
    assert recurring.run_due_schedules(other.business, date(2026, 12, 31)) == []


def test_the_system_actor_is_the_owner(team, db):
    actor = recurring.system_actor(team.business)
    assert (actor.user.id, actor.role) == (team.users[Role.OWNER].id, Role.OWNER)


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="row locks under concurrency need PostgreSQL")
def test_two_runs_at_once_make_one_invoice_per_period(app, team, db):
    actor = team.actor()
    client = f.client(actor)
    for _ in range(3):
        schedule(actor, client, auto_send=True)
    business_id = team.business.id
    errors: list[BaseException] = []
    made: list[list[str]] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        from portal.models import Business

        with app.app_context():
            business = _db.session.get(Business, business_id)
            barrier.wait()
            try:
                made.append(
                    [d.public_id for d in recurring.run_due_schedules(business, date(2026, 6, 30))]
                )
            except BaseException as exc:
                errors.append(exc)
            _db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    docs = invoices()
    # Three schedules, January to June: 18 invoices, numbered without gaps.
    assert sum(len(ids) for ids in made) == len(docs) == 18
    assert len({d.generator_key for d in docs}) == 18
    assert sorted(d.number for d in docs) == [f"INV-2026-{n:05}" for n in range(1, 19)]
    counts = _db.session.scalars(select(RecurringSchedule.generated_count)).all()
    assert counts == [6, 6, 6]
