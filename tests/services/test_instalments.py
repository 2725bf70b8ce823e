import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import AuditEvent, Instalment, Role
from portal.services import documents, instalments, payments
from portal.services.errors import Forbidden, InvalidInput, NotFound
from portal.services.instalments import InstalmentState
from tests.conftest import make_team
from tests.services import factories as f

ISSUED_ON = date(2026, 1, 15)


def issued(team, *lines, currency="EUR"):
    owner = team.actor()
    doc = f.draft(owner, f.client(owner, currency=currency), *lines)
    rate = None if currency == "EUR" else Decimal("0.0061")
    return documents.issue_invoice(owner, doc.public_id, on=ISSUED_ON, exchange_rate=rate)


def retainer(team):
    """1,000.00 plus 19 % VAT: 1,190.00 due."""
    vat = f.tax_rate(team.actor(), "VAT 19%", "19")
    doc = issued(team, f.line("Retainer", "1", "1000", tax_rate_ids=(vat.public_id,)))
    assert doc.amount_due_minor == 119000
    return doc


def plan(doc):
    return [(i.seq, i.due_date, i.amount_minor) for i in doc.instalments]


def settled(doc):
    return doc.amount_due_minor - doc.balance_minor


def test_equal_monthly_instalments_keep_the_day_or_the_months_last(team, db):
    doc = retainer(team)
    actor = team.actor(Role.ACCOUNTANT)
    instalments.split_equal(actor, doc.public_id, 3, date(2026, 1, 31), monthly=True)
    # 1,190.00 / 3 = 396.666…: the first instalment takes the spare cent.
    assert plan(doc) == [
        (1, date(2026, 1, 31), 39667),
        (2, date(2026, 2, 28), 39667),
        (3, date(2026, 3, 31), 39666),
    ]
    event = _db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "invoice.instalments_planned")
    ).one()
    assert (event.entity_id, event.before) == (doc.public_id, None)
    assert event.after == {
        "instalments": [
            [1, "2026-01-31", 39667],
            [2, "2026-02-28", 39667],
            [3, "2026-03-31", 39666],
        ]
    }


def test_a_new_plan_replaces_the_old_one(team, db):
    doc = retainer(team)
    actor = team.actor(Role.ACCOUNTANT)
    instalments.split_equal(actor, doc.public_id, 3, date(2026, 1, 31), monthly=True)
    instalments.split_equal(actor, doc.public_id, 4, date(2026, 2, 1), every_days=14)
    assert plan(doc) == [
        (1, date(2026, 2, 1), 29750),
        (2, date(2026, 2, 15), 29750),
        (3, date(2026, 3, 1), 29750),
        (4, date(2026, 3, 15), 29750),
    ]
    assert _db.session.scalar(select(func.count(Instalment.id))) == 4
    last = _db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last.before == {
        "instalments": [
            [1, "2026-01-31", 39667],
            [2, "2026-02-28", 39667],
            [3, "2026-03-31", 39666],
        ]
    }


def test_yen_split_in_whole_yen(team, db):
    doc = issued(team, f.line("Consulting", "1", "10000"), currency="JPY")
    instalments.split_equal(
        team.actor(Role.ACCOUNTANT), doc.public_id, 3, date(2026, 2, 1), every_days=30
    )
    assert [amount for _, _, amount in plan(doc)] == [3334, 3333, 3333]


def test_custom_instalments_must_add_up_exactly(team, db):
    doc = retainer(team)
    actor = team.actor(Role.ACCOUNTANT)
    march, april = date(2026, 3, 1), date(2026, 4, 1)
    with pytest.raises(InvalidInput) as info:
        instalments.split_custom(
            actor, doc.public_id, ((march, Decimal("500")), (april, Decimal("690.10")))
        )
    assert info.value.errors == {
        "parts": "The instalments add up to 1190.10 EUR, 0.10 EUR more than the 1190.00 EUR due."
    }
    with pytest.raises(InvalidInput) as info:
        instalments.split_custom(
            actor, doc.public_id, ((march, Decimal("500")), (april, Decimal("600")))
        )
    assert info.value.errors == {
        "parts": "The instalments add up to 1100.00 EUR, 90.00 EUR less than the 1190.00 EUR due."
    }
    assert doc.instalments == []
    instalments.split_custom(
        actor, doc.public_id, ((march, Decimal("190.00")), (april, Decimal("1000")))
    )
    assert plan(doc) == [(1, march, 19000), (2, april, 100000)]


def test_custom_parts_are_checked_one_by_one(team, db):
    doc = retainer(team)
    actor = team.actor(Role.ACCOUNTANT)
    with pytest.raises(InvalidInput) as info:
        instalments.split_custom(
            actor,
            doc.public_id,
            (
                (date(2026, 3, 1), Decimal("0")),
                (date(2026, 4, 1), Decimal("100.001")),
                (date(2026, 4, 1), Decimal("500")),
                (date(2026, 3, 15), Decimal("590")),
            ),
        )
    assert info.value.errors == {
        "parts-0": "Enter an amount greater than 0.",
        "parts-1": "Enter an amount EUR can hold.",
        "parts-2": "Each due date must come after the one before.",
        "parts-3": "Each due date must come after the one before.",
    }
    with pytest.raises(InvalidInput) as info:
        instalments.split_custom(actor, doc.public_id, ((date(2026, 3, 1), Decimal("1190")),))
    assert info.value.errors == {"parts": "Give 2 to 60 instalments."}
    with pytest.raises(InvalidInput) as info:
        instalments.split_custom(
            actor,
            doc.public_id,
            ((date(2026, 1, 14), Decimal("190")), (date(2026, 2, 1), Decimal("1000"))),
        )
    assert info.value.errors == {
        "parts-0": "The first instalment cannot fall before the invoice date, 2026-01-15."
    }


@pytest.mark.parametrize(
    ("count", "kwargs", "errors"),
    [
        (1, {"monthly": True}, {"count": "Split into 2 to 60 instalments."}),
        (61, {"monthly": True}, {"count": "Split into 2 to 60 instalments."}),
        (3, {}, {"every_days": "Choose either every so many days or monthly."}),
        (
            3,
            {"every_days": 7, "monthly": True},
            {"every_days": "Choose either every so many days or monthly."},
        ),
        (3, {"every_days": 0}, {"every_days": "Enter a number of days from 1 to 366."}),
        (3, {"every_days": 367}, {"every_days": "Enter a number of days from 1 to 366."}),
    ],
)
def test_equal_split_settings_are_checked(team, db, count, kwargs, errors):
    doc = retainer(team)
    with pytest.raises(InvalidInput) as info:
        instalments.split_equal(
            team.actor(Role.ACCOUNTANT), doc.public_id, count, date(2026, 2, 1), **kwargs
        )
    assert info.value.errors == errors


def test_equal_split_dates_and_amounts_are_checked(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    doc = retainer(team)
    with pytest.raises(InvalidInput) as info:
        instalments.split_equal(actor, doc.public_id, 2, date(2026, 1, 1), monthly=True)
    assert info.value.errors == {
        "first_due": "The first instalment cannot fall before the invoice date, 2026-01-15."
    }
    tiny = issued(team, f.line("Stamp", "1", "0.05"))
    with pytest.raises(InvalidInput) as info:
        instalments.split_equal(actor, tiny.public_id, 6, date(2026, 2, 1), monthly=True)
    assert info.value.errors == {"count": "The amount due is too small for that many instalments."}


def test_only_open_invoices_are_split(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    client = f.client(team.actor())
    draft = f.draft(team.actor(), client)
    with pytest.raises(
        InvalidInput, match=re.escape("Issue the invoice before splitting it into instalments.")
    ):
        instalments.split_equal(actor, draft.public_id, 2, date(2026, 2, 1), monthly=True)
    paid = issued(team)
    payments.pay_invoice(actor, paid.public_id, Decimal(100), ISSUED_ON)
    with pytest.raises(
        InvalidInput, match=re.escape("Only an open invoice can be split; this one is paid.")
    ):
        instalments.split_custom(
            actor,
            paid.public_id,
            ((date(2026, 2, 1), Decimal(50)), (date(2026, 3, 1), Decimal(50))),
        )
    written_off = issued(team)
    documents.write_off_invoice(actor, written_off.public_id, "Client gone")
    with pytest.raises(InvalidInput) as info:
        instalments.split_equal(actor, written_off.public_id, 2, date(2026, 2, 1), monthly=True)
    assert info.value.errors == {
        "document": "Only an open invoice can be split; this one is written off."
    }


def test_payments_fill_instalments_in_order(team, db):
    doc = retainer(team)
    actor = team.actor(Role.ACCOUNTANT)
    instalments.split_equal(actor, doc.public_id, 3, date(2026, 1, 31), monthly=True)
    assert instalments.instalment_states(doc, settled(doc), date(2026, 1, 31)) == [
        InstalmentState(1, date(2026, 1, 31), 39667, 0, False),  # due today: not late yet
        InstalmentState(2, date(2026, 2, 28), 39667, 0, False),
        InstalmentState(3, date(2026, 3, 31), 39666, 0, False),
    ]
    payments.pay_invoice(actor, doc.public_id, Decimal(500), date(2026, 2, 2))
    assert instalments.instalment_states(doc, settled(doc), date(2026, 3, 1)) == [
        InstalmentState(1, date(2026, 1, 31), 39667, 39667, False),
        InstalmentState(2, date(2026, 2, 28), 39667, 10333, True),
        InstalmentState(3, date(2026, 3, 31), 39666, 0, False),
    ]
    payments.pay_invoice(actor, doc.public_id, Decimal(690), date(2026, 4, 2))
    states = instalments.instalment_states(doc, settled(doc), date(2026, 4, 2))
    assert [(s.paid_minor, s.overdue) for s in states] == [
        (39667, False),
        (39667, False),
        (39666, False),
    ]


def test_nothing_is_late_on_a_written_off_invoice(team, db):
    doc = retainer(team)
    actor = team.actor(Role.ACCOUNTANT)
    instalments.split_equal(actor, doc.public_id, 2, date(2026, 2, 1), monthly=True)
    assert [s.overdue for s in instalments.instalment_states(doc, 0, date(2026, 6, 1))] == [
        True,
        True,
    ]
    documents.write_off_invoice(actor, doc.public_id, "Client gone")
    assert [s.overdue for s in instalments.instalment_states(doc, 0, date(2026, 6, 1))] == [
        False,
        False,
    ]


def test_roles_and_other_businesses(team, db):
    doc = retainer(team)
    staff = team.actor(Role.STAFF)
    parts = ((date(2026, 2, 1), Decimal(590)), (date(2026, 3, 1), Decimal(600)))
    with pytest.raises(Forbidden):
        instalments.split_equal(staff, doc.public_id, 2, date(2026, 2, 1), monthly=True)
    with pytest.raises(Forbidden):
        instalments.split_custom(staff, doc.public_id, parts)
    other = make_team("Other Co").actor()
    with pytest.raises(NotFound):
        instalments.split_equal(other, doc.public_id, 2, date(2026, 2, 1), monthly=True)
    with pytest.raises(NotFound):
        instalments.split_custom(other, doc.public_id, parts)
