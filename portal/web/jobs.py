"""Background jobs a person waits for: a progress bar that polls until the work is done."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue

from portal.extensions import db
from portal.jobs import enqueue
from portal.jobs.exports import export_invoices_zip
from portal.models import Document, Role
from portal.services import document_list as listing
from portal.services import jobs
from portal.web.access import current_actor, require_role
from portal.web.htmx import hx_redirect, is_htmx
from portal.web.invoices.routes import invoice_filter

bp = Blueprint("jobs", __name__, url_prefix="/app")

MAX_EXPORT = 10_000
# htmx stops polling when it receives this status.
STOP_POLLING = 286


@bp.post("/invoices/export.zip")
@require_role(Role.VIEWER)
def export_invoices() -> ResponseReturnValue:
    """Every invoice the list's filters match (drafts left out), as one ZIP of PDFs."""
    actor = current_actor()
    # With htmx the live filter values follow the ones the page was drawn with: last wins.
    flt = invoice_filter({key: request.form.getlist(key)[-1] for key in request.form})
    stmt = listing.filtered(actor, flt).where(Document.status != "draft")
    ids = list(db.session.scalars(stmt.with_only_columns(Document.id).order_by(Document.id)))
    if not ids:
        abort(422, "No issued invoice matches these filters.")
    job = jobs.start_job(
        actor, "invoices-zip", {"document_ids": ids[:MAX_EXPORT]}, total=len(ids[:MAX_EXPORT])
    )
    # Inline (no Redis) the job runs now and lets go of every row it loaded, this one too.
    public_id = job.public_id
    enqueue(export_invoices_zip, job.id, job_id=f"export-zip-{public_id}")
    target = url_for("jobs.detail", public_id=public_id)
    return hx_redirect(target) if is_htmx() else redirect(target, 303)


@bp.get("/jobs/<public_id>")
@require_role(Role.VIEWER)
def detail(public_id: str) -> ResponseReturnValue:
    return render_template("jobs/detail.html", job=jobs.get_job(current_actor(), public_id))


@bp.get("/jobs/<public_id>/status")
@require_role(Role.VIEWER)
def status(public_id: str) -> ResponseReturnValue:
    job = jobs.get_job(current_actor(), public_id)
    response = make_response(render_template("jobs/_status.html", job=job))
    if job.status in {"done", "failed"}:
        response.status_code = STOP_POLLING
    return response


@bp.get("/jobs/<public_id>/download")
@require_role(Role.VIEWER)
def download(public_id: str) -> ResponseReturnValue:
    job = jobs.get_job(current_actor(), public_id)
    path = Path(job.result_path) if job.result_path else None
    if job.status != "done" or path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=path.name)
