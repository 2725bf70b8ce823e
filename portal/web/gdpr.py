"""Blueprint 'gdpr': a client's privacy — export everything as a ZIP, erase the personal data,
switch tracking off — and the business's retention of tracking data."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue

from portal.jobs import enqueue
from portal.models import Job, Role
from portal.services import clients, gdpr, jobs
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.htmx import hx_redirect, is_htmx

bp = Blueprint("gdpr", __name__, url_prefix="/app")

# htmx stops polling when it receives this status.
STOP_POLLING = 286


@bp.post("/clients/<public_id>/privacy/export")
@require_role(Role.ACCOUNTANT)
def export(public_id: str) -> ResponseReturnValue:
    """Small exports download at once; large ones run as a job whose page shows progress."""
    actor = current_actor()
    if not gdpr.export_needs_job(actor, public_id):
        data = gdpr.export_client_bytes(actor, public_id)
        response = make_response(data)
        response.headers["Content-Type"] = "application/zip"
        response.headers["Content-Disposition"] = f'attachment; filename="client-{public_id}.zip"'
        response.headers["Cache-Control"] = "private, no-store"
        return response
    job = gdpr.start_export(actor, public_id)
    job_id = job.public_id
    enqueue(gdpr.export_client_job, job.id, job_id=f"client-export-{job_id}")
    target = url_for("gdpr.export_job", job_id=job_id)
    return hx_redirect(target) if is_htmx() else redirect(target, 303)


def _export_job(job_id: str) -> Job:
    job = jobs.get_job(current_actor(), job_id)
    if job.kind != gdpr.EXPORT_JOB:
        abort(404)
    return job


@bp.get("/privacy/exports/<job_id>")
@require_role(Role.ACCOUNTANT)
def export_job(job_id: str) -> ResponseReturnValue:
    return render_template("gdpr/export_job.html", job=_export_job(job_id))


@bp.get("/privacy/exports/<job_id>/status")
@require_role(Role.ACCOUNTANT)
def export_status(job_id: str) -> ResponseReturnValue:
    job = _export_job(job_id)
    response = make_response(render_template("gdpr/_export_status.html", job=job))
    if job.status in {"done", "failed"}:
        response.status_code = STOP_POLLING
    return response


@bp.get("/privacy/exports/<job_id>/download")
@require_role(Role.ACCOUNTANT)
def export_download(job_id: str) -> ResponseReturnValue:
    job = _export_job(job_id)
    path = Path(job.result_path) if job.result_path else None
    if job.status != "done" or path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=path.name)


@bp.route("/clients/<public_id>/privacy/erase", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def erase(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    client = clients.get_client(actor, public_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            gdpr.erase_client(
                actor,
                public_id,
                request.form.get("confirmation", ""),
                request.form.get("force_reason", "")[:500],
            )
        except InvalidInput as error:
            errors = error.errors
        else:
            flash("The client's personal data is erased; the invoices stay, anonymised.", "success")
            return redirect(url_for("clients.detail", public_id=public_id), 303)
    return (
        render_template(
            "gdpr/erase.html",
            client=client,
            errors=errors,
            open_invoices=gdpr.open_invoices(client),
            form=request.form,
        ),
        422 if errors else 200,
    )


@bp.post("/clients/<public_id>/privacy/tracking")
@require_role(Role.STAFF)
def tracking(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    try:
        client = gdpr.set_tracking_opt_out(actor, public_id, request.form.get("opt_out") == "1")
    except InvalidInput as error:
        flash(" ".join(error.errors.values()), "error")
        return redirect(url_for("clients.detail", public_id=public_id), 303)
    if is_htmx():
        return render_template("gdpr/_privacy.html", client=client)
    flash(
        "Tracking is off for this client." if client.tracking_opt_out else "Tracking is on again.",
        "success",
    )
    return redirect(url_for("clients.detail", public_id=public_id), 303)


@bp.route("/settings/privacy", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def retention() -> ResponseReturnValue:
    actor = current_actor()
    errors: dict[str, str] = {}
    value = str(actor.business.tracking_retention_days)
    if request.method == "POST":
        value = request.form.get("tracking_retention_days", "").strip()
        try:
            gdpr.set_tracking_retention(actor, int(value))
        except ValueError:
            errors["tracking_retention_days"] = "Give a whole number of days (0 keeps everything)."
        except InvalidInput as error:
            errors = error.errors
        else:
            flash("Saved: tracking data retention.", "success")
            return redirect(url_for("gdpr.retention"), 303)
    return (
        render_template("gdpr/retention.html", errors=errors, value=value),
        422 if errors else 200,
    )
