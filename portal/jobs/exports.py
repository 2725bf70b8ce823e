"""Many invoices as one ZIP of PDFs, written to disk as it goes: memory stays flat."""

from __future__ import annotations

import zipfile
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from portal.documents.cache import document_pdf
from portal.extensions import db
from portal.jobs.context import with_app
from portal.models import Business, Document, Job
from portal.services import jobs

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
