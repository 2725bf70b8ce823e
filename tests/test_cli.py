"""The scheduler's commands: they make what is owed, and nothing twice."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from portal.models import Document, DocumentKind
from portal.services import documents, late_fees, recurring
from portal.services.late_fees import LateFeeData
from portal.services.recurring import ScheduleData
from tests.services import factories as f


def _invoices(db) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count(Document.id)).where(Document.kind == DocumentKind.INVOICE)
    )


def test_recurring_run_makes_each_period_once(app, team, db):
    actor = team.actor()
    recurring.create_schedule(
        actor,
        ScheduleData(
            client_id=f.client(actor).public_id,
            lines=(f.line("Retainer", "1", "500.00"),),
            frequency="monthly",
            start_date=date(2026, 1, 31),
        ),
    )
    runner = app.test_cli_runner()
    first = runner.invoke(args=["recurring", "run", "--today", "2026-03-31"])
    assert first.exit_code == 0, first.output
    assert "Made 3 invoice(s) from recurring schedules." in first.output
    again = runner.invoke(args=["recurring", "run", "--today", "2026-03-31"])
    assert "Made 0 invoice(s) from recurring schedules." in again.output
    assert _invoices(db) == 3


def test_late_fees_apply_charges_once(app, team, db):
    actor = team.actor()
    late_fees.set_late_fee_rule(
        actor, LateFeeData(kind="fixed", value=Decimal("25.00"), after_days=10)
    )
    draft = f.draft(actor, f.client(actor), terms_code="NET14")
    documents.issue_invoice(actor, draft.public_id, on=date(2026, 3, 1))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["late-fees", "apply", "--today", "2026-03-25"])
    assert "Made 1 late-fee invoice(s)." in result.output
    result = runner.invoke(args=["late-fees", "apply", "--today", "2026-03-26"])
    assert "Made 0 late-fee invoice(s)." in result.output
    assert _invoices(db) == 2


def test_a_bad_date_is_refused(app, db):
    result = app.test_cli_runner().invoke(args=["recurring", "run", "--today", "31/03/2026"])
    assert result.exit_code == 2
    assert "'31/03/2026' does not match the format '%Y-%m-%d'" in result.output
