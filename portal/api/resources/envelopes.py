"""``/envelopes``: clients, invoices and payments as signed, versioned share envelopes."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint
from marshmallow import fields

from integrations.envelope.core import payloads
from portal.api import principal
from portal.api.principal import InsufficientScope, require_scope
from portal.api.problems import problem
from portal.api.resources.common import actor
from portal.api.schemas.money_docs import PeriodQuery
from portal.services import envelopes

bp = Blueprint(
    "api_envelopes", __name__, url_prefix="/api/v1/envelopes", description="Share envelopes"
)
ENVELOPE = {"type": "object", "description": "A share envelope (see the envelope schema)."}
MAX_BYTES = 5 * 1024 * 1024


class ImportQuery(ma.Schema):
    allow_unsigned = fields.Boolean(load_default=False)


class ImportedSchema(ma.Schema):
    kind = fields.String(required=True)
    id = fields.String(required=True)
    label = fields.String(required=True)
    created = fields.Boolean(required=True)


class ImportResultSchema(ma.Schema):
    envelope_id = fields.String(required=True)
    type = fields.String(required=True)
    items = fields.List(fields.Nested(ImportedSchema), required=True)


def _envelope(doc: Any) -> Any:
    return dict(doc)


@bp.get("/clients/<pid:public_id>")
@require_scope("clients:read")
@bp.doc(
    responses={
        "200": {
            "description": "The envelope.",
            "content": {"application/json": {"schema": ENVELOPE}},
        }
    }
)
def export_client(public_id: str) -> Any:
    """The client as an envelope."""
    return _envelope(envelopes.export_client(actor(), public_id))


@bp.get("/invoices/<pid:public_id>")
@require_scope("invoices:read")
@bp.doc(
    responses={
        "200": {
            "description": "The envelope.",
            "content": {"application/json": {"schema": ENVELOPE}},
        }
    }
)
def export_invoice(public_id: str) -> Any:
    """The invoice (with its client) as an envelope."""
    return _envelope(envelopes.export_invoice(actor(), public_id))


@bp.get("/payments")
@require_scope("payments:read")
@bp.arguments(PeriodQuery, location="query")
@bp.doc(
    responses={
        "200": {
            "description": "The envelope.",
            "content": {"application/json": {"schema": ENVELOPE}},
        }
    }
)
def export_payments(args: dict[str, Any]) -> Any:
    """The payments received in the period as an envelope."""
    return _envelope(envelopes.export_payments(actor(), args["start"], args["end"]))


@bp.post("/import")
@require_scope("invoices:write")
@bp.arguments(ImportQuery, location="query")
@bp.doc(requestBody={"required": True, "content": {"application/json": {"schema": ENVELOPE}}})
@bp.response(201, ImportResultSchema)
def import_envelope(args: dict[str, Any]) -> Any:
    """Create what the envelope holds (clients, invoices, payments), all or nothing."""
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BYTES:
        return problem(413, "Content too large", "Envelopes of up to 5 MB are accepted.")
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    with_payments = isinstance(parsed, dict) and any(
        kind == "payments" for kind, _, _ in payloads(parsed)
    )
    if with_payments and not principal.current().has("payments:write"):
        raise InsufficientScope("payments:write")
    try:
        result = envelopes.import_envelope(actor(), raw, allow_unsigned=args["allow_unsigned"])
    except envelopes.EnvelopeRefused as refused:
        return problem(
            422,
            "Envelope refused",
            "Nothing was imported.",
            kind="envelope-refused",
            errors={p.pointer or "/": p.message for p in refused.problems},
        )
    return {
        "envelope_id": result.envelope_id,
        "type": result.type,
        "items": [
            {"kind": i.kind, "id": i.public_id, "label": i.label, "created": i.created}
            for i in result.items
        ],
    }
