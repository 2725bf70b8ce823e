"""Exports written to disk as they go, so memory stays flat: many invoices as one ZIP of PDFs,
a big report as CSV or Excel."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from portal.documents.cache import document_pdf
from portal.extensions import db
from portal.jobs.context import with_app
from portal.models import Business, Document, Job
from portal.services import jobs, reports, spreadsheets
from portal.services.actors import system_actor
from portal.services.reports.tables import Period

BATCH = 10


def export_path(job: Job) -> Path:
    folder = Path(current_app.instance_path) / "exports" / str(job.business_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"invoices-{job.public_id}.zip"


@with_app
def export_invoices_zip(job_id: int) -> str:
    """Write each invoice's PDF into the ZIP one at a time; progress every few invoices."""
    job = db.session.get(Job, job_id)
    if job is None:
        return ""
    if job.status == "done":
        return job.result_path
    business_id = job.business_id
    ids: list[int] = [int(i) for i in job.params.get("document_ids", [])]
    path = export_path(job)
    partial = path.with_suffix(".part")
    try:
        jobs.advance(job_id, 0, len(ids))
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            for done, document_id in enumerate(ids, start=1):
                doc = db.session.scalar(
                    select(Document).where(
                        Document.id == document_id, Document.business_id == business_id
                    )
                )
                business = db.session.get(Business, business_id)
                if doc is not None and business is not None:
                    pdf = document_pdf(doc, business)
                    archive.writestr(pdf.filename, pdf.data)
                # Let go of the rows and bytes of this invoice before the next one.
                db.session.expunge_all()
                if done % BATCH == 0 or done == len(ids):
                    jobs.advance(job_id, done)
        partial.replace(path)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        jobs.fail(job_id, f"{type(exc).__name__}: {exc}")
        raise
    jobs.finish(job_id, str(path))
    return str(path)


REPORT_EXPORT = "report-export"


def report_path(job: Job) -> Path:
    folder = Path(current_app.instance_path) / "exports" / str(job.business_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"report-{job.public_id}.{job.params.get('format', 'xlsx')}"


@with_app
def export_report(job_id: int) -> str:
    """Build a report and write it as CSV or Excel; progress counts the rows written."""
    job = db.session.get(Job, job_id)
    if job is None:
        return ""
    if job.status == "done":
        return job.result_path
    params = dict(job.params)
    business = db.session.get(Business, job.business_id)
    if business is None:
        return ""
    path = report_path(job)
    partial = path.with_suffix(".part")
    try:
        period = Period(date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))
        # Started by someone allowed to read reports; the work runs as the business.
        report = reports.build_report(
            system_actor(business), params["report"], period, params.get("client")
        )
        jobs.advance(job_id, 0, spreadsheets.row_count(report))
        if params.get("format") == "csv":
            partial.write_text(spreadsheets.write_csv(report), encoding="utf-8")
            jobs.advance(job_id, spreadsheets.row_count(report))
        else:
            with partial.open("wb") as out:
                spreadsheets.write_xlsx(report, out, lambda done: jobs.advance(job_id, done))
        partial.replace(path)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        jobs.fail(job_id, f"{type(exc).__name__}: {exc}")
        raise
    jobs.finish(job_id, str(path))
    return str(path)
