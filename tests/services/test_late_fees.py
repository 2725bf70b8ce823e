import re
import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import AuditEvent, Document, LateFeeRule, Role
from portal.services import documents, late_fees, payments, rates
from portal.services.errors import Forbidden, InvalidInput
from portal.services.late_fees import LateFeeData
from tests.conftest import is_postgres, make_team
from tests.services import factories as f


def rule(team: Any, kind: str = "fixed", value: str = "25.00", **overrides: Any) -> LateFeeRule:
    return late_fees.set_late_fee_rule(
        team.actor(Role.ADMIN), LateFeeData(kind=kind, value=Decimal(value), **overrides)
    )


def invoice(
    actor: Any, client: Any, price: str = "1000.00", on: date = date(2026, 3, 1), **kw: Any
) -> Document:
    """Issued on 1 March 2026 on NET14 terms: due on 15 March."""
    draft = f.draft(actor, client, f.line("Consulting", "1", price), terms_code="NET14", **kw)
    return documents.issue_invoice(actor, draft.public_id, on=on)


def fees() -> list[Document]:
    _db.session.expire_all()
    return list(
        _db.session.scalars(
            select(Document)
            .where(Document.generator_key.startswith("late-fee:"))
            .order_by(Document.id)
        )
    )


def test_a_fixed_fee_is_charged_once_after_the_grace_days(team, db):
    actor = team.actor()
    late_fees.set_late_fee_rule(
        actor, LateFeeData(kind="fixed", value=Decimal("25.00"), after_days=10)
    )
    inv = invoice(actor, f.client(actor))
    assert inv.due_date == date(2026, 3, 15)
    assert late_fees.apply_late_fees(team.business, date(2026, 3, 24)) == []
    (fee,) = late_fees.apply_late_fees(team.business, date(2026, 3, 25))
    assert (fee.number, fee.status, fee.issue_date, fee.due_date) == (
        "INV-2026-00002",
        "issued",
        date(2026, 3, 25),
        date(2026, 3, 25),
    )
    assert (fee.client_id, fee.currency, fee.terms_code) == (inv.client_id, "EUR", "RECEIPT")
    assert (fee.total_minor, fee.tax_minor, fee.balance_minor) == (2500, 0, 2500)
    assert [(line.description, line.taxes) for line in fee.lines] == [
        ("Late fee for INV-2026-00001 (March 2026)", [])
    ]
    assert fee.generator_key == f"late-fee:{inv.public_id}:once"
    assert late_fees.apply_late_fees(team.business, date(2026, 3, 25)) == []
    assert late_fees.apply_late_fees(None, date(2026, 12, 31)) == []
    assert len(fees()) == 1
    owner = team.users[Role.OWNER].email
    events = _db.session.execute(
        select(AuditEvent.entity_id, AuditEvent.action, AuditEvent.actor_label)
        .where(AuditEvent.action.in_(["invoice.issued", "invoice.late_fee_charged"]))
        .where(AuditEvent.entity_id.in_([fee.public_id, inv.public_id]))
        .order_by(AuditEvent.seq)
    ).all()
    assert events == [
        (inv.public_id, "invoice.issued", owner),
        (inv.public_id, "invoice.late_fee_charged", owner),
        (fee.public_id, "invoice.issued", owner),
    ]


def test_when_two_runs_meet_the_unique_key_decides_and_the_loser_writes_nothing(
    team, db, monkeypatch
):
    actor = team.actor()
    rule(team, "fixed", "10", after_days=0)
    invoice(actor, f.client(actor))
    assert len(late_fees.apply_late_fees(team.business, date(2026, 3, 16))) == 1
    events = _db.session.scalar(select(func.count(AuditEvent.id)))
    # As if the other run's fee was not there yet when this one looked.
    monkeypatch.setattr(late_fees, "_exists", lambda invoice, period: False)
    assert late_fees.apply_late_fees(team.business, date(2026, 3, 16)) == []
    assert len(fees()) == 1
    assert _db.session.scalar(select(func.count(AuditEvent.id))) == events


def test_a_monthly_percentage_stops_at_the_cap(team, db):
    actor = team.actor()
    late_fees.set_late_fee_rule(
        actor,
        LateFeeData(
            kind="percent",
            value=Decimal("1.5"),
            after_days=30,
            repeat="monthly",
            cap=Decimal("40"),
        ),
    )
    inv = invoice(actor, f.client(actor))
    runs = [
        date(2026, 4, 13),
        date(2026, 4, 14),
        date(2026, 5, 13),
        date(2026, 5, 14),
        date(2026, 6, 14),
        date(2026, 7, 14),
        date(2026, 8, 31),
    ]
    made = {day: late_fees.apply_late_fees(team.business, day) for day in runs}
    assert {day: len(docs) for day, docs in made.items()} == {
        date(2026, 4, 13): 0,
        date(2026, 4, 14): 1,
        date(2026, 5, 13): 0,
        date(2026, 5, 14): 1,
        date(2026, 6, 14): 1,
        date(2026, 7, 14): 0,
        date(2026, 8, 31): 0,
    }
    # 1.5 % of 1000.00 is 15.00; the third is cut to what the 40.00 cap leaves.
    assert [(d.generator_key, d.total_minor, d.lines[0].description) for d in fees()] == [
        (f"late-fee:{inv.public_id}:1", 1500, "Late fee for INV-2026-00001 (April 2026)"),
        (f"late-fee:{inv.public_id}:2", 1500, "Late fee for INV-2026-00001 (May 2026)"),
        (f"late-fee:{inv.public_id}:3", 1000, "Late fee for INV-2026-00001 (June 2026)"),
    ]


def test_a_fixed_fee_above_the_cap_is_cut_to_it(team, db):
    actor = team.actor()
    rule(team, "fixed", "50", repeat="monthly", after_days=0, cap=Decimal("30.00"))
    invoice(actor, f.client(actor))
    assert [d.total_minor for d in late_fees.apply_late_fees(team.business, date(2026, 3, 16))] == [
        3000
    ]
    assert late_fees.apply_late_fees(team.business, date(2026, 4, 16)) == []


def test_a_voided_fee_does_not_count_towards_the_cap(team, db):
    actor = team.actor()
    rule(team, "fixed", "20", repeat="monthly", after_days=0, cap=Decimal("30.00"))
    invoice(actor, f.client(actor))
    (first,) = late_fees.apply_late_fees(team.business, date(2026, 3, 16))
    documents.void_invoice(actor, first.public_id, "Waived as a goodwill gesture")
    (second,) = late_fees.apply_late_fees(team.business, date(2026, 4, 16))
    assert second.total_minor == 2000


def test_a_percentage_is_of_the_current_balance_rounded_half_up(team, db):
    actor = team.actor()
    rule(team, "percent", "5", after_days=0)
    client = f.client(actor)
    small = invoice(actor, client, price="10.10")
    part_paid = invoice(actor, client, price="1000.00")
    payments.pay_invoice(actor, part_paid.public_id, Decimal("400.00"), date(2026, 3, 10))
    made = late_fees.apply_late_fees(team.business, date(2026, 3, 16))
    # 5 % of 10.10 is 0.505: half up, 0.51. 5 % of the 600.00 left is 30.00.
    assert [(d.lines[0].description, d.total_minor) for d in made] == [
        ("Late fee for INV-2026-00001 (March 2026)", 51),
        ("Late fee for INV-2026-00002 (March 2026)", 3000),
    ]
    assert small.balance_minor == 1010


def test_paid_void_and_late_fee_invoices_get_no_fee(team, db):
    actor = team.actor()
    rule(team, "fixed", "10", after_days=0)
    client = f.client(actor)
    paid = invoice(actor, client)
    payments.pay_invoice(actor, paid.public_id, Decimal("1000.00"), date(2026, 3, 10))
    voided = invoice(actor, client)
    documents.void_invoice(actor, voided.public_id, "Sent twice")
    open_one = invoice(actor, client)
    draft = f.draft(actor, client)
    assert draft.status == "draft"
    (fee,) = late_fees.apply_late_fees(team.business, date(2026, 3, 16))
    assert fee.generator_key == f"late-fee:{open_one.public_id}:once"
    # The fee itself falls due at once and stays unpaid: it is never charged a fee.
    assert late_fees.apply_late_fees(team.business, date(2027, 3, 16)) == []


def test_a_rule_switched_on_late_charges_the_current_month_only(team, db):
    actor = team.actor()
    inv = invoice(actor, f.client(actor), on=date(2026, 1, 1))  # due 15 January
    rule(team, "fixed", "10", after_days=0, repeat="monthly")
    (fee,) = late_fees.apply_late_fees(team.business, date(2026, 4, 20))
    # Periods began on 16 Jan, 16 Feb, 16 Mar and 16 Apr: the fourth is the current one.
    assert fee.generator_key == f"late-fee:{inv.public_id}:4"
    assert fee.lines[0].description == "Late fee for INV-2026-00001 (April 2026)"


def test_an_inactive_rule_or_no_rule_charges_nothing(team, db):
    actor = team.actor()
    invoice(actor, f.client(actor))
    assert late_fees.apply_late_fees(team.business, date(2026, 6, 1)) == []
    rule(team, "fixed", "10", after_days=0, active=False)
    assert late_fees.apply_late_fees(team.business, date(2026, 6, 1)) == []


def test_a_foreign_currency_fee_waits_for_an_exchange_rate(team, db):
    actor = team.actor()
    rule(team, "fixed", "500.4", after_days=0)
    draft = f.draft(
        actor,
        f.client(actor, currency="JPY"),
        f.line("Consulting", "1", "100000"),
        terms_code="NET14",
    )
    documents.issue_invoice(
        actor, draft.public_id, on=date(2026, 3, 1), exchange_rate=Decimal("0.0062")
    )
    assert late_fees.apply_late_fees(team.business, date(2026, 3, 31)) == []
    rates.import_ecb_csv("Date,JPY\n2026-03-30,161.5\n")
    (fee,) = late_fees.apply_late_fees(team.business, date(2026, 3, 31))
    # Rounded half up to what yen can hold.
    assert (fee.currency, fee.total_minor) == ("JPY", 500)
    assert fee.exchange_rate == Decimal("0.0061919505")


def test_only_the_business_given_is_charged(team, db):
    actor = team.actor()
    rule(team, "fixed", "10", after_days=0)
    invoice(actor, f.client(actor))
    other = make_team("Other Co")
    rule(other, "fixed", "10", after_days=0)
    assert late_fees.apply_late_fees(other.business, date(2026, 4, 1)) == []
    assert len(late_fees.apply_late_fees(None, date(2026, 4, 1))) == 1


def test_setting_the_rule_twice_updates_it_and_is_audited(team, db):
    first = rule(team, "fixed", "10")
    second = rule(team, "percent", "2.5", repeat="monthly", cap=Decimal("100"))
    assert first.id == second.id
    assert (second.kind, second.value, second.repeat, second.cap) == (
        "percent",
        Decimal("2.5"),
        "monthly",
        Decimal("100"),
    )
    events = _db.session.execute(
        select(AuditEvent.action, AuditEvent.before)
        .where(AuditEvent.entity_type == "late_fee_rule")
        .order_by(AuditEvent.seq)
    ).all()
    assert [action for action, _ in events] == ["late_fee_rule.created", "late_fee_rule.updated"]
    assert events[1][1]["value"] == "10.000000"
    assert late_fees.get_late_fee_rule(team.actor(Role.VIEWER)).id == first.id


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            LateFeeData(kind="daily", value=Decimal(1)),
            {"kind": "Choose a fixed amount or a percentage."},
        ),
        (LateFeeData(kind="fixed", value=Decimal(0)), {"value": "The fee must be greater than 0."}),
        (
            LateFeeData(kind="fixed", value=Decimal("1.2345")),
            {"value": "Use at most 3 decimal places."},
        ),
        (LateFeeData(kind="fixed", value=Decimal("NaN")), {"value": "Enter a number."}),
        (
            LateFeeData(kind="fixed", value=1.5),  # type: ignore[arg-type]
            {"value": "Enter a number."},
        ),
        (
            LateFeeData(kind="percent", value=Decimal("100.5")),
            {"value": "A percentage cannot be more than 100."},
        ),
        (
            LateFeeData(kind="percent", value=Decimal("-1")),
            {"value": "The percentage must be greater than 0."},
        ),
        (
            LateFeeData(kind="fixed", value=Decimal(10), after_days=400),
            {"after_days": "Choose between 0 and 365 days after the due date."},
        ),
        (
            LateFeeData(kind="fixed", value=Decimal(10), repeat="weekly"),
            {"repeat": "Choose once or every month."},
        ),
        (
            LateFeeData(kind="fixed", value=Decimal(10), cap=Decimal(0)),
            {"cap": "The cap must be greater than 0."},
        ),
    ],
)
def test_a_bad_rule_is_refused_and_nothing_is_written(team, db, data, errors):
    with pytest.raises(InvalidInput) as info:
        late_fees.set_late_fee_rule(team.actor(Role.ADMIN), data)
    assert info.value.errors == errors
    assert _db.session.scalar(select(func.count(LateFeeRule.id))) == 0


def test_the_rule_needs_an_admin(team, db):
    with pytest.raises(Forbidden, match=re.escape("This needs the admin role or higher.")):
        late_fees.set_late_fee_rule(
            team.actor(Role.ACCOUNTANT), LateFeeData(kind="fixed", value=Decimal(10))
        )


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="row locks under concurrency need PostgreSQL")
def test_two_runs_at_once_charge_each_period_once(app, team, db):
    actor = team.actor()
    rule(team, "fixed", "15", after_days=0, repeat="monthly", cap=Decimal("40"))
    client = f.client(actor)
    overdue = [invoice(actor, client).public_id for _ in range(5)]
    business_id = team.business.id
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(day: date) -> None:
        from portal.models import Business

        with app.app_context():
            business = _db.session.get(Business, business_id)
            barrier.wait()
            try:
                late_fees.apply_late_fees(business, day)
            except BaseException as exc:
                errors.append(exc)
            _db.session.remove()

    for day in (date(2026, 3, 16), date(2026, 4, 16), date(2026, 5, 16)):
        threads = [threading.Thread(target=worker, args=(day,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    made = fees()
    # 15 + 15 + 10: three fees per invoice, the cap never passed.
    assert sorted(d.generator_key for d in made) == sorted(
        f"late-fee:{public_id}:{n}" for public_id in overdue for n in (1, 2, 3)
    )
    assert sorted(d.total_minor for d in made) == [1000] * 5 + [1500] * 10
    assert sorted(d.number for d in made) == [f"INV-2026-{n:05}" for n in range(6, 21)]
