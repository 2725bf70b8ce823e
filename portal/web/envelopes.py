"""ShareEnvelopes in the browser: the public schema, downloads, and the import page."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, make_response, request
from flask.typing import ResponseReturnValue

from integrations import envelope as env
from portal.models import Role
from portal.services import envelopes as service
from portal.web.access import current_actor, require_role
from portal.web.htmx import render

bp = Blueprint("envelopes", __name__)

MAX_UPLOAD = 10 * 1024 * 1024
SCHEMA_MEDIA_TYPE = "application/schema+json"


@bp.get("/schemas/share-envelope/v1.json")
def schema() -> ResponseReturnValue:
    response = Response(env.SCHEMA_PATH.read_bytes(), mimetype=SCHEMA_MEDIA_TYPE)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _download(doc: dict[str, Any], filename: str) -> Response:
    response = Response(env.dumps(doc), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/app/envelopes/invoices/<public_id>.json")
@require_role(Role.VIEWER)
def invoice(public_id: str) -> ResponseReturnValue:
    doc = service.export_invoice(current_actor(), public_id, pdf_for=service.no_pdf)
    number = doc["payload"]["number"] or f"draft-{public_id}"
    return _download(doc, f"invoice-{number}.json")


@bp.get("/app/envelopes/clients/<public_id>.json")
@require_role(Role.VIEWER)
def client(public_id: str) -> ResponseReturnValue:
    return _download(service.export_client(current_actor(), public_id), f"client-{public_id}.json")


def _date_arg(name: str, default: date) -> date:
    value = request.args.get(name)
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, f"{name} must be a date like 2026-03-01")


@bp.get("/app/envelopes/payments.json")
@require_role(Role.VIEWER)
def payments() -> ResponseReturnValue:
    today = date.today()
    start = _date_arg("from", today.replace(month=1, day=1))
    end = _date_arg("to", today)
    if end < start:
        abort(400, "to is before from")
    doc = service.export_payments(current_actor(), start, end)
    return _download(doc, f"payments-{start.isoformat()}-{end.isoformat()}.json")


@bp.route("/app/envelopes/import", methods=["GET", "POST"])
@require_role(Role.ACCOUNTANT)
def import_page() -> ResponseReturnValue:
    context: dict[str, Any] = {"problems": None, "result": None, "filename": None, "error": None}
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        context["allow_unsigned"] = request.form.get("allow_unsigned") == "1"
        if upload is None or not upload.filename:
            context["error"] = "Choose an envelope file to upload."
            status = 422
        else:
            context["filename"] = upload.filename
            raw = upload.stream.read(MAX_UPLOAD + 1)
            if len(raw) > MAX_UPLOAD:
                context["error"] = f"The file is larger than {MAX_UPLOAD // (1024 * 1024)} MB."
                status = 422
            else:
                try:
                    context["result"] = service.import_envelope(
                        current_actor(), raw, allow_unsigned=context["allow_unsigned"]
                    )
                except service.EnvelopeRefused as refused:
                    context["problems"] = refused.problems
                    status = 422
    response = make_response(render("envelopes/import.html", "report", **context))
    response.status_code = status
    return response
