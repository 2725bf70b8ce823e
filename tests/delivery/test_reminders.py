"""Reminders: each rule once per invoice, never for settled invoices or paused clients."""

from __future__ import annotations

from datetime import date, timedelta

from portal.extensions import db as _db
from portal.models import Client, Document
from portal.services import documents, reminders
from portal.services.clients import ContactData
from tests.services import factories as f

DUE = date(2026, 3, 31)


def _invoice(team, name: str, email: str, **client: object) -> Document:
    owner = team.actor()
    customer = f.client(owner, name=name, contacts=(ContactData(name, email, is_primary=True),))
    for key, value in client.items():
        setattr(customer, key, value)
    doc = f.issued_invoice(owner, customer)
    doc.due_date = DUE
    _db.session.commit()
    return doc


def _rules(team) -> None:
    reminders.save_rules(team.actor(), [reminders.RuleData(o, t) for o, t in reminders.SUGGESTED])


def test_each_reminder_goes_once_per_invoice_and_rule(team, db, inbox):
    _rules(team)
    first = _invoice(team, "First Co", "first@example.org")
    second = _invoice(team, "Second Co", "second@example.org")

    assert reminders.send_due_reminders(DUE - timedelta(days=4)) == []
    before = reminders.send_due_reminders(DUE - timedelta(days=3))
    assert sorted(before) == sorted(
        [f"reminder-{first.public_id}--3", f"reminder-{second.public_id}--3"]
    )
    assert reminders.send_due_reminders(DUE - timedelta(days=3)) == []  # run twice: once each
    assert len(inbox.deliveries) == 2
    assert {d.message["Subject"] for d in inbox.deliveries} == {
        f"Invoice {first.number} is due on March 31, 2026",
        f"Invoice {second.number} is due on March 31, 2026",
    }
    assert inbox.deliveries[0].message["Auto-Submitted"] == "auto-generated"

    late = DUE + timedelta(days=8)
    assert len(reminders.send_due_reminders(late)) == 2  # the 7-day rule; day 0 was missed
    assert reminders.send_due_reminders(late) == []
    assert len(inbox.deliveries) == 4
    assert inbox.deliveries[-1].message["Subject"].startswith("Reminder: invoice")


def test_no_reminders_for_paused_clients_settled_or_zero_balance_invoices(team, db, inbox):
    _rules(team)
    paused = _invoice(team, "Paused Co", "paused@example.org", reminders_paused=True)
    void = _invoice(team, "Void Co", "void@example.org")
    documents.void_invoice(team.actor(), void.public_id, "mistake")
    nothing_owed = _invoice(team, "Zero Co", "zero@example.org")
    nothing_owed.balance_minor = 0
    _db.session.commit()

    assert reminders.send_due_reminders(DUE + timedelta(days=30)) == []
    assert inbox.deliveries == []
    assert _db.session.get(Client, paused.client_id).reminders_paused


def test_a_reminder_paid_before_it_goes_out_is_not_sent(team, db, inbox, monkeypatch):
    _rules(team)
    doc = _invoice(team, "Quick Payer", "quick@example.org")
    from portal.services import outbox

    monkeypatch.setattr(outbox, "dispatch", lambda message_id: None)  # the worker is slow
    [key] = reminders.send_due_reminders(DUE)
    monkeypatch.undo()
    doc.balance_minor = 0
    _db.session.commit()
    assert outbox.dispatch_pending() == 1
    assert inbox.deliveries == []
    assert key == f"reminder-{doc.public_id}-0"


def test_the_cli_runs_reminders_for_a_given_day(app, team, db, inbox):
    _rules(team)
    _invoice(team, "Cli Co", "cli@example.org")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reminders", "run", "--today", "2026-03-31"])
    assert result.exit_code == 0, result.output
    assert "1 reminder(s) queued." in result.output
    assert (
        "0 reminder(s) queued."
        in runner.invoke(args=["reminders", "run", "--today", "2026-03-31"]).output
    )
    assert len(inbox.deliveries) == 1
