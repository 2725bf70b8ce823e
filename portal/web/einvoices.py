"""E-invoices: download issued documents as UBL / XRechnung / CII, import, received list."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from portal.einvoice.read import MAX_BYTES
from portal.models import DocumentKind, Role
from portal.services import einvoices
from portal.web.access import current_actor, require_role
from portal.web.htmx import hx_redirect, is_htmx, render

bp = Blueprint("einvoices", __name__, url_prefix="/app/einvoices")


def _download(public_id: str, fmt: str) -> ResponseReturnValue:
    try:
        export = einvoices.export_document(current_actor(), public_id, fmt)
    except einvoices.NotExportable as error:
        return render_template("errors/error.html", code=409, message=str(error)), 409
    response = Response(export.data, mimetype=export.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


@bp.get("/<public_id>/ubl.xml")
@require_role(Role.VIEWER)
def ubl(public_id: str) -> ResponseReturnValue:
    return _download(public_id, "ubl")


@bp.get("/<public_id>/xrechnung.xml")
@require_role(Role.VIEWER)
def xrechnung(public_id: str) -> ResponseReturnValue:
    return _download(public_id, "xrechnung")


@bp.get("/<public_id>/cii.xml")
@require_role(Role.VIEWER)
def cii(public_id: str) -> ResponseReturnValue:
    return _download(public_id, "cii")


def _report(result: einvoices.ImportResult | None, error: str | None) -> Response:
    """The page, or for htmx its report block, with the problems; nothing was saved."""
    response = make_response(render("einvoices/import.html", "report", result=result, error=error))
    response.status_code = 422
    return response


@bp.route("/import", methods=["GET", "POST"])
@require_role(Role.ACCOUNTANT)
def upload() -> ResponseReturnValue:
    if request.method == "GET":
        return render("einvoices/import.html", result=None, error=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _report(None, "Choose a UBL or CII XML file, or a Factur-X PDF.")
    data = upload.read(MAX_BYTES + 1)
    result = einvoices.import_einvoice(current_actor(), upload.filename, data)
    if not result.imported:
        return _report(result, None)
    flash(result.message, "success")
    document = result.document
    if result.received is not None:
        target = url_for("einvoices.received_detail", public_id=result.received.public_id)
    elif document is not None and document.kind is DocumentKind.CREDIT_NOTE:
        target = url_for("credit_notes.detail", public_id=document.public_id)
    elif document is not None:
        target = url_for("invoices.detail", public_id=document.public_id)
    else:
        target = url_for("einvoices.received")
    return hx_redirect(target) if is_htmx() else redirect(target, 303)


@bp.get("/received")
@require_role(Role.VIEWER)
def received() -> ResponseReturnValue:
    items = einvoices.list_received(current_actor())
    return render("einvoices/received.html", items=items)


@bp.get("/received/<public_id>")
@require_role(Role.VIEWER)
def received_detail(public_id: str) -> ResponseReturnValue:
    item = einvoices.get_received(current_actor(), public_id)
    return render("einvoices/received_detail.html", item=item)


@bp.get("/received/<public_id>/source")
@require_role(Role.VIEWER)
def received_source(public_id: str) -> ResponseReturnValue:
    item = einvoices.get_received(current_actor(), public_id)
    pdf = item.source_format == "facturx"
    response = Response(item.source, mimetype="application/pdf" if pdf else "application/xml")
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in item.number) or "invoice"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{name}.{"pdf" if pdf else "xml"}"'
    )
    return response
