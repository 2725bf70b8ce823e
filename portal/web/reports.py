"""Money reports for a period: on screen, as CSV and as Excel; big exports run as jobs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue

from portal.billing.money import Money
from portal.jobs import enqueue
from portal.jobs.exports import REPORT_EXPORT, export_report
from portal.models import Job
from portal.services import jobs, reports, spreadsheets
from portal.services.errors import InvalidInput
from portal.services.pricing import business_today
from portal.services.reports import READ_ROLE
from portal.services.reports.tables import Cell, Column, Period, Report, parse_period
from portal.web import filters
from portal.web.access import current_actor, require_role
from portal.web.htmx import render

bp = Blueprint("reports", __name__, url_prefix="/app/reports")

# Above this many records an export is a job with a progress page; below, a direct download.
DIRECT_LIMIT = 5_000
# htmx stops polling when it receives this status.
STOP_POLLING = 286
MEDIA_TYPES = {"csv": "text/csv", "xlsx": spreadsheets.XLSX_MEDIA_TYPE}


def show_cell(value: Cell, column: Column) -> str:
    """A cell for people, in the business's locale."""
    if value is None:
        return ""
    if isinstance(value, Money):
        return filters.money(value.minor, value.currency)
    locale = current_actor().business.locale
    if isinstance(value, date):
        pattern = "MMM y" if column.kind == "month" else "medium"
        return format_date(value, pattern, locale=locale)
    if isinstance(value, Decimal):
        text = format_decimal(value.normalize(), locale=locale)
        return f"{text} %" if column.kind == "percent" else text
    return str(value)


def _inputs(source: Mapping[str, str]) -> dict[str, str]:
    return {key: (source.get(key) or "").strip() for key in ("from", "to", "client")}


def _period(inputs: Mapping[str, str]) -> Period:
    return parse_period(inputs, business_today(current_actor().business))


def _page(
    slug: str,
    inputs: Mapping[str, str],
    report: Report | None,
    errors: Mapping[str, str],
    period: Period | None,
) -> ResponseReturnValue:
    actor = current_actor()
    kind = reports.kind_of(slug)
    default = Period.month_of(business_today(actor.business))
    shown = period or default
    response = make_response(
        render(
            "reports/show.html",
            "report",
            kind=kind,
            report=report,
            errors=errors,
            inputs={
                "from": inputs.get("from") or shown.start.isoformat(),
                "to": inputs.get("to") or shown.end.isoformat(),
                "client": inputs.get("client", ""),
            },
            clients=reports.clients_for(actor) if kind.needs_client else [],
            cell=show_cell,
            reports_list=reports.REPORTS.values(),
        )
    )
    if errors:
        response.status_code = 422
    return response


@bp.get("/")
@require_role(READ_ROLE)
def index() -> ResponseReturnValue:
    return render_template("reports/index.html", reports_list=reports.REPORTS.values())


@bp.get("/<slug>")
@require_role(READ_ROLE)
def show(slug: str) -> ResponseReturnValue:
    kind = reports.kind_of(slug)
    inputs = _inputs(request.args)
    report, period, errors = None, None, {}
    try:
        period = _period(inputs)
        # A statement waits for a client to be chosen; that is no error yet.
        if not kind.needs_client or inputs["client"]:
            report = reports.build_report(current_actor(), slug, period, inputs["client"])
    except InvalidInput as exc:
        errors = exc.errors
    return _page(slug, inputs, report, errors, period)


@bp.post("/<slug>/export")
@require_role(READ_ROLE)
def export(slug: str) -> ResponseReturnValue:
    """A small report downloads at once; a big one becomes a job with a progress page."""
    actor = current_actor()
    reports.kind_of(slug)
    inputs = _inputs(request.form)
    fmt = request.form.get("format", "xlsx")
    if fmt not in MEDIA_TYPES:
        abort(400)
    try:
        period = _period(inputs)
        size = reports.count_rows(actor, slug, period, inputs["client"] or None)
        if size > DIRECT_LIMIT:
            return _start_job(slug, period, inputs["client"], fmt)
        report = reports.build_report(actor, slug, period, inputs["client"] or None)
    except InvalidInput as exc:
        return _page(slug, inputs, None, exc.errors, None)
    if fmt == "csv":
        body: bytes = spreadsheets.write_csv(report).encode("utf-8")
    else:
        body = spreadsheets.xlsx_bytes(report)
    response = Response(body, mimetype=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{report.filename}.{fmt}"'
    return response


def _start_job(slug: str, period: Period, client: str, fmt: str) -> ResponseReturnValue:
    actor = current_actor()
    params = {
        "report": slug,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "client": client or None,
        "format": fmt,
        "filename": f"{slug}-{period.start.isoformat()}_{period.end.isoformat()}.{fmt}",
    }
    job = jobs.start_job(actor, REPORT_EXPORT, params)
    # Inline (no Redis) the job runs now and lets go of every row it loaded, this one too.
    public_id = job.public_id
    enqueue(export_report, job.id, job_id=f"export-report-{public_id}")
    return redirect(url_for("reports.job", public_id=public_id), 303)


def _job(public_id: str) -> Job:
    job = jobs.get_job(current_actor(), public_id)
    if job.kind != REPORT_EXPORT:
        abort(404)
    return job


def _title(job: Job) -> str:
    kind = reports.REPORTS.get(str(job.params.get("report")))
    return kind.title if kind is not None else "Report"


@bp.get("/exports/<public_id>")
@require_role(READ_ROLE)
def job(public_id: str) -> ResponseReturnValue:
    found = _job(public_id)
    return render_template("reports/job.html", job=found, title=_title(found))


@bp.get("/exports/<public_id>/status")
@require_role(READ_ROLE)
def job_status(public_id: str) -> ResponseReturnValue:
    found = _job(public_id)
    response = make_response(render_template("reports/_job_status.html", job=found))
    if found.status in {"done", "failed"}:
        response.status_code = STOP_POLLING
    return response


@bp.get("/exports/<public_id>/download")
@require_role(READ_ROLE)
def job_download(public_id: str) -> ResponseReturnValue:
    found = _job(public_id)
    path = Path(found.result_path) if found.result_path else None
    if found.status != "done" or path is None or not path.is_file():
        abort(404)
    fmt = str(found.params.get("format", "xlsx"))
    return send_file(
        path,
        mimetype=MEDIA_TYPES.get(fmt, "application/octet-stream"),
        as_attachment=True,
        download_name=str(found.params.get("filename") or path.name),
    )
