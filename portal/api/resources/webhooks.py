"""``/webhook-endpoints`` and ``/events``: where the business's webhooks go, and what was sent."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint
from marshmallow import fields, validate

from portal.api.principal import require_scope
from portal.api.resources.common import actor
from portal.api.schemas.common import PublicId, Text, page_schema
from portal.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from portal.services import webhooks

endpoints_bp = Blueprint(
    "api_webhook_endpoints",
    __name__,
    url_prefix="/api/v1/webhook-endpoints",
    description="Where outgoing webhooks go (signed with Standard Webhooks)",
)
events_bp = Blueprint(
    "api_events", __name__, url_prefix="/api/v1/events", description="Events as published"
)

EVENT_NAMES = sorted(webhooks.EVENT_TYPES)


class EndpointSchema(ma.Schema):
    id = fields.String(dump_only=True)
    url = Text(required=True, max_length=2000)
    description = Text(load_default="", max_length=200)
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_NAMES)),
        load_default=list,
        metadata={"description": "Event types to receive; empty: every event."},
    )
    enabled = fields.Boolean(dump_only=True)
    disabled_reason = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class EndpointUpdateSchema(ma.Schema):
    url = Text(max_length=2000)
    description = Text(max_length=200)
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_NAMES)))
    enabled = fields.Boolean()


class EndpointWithSecretSchema(EndpointSchema):
    secret = fields.String(
        dump_only=True, metadata={"description": "The signing secret (whsec_…), shown only here."}
    )


class RotateSchema(ma.Schema):
    overlap_hours = fields.Integer(
        load_default=24,
        validate=validate.Range(min=0, max=168),
        metadata={"description": "How long the old secret keeps signing too."},
    )


class DeliverySchema(ma.Schema):
    id = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    response_status = fields.Integer(allow_none=True)


class EventSchema(ma.Schema):
    id = fields.String()
    type = fields.String()
    created_at = fields.DateTime()
    data = fields.Dict(metadata={"description": "Exactly the body that was sent."})


class EventQuery(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    after = PublicId(load_default=None, metadata={"description": "The last event already seen."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    type = fields.String(load_default=None, validate=validate.OneOf(EVENT_NAMES))


EndpointPage = page_schema(EndpointSchema, "WebhookEndpointPage")
EventPage = page_schema(EventSchema, "EventPage")


def _endpoint(row: WebhookEndpoint, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.public_id,
        "url": row.url,
        "description": row.description,
        "events": list(row.events or []),
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at,
    }
    if with_secret:
        out["secret"] = row.secret
    return out


def _delivery(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.public_id,
        "status": row.status,
        "attempts": row.attempts,
        "response_status": row.response_status,
    }


def _event(row: WebhookEvent) -> dict[str, Any]:
    return {"id": row.public_id, "type": row.type, "created_at": row.created_at, "data": row.data}


@endpoints_bp.get("")
@require_scope("webhooks:manage")
@endpoints_bp.response(200, EndpointPage)
def list_endpoints() -> dict[str, Any]:
    """Every endpoint of the business."""
    return {"data": [_endpoint(e) for e in webhooks.list_endpoints(actor())], "next_cursor": None}


@endpoints_bp.post("")
@require_scope("webhooks:manage")
@endpoints_bp.arguments(EndpointSchema)
@endpoints_bp.response(201, EndpointWithSecretSchema)
def create_endpoint(body: dict[str, Any]) -> dict[str, Any]:
    """Add an endpoint; the answer holds its signing secret, never shown again."""
    data = webhooks.EndpointData(
        url=body["url"], description=body["description"], events=tuple(body["events"])
    )
    return _endpoint(webhooks.create_endpoint(actor(), data), with_secret=True)


@endpoints_bp.get("/<pid:public_id>")
@require_scope("webhooks:manage")
@endpoints_bp.response(200, EndpointSchema)
def get_endpoint(public_id: str) -> dict[str, Any]:
    """One endpoint."""
    return _endpoint(webhooks.get_endpoint(actor(), public_id))


@endpoints_bp.patch("/<pid:public_id>")
@require_scope("webhooks:manage")
@endpoints_bp.arguments(EndpointUpdateSchema)
@endpoints_bp.response(200, EndpointSchema)
def update_endpoint(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Change an endpoint: the fields sent replace the stored ones."""
    who = actor()
    current = webhooks.get_endpoint(who, public_id)
    data = webhooks.EndpointData(
        url=body.get("url", current.url),
        description=body.get("description", current.description),
        events=tuple(body.get("events", current.events or ())),
        enabled=body.get("enabled"),
    )
    return _endpoint(webhooks.update_endpoint(who, public_id, data))


@endpoints_bp.delete("/<pid:public_id>")
@require_scope("webhooks:manage")
@endpoints_bp.response(204)
def delete_endpoint(public_id: str) -> None:
    """Remove an endpoint and its delivery log."""
    webhooks.delete_endpoint(actor(), public_id)


@endpoints_bp.post("/<pid:public_id>/rotate-secret")
@require_scope("webhooks:manage")
@endpoints_bp.arguments(RotateSchema)
@endpoints_bp.response(200, EndpointWithSecretSchema)
def rotate_secret(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """A new signing secret; the old one also signs for ``overlap_hours``."""
    row = webhooks.rotate_secret(actor(), public_id, body["overlap_hours"])
    return _endpoint(row, with_secret=True)


@endpoints_bp.post("/<pid:public_id>/test")
@require_scope("webhooks:manage")
@endpoints_bp.response(202, DeliverySchema)
def send_test(public_id: str) -> dict[str, Any]:
    """Send a ``webhook.test`` event to this endpoint alone."""
    return _delivery(webhooks.send_test(actor(), public_id))


@events_bp.get("")
@require_scope("webhooks:manage")
@events_bp.arguments(EventQuery, location="query")
@events_bp.response(200, EventPage)
def list_events(args: dict[str, Any]) -> dict[str, Any]:
    """Events, newest first; ``next_cursor`` goes in ``after``."""
    found = webhooks.list_events(actor(), args["after"], args["limit"], args["type"])
    return {"data": [_event(e) for e in found.items], "next_cursor": found.next_cursor}


@events_bp.get("/<pid:public_id>")
@require_scope("webhooks:manage")
@events_bp.response(200, EventSchema)
def get_event(public_id: str) -> dict[str, Any]:
    """One event, with the body that was sent."""
    return _event(webhooks.get_event(actor(), public_id))
