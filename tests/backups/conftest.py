"""Varied data built through the services, and ways to see all of it: every row, every file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select, update

from portal.extensions import db as _db
from portal.jobs import enqueue
from portal.jobs.exports import export_invoices_zip
from portal.models import Document, DocumentKind, Job
from portal.services import backups, branding, catalogue, credit_notes, documents, jobs, payments
from portal.services.payments import PaymentData
from portal.services.recurring import ScheduleData, create_schedule, run_due_schedules
from tests.conftest import make_team
from tests.services import factories as f


@pytest.fixture(autouse=True)
def no_stored_files(app: Flask) -> Iterator[None]:
    """The instance folder is shared by the session: each test starts and ends without files."""
    with app.app_context():
        remove_files()
    yield
    with app.app_context():
        remove_files()


def remove_files() -> None:
    for _, path in list(backups.stored_files()):
        path.unlink()


@pytest.fixture
def key() -> str:
    return backups.new_key()


@pytest.fixture
def keys(app: Flask, key: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The app's key ring, holding one fresh key."""
    ring = [key]
    monkeypatch.setitem(app.config, "BACKUP_KEYS", ring)
    return ring


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (47, 91, 234)).save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Built:
    invoices: int
    export: Path


def build_business() -> Built:
    """A business with members, clients, invoices issued and paid, a credit note, payments,
    a recurring schedule, a logo, rendered PDFs and an export on disk; and a second business."""
    team = make_team("Backup Bakery")
    actor = team.actor()
    make_team("Second Shop")
    vat = f.tax_rate(actor)
    catalogue.create_product(
        actor,
        catalogue.ProductData(
            name="Sourdough",
            unit_price=Decimal("4.20"),
            currency="EUR",
            tax_rate_ids=(vat.public_id,),
        ),
    )
    cafe = f.client(actor, name="Café Ünïcode & Søn", tags=("wholesale", "vip"))
    shop = f.client(actor, name="Corner Shop")
    paid = f.issued_invoice(
        actor, cafe, f.line("Loaves", "12.5", "3.333333", tax_rate_ids=(vat.public_id,))
    )
    payments.record_payment(
        actor,
        PaymentData(
            client_id=cafe.public_id,
            amount=Decimal(paid.total_minor) / 100 + Decimal("10"),
            currency="EUR",
            received_on=date(2026, 2, 3),
            reference="SEPA 123",
            allocations=((paid.public_id, Decimal(paid.total_minor) / 100),),
        ),
    )
    credited = f.issued_invoice(actor, shop, f.line("Cakes", "3", "25"))
    note = credit_notes.create_credit_note(actor, credited.public_id, reason="Dropped on delivery")
    credit_notes.issue_credit_note(actor, note.public_id)
    open_invoice = f.issued_invoice(actor, shop, f.line("Rolls", "40", "0.45"))
    f.draft(actor, shop, f.line("Quote-like draft", "1", "99.99"))
    create_schedule(
        actor,
        ScheduleData(
            client_id=cafe.public_id,
            lines=(f.line("Weekly bread", "1", "120.00"),),
            frequency="monthly",
            start_date=date(2026, 1, 15),
        ),
    )
    run_due_schedules(today=date(2026, 3, 20))
    branding.upload_logo(actor, png())
    documents.mark_sent(actor, open_invoice.public_id)
    issued = list(
        _db.session.scalars(
            select(Document.id).where(
                Document.kind == DocumentKind.INVOICE, Document.status != "draft"
            )
        )
    )
    job = jobs.start_job(actor, "invoices-zip", {"document_ids": issued}, total=len(issued))
    job_id, public_id = job.id, job.public_id
    enqueue(export_invoices_zip, job_id, job_id=f"export-zip-{public_id}")
    _db.session.remove()
    export = _db.session.get(Job, job_id)
    assert export is not None and export.status == "done", export and export.error
    return Built(invoices=len(issued), export=Path(export.result_path))


def rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the models know, as the application reads it."""
    _db.session.remove()
    seen = {}
    with _db.engine.connect() as conn:
        for table in _db.metadata.sorted_tables:
            stmt = select(table).order_by(*table.primary_key.columns)
            seen[table.name] = [tuple(r) for r in conn.execute(stmt)]
    return seen


def files() -> dict[str, bytes]:
    return {str(rel): path.read_bytes() for rel, path in backups.stored_files()}


def wipe() -> None:
    """Empty every table, as a new database would be."""
    _db.session.remove()
    with _db.engine.begin() as conn:
        for table in _db.metadata.sorted_tables:
            for fk in table.foreign_keys:
                if fk.use_alter:
                    conn.execute(update(table).values({fk.parent: None}))
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())
