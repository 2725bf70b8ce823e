"""Two schedulers at once: each reminder still goes out once per invoice and rule."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from portal.extensions import db as _db
from portal.models import OutboxMessage
from portal.services import reminders
from portal.services.clients import ContactData
from tests.conftest import is_postgres
from tests.services import factories as f

DUE = date(2026, 3, 31)


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="concurrent writers need PostgreSQL")
def test_four_schedulers_at_once_send_each_reminder_once(app, team, db, inbox):
    owner = team.actor()
    reminders.save_rules(owner, [reminders.RuleData(o, t) for o, t in reminders.SUGGESTED])
    numbers = []
    for n in range(6):
        customer = f.client(
            owner,
            name=f"Client {n}",
            contacts=(ContactData(f"Client {n}", f"ap{n}@client.example", is_primary=True),),
        )
        doc = f.issued_invoice(owner, customer)
        doc.due_date = DUE
        numbers.append(doc.number)
    _db.session.commit()

    barrier = threading.Barrier(4)
    queued: list[list[str]] = []
    errors: list[BaseException] = []

    def scheduler() -> None:
        with app.app_context():
            barrier.wait()
            try:
                queued.append(reminders.send_due_reminders(DUE + timedelta(days=7)))
            except BaseException as exc:
                errors.append(exc)
            _db.session.remove()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(len(keys) for keys in queued) == 6
    _db.session.expire_all()
    keys = _db.session.scalars(
        OutboxMessage.__table__.select().with_only_columns(OutboxMessage.key)
    ).all()
    assert sorted(k for k in keys if k.startswith("reminder-")) == sorted(
        {k for run in queued for k in run}
    )
    subjects = sorted(d.message["Subject"] for d in inbox.deliveries)
    assert subjects == sorted(f"Reminder: invoice {n} is overdue" for n in numbers)
