"""The API as its own document describes it: every operation, its scope, ids to call it with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from flask import Flask
from sqlalchemy import select

from portal import create_app
from portal.api.app import build_document
from portal.extensions import db
from portal.models import WebhookEvent
from portal.services import payments, recurring
from portal.services.documents import LineData
from tests.conftest import Team

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the document: /api/v1/clients/{public_id}
    scope: str
    query: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@cache
def collection_app() -> Flask:
    """An app to read routes and the API document from while tests are collected."""
    return create_app(
        {"TESTING": True, "SECRET_KEY": "x" * 32, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    )


@cache
def operations() -> tuple[Operation, ...]:
    app = collection_app()
    with app.app_context():
        document = build_document(app, app.extensions["invoice-lite-api"])
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            (security, *_) = operation["security"]
            (scope,) = security["apiKey"]
            query = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
            found.append(Operation(method.upper(), path, scope, query))
    return tuple(found)


# The ids fixture's key for the object each path names; where an action needs a document in a
# particular state, the state it needs (a draft to issue, a sent quote to accept).
_ID_FOR = [
    (r"/invoices/\{public_id\}/issue$", "draft"),
    (r"/invoices/\{public_id\}$", {"DELETE": "draft", "PUT": "draft"}),
    (r"/invoices/", "invoice"),
    (r"/quotes/\{public_id\}/(accept|decline|convert)$", "portal_quote"),
    (r"/quotes/", "quote"),
    (r"/credit-notes/", "credit_note"),
    (r"/envelopes/clients/", "client"),
    (r"/envelopes/invoices/", "invoice"),
    (r"/clients/", "client"),
    (r"/payments/", "payment"),
    (r"/refunds/", "refund"),
    (r"/products/", "product"),
    (r"/tax-rates/", "tax_rate"),
    (r"/recurring-schedules/", "schedule"),
    (r"/events/", "event"),
    (r"/webhook-endpoints/", "webhook"),
]


# Bodies that pass validation, so the call reaches the lookup and the role check: a refusal
# then comes from those, not from the input.
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/invoices/{public_id}/void": {"reason": "Duplicate"},
    "POST /api/v1/credit-notes": {"invoice_id": "{invoice}", "reason": "Returned"},
    "PUT /api/v1/invoices/{public_id}": {
        "client_id": "{client}",
        "lines": [{"description": "Work", "quantity": "1", "unit_price": "10"}],
    },
    "POST /api/v1/quotes/{public_id}/accept": {"accepted_by_name": "Ana"},
    "POST /api/v1/credit-notes/{public_id}/refunds": {
        "amount_minor": 100,
        "refunded_on": "2026-02-01",
    },
    "POST /api/v1/payments/{public_id}/refunds": {"amount_minor": 100, "refunded_on": "2026-02-01"},
}


def body_for(operation: Operation, ids: dict[str, str]) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.format(**ids)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    return dict(fill(BODIES.get(operation.label, {})))


def takes_an_id(operation: Operation) -> bool:
    return "{public_id}" in operation.path


def url_for(operation: Operation, ids: dict[str, str]) -> str:
    """The operation's path with a real id of ``ids``' business."""
    path = operation.path.replace("{fmt}", "ubl")
    if not takes_an_id(operation):
        return path
    for pattern, key in _ID_FOR:
        if re.search(pattern, path):
            name = key if isinstance(key, str) else key.get(operation.method, "invoice")
            return path.replace("{public_id}", ids[name])
    raise AssertionError(f"no id known for {operation.label}: add it to _ID_FOR")


def add_api_objects(team: Team, ids: dict[str, str]) -> dict[str, str]:
    """What the web role matrix has no use for: a refund, a schedule, an event."""
    owner = team.actor()
    refund = payments.refund_payment(owner, ids["payment"], Decimal("1"), date(2026, 1, 6))
    schedule = recurring.create_schedule(
        owner,
        recurring.ScheduleData(
            client_id=ids["client"],
            lines=(LineData("Retainer", Decimal(1), Decimal(100)),),
            frequency="monthly",
            start_date=date(2030, 1, 15),
        ),
    )
    event = db.session.scalar(
        select(WebhookEvent.public_id).where(WebhookEvent.business_id == team.business.id)
    )
    assert event is not None
    return {**ids, "refund": refund.public_id, "schedule": schedule.public_id, "event": event}


def call(client: Any, method: str, url: str, key: str, **kw: Any) -> Any:
    """One API call with a key; unsafe methods send a JSON body (``{}`` unless given)."""
    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {key}"}, **kw}
    if method != "GET":
        kwargs.setdefault("json", {})
        kwargs["csrf"] = False
    response = client.open(url, method=method, **kwargs)
    response.get_data()
    response.close()
    return response
