"""The API as its own document describes it: every operation, its scope, ids to call it with."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
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
from portal.models import Document, DocumentKind, WebhookEndpoint, WebhookEvent
from portal.services import (
    credit_notes,
    documents,
    envelopes,
    payments,
    quotes,
    recurring,
    webhooks,
)
from portal.services.documents import DraftData, LineData
from tests.conftest import Team

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the document: /api/v1/clients/{public_id}
    scope: str
    query: tuple[str, ...]
    success: int = 200  # the 2xx the document promises

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
            (success,) = [int(code) for code in operation["responses"] if code.startswith("2")]
            found.append(Operation(method.upper(), path, scope, query, success))
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


# Bodies that pass validation and make the call succeed for a role allowed it, so an answer
# other than the promised 2xx is a failure, and a refusal comes from the scope or the role.
LINES = [{"description": "Work", "quantity": "1", "unit_price": "10"}]
BODIES: dict[str, Any] = {
    "POST /api/v1/clients": {"name": "Role Matrix", "currency": "EUR"},
    "POST /api/v1/products": {"name": "Hour {unique}", "unit_price_minor": 8000, "currency": "EUR"},
    "POST /api/v1/tax-rates": {"name": "Reduced {unique}", "rate": "7"},
    "POST /api/v1/invoices": {"client_id": "{client}", "lines": LINES},
    "POST /api/v1/quotes": {"client_id": "{client}", "lines": LINES},
    "POST /api/v1/payments": {
        "client_id": "{client}",
        "amount_minor": 1000,
        "currency": "EUR",
        "received_on": "2026-01-05",
    },
    "POST /api/v1/recurring-schedules": {
        "client_id": "{client}",
        "lines": LINES,
        "frequency": "monthly",
        "start_date": "2030-01-15",
    },
    "POST /api/v1/webhook-endpoints": {"url": "http://127.0.0.1:9/in", "events": ["invoice.paid"]},
    "POST /api/v1/envelopes/import": "{envelope}",  # the client's own, see add_api_objects
    "POST /api/v1/invoices/{public_id}/void": {"reason": "Duplicate"},
    "POST /api/v1/credit-notes": {"invoice_id": "{invoice}", "reason": "Returned"},
    "PUT /api/v1/invoices/{public_id}": {"client_id": "{client}", "lines": LINES},
    "POST /api/v1/quotes/{public_id}/accept": {"accepted_by_name": "Ana"},
    "POST /api/v1/credit-notes/{public_id}/refunds": {
        "amount_minor": 100,
        "refunded_on": "2026-02-01",
    },
    "POST /api/v1/payments/{public_id}/refunds": {"amount_minor": 100, "refunded_on": "2026-02-01"},
}
# Query parameters an operation cannot do without.
QUERIES = {
    "GET /api/v1/envelopes/payments": "start=2026-01-01&end=2026-12-31",
    "GET /api/v1/reports/revenue": "start=2026-01-01&end=2026-12-31",
    # Tests have no envelope signing keys.
    "POST /api/v1/envelopes/import": "allow_unsigned=true",
}


def body_for(operation: Operation, ids: dict[str, str]) -> Any:
    body = BODIES.get(operation.label, {})
    if body == "{envelope}":
        return json.loads(ids["envelope"])

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.format(**ids)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    return fill(body)


def takes_an_id(operation: Operation) -> bool:
    return "{public_id}" in operation.path


def url_for(operation: Operation, ids: dict[str, str]) -> str:
    """The operation's path with a real id of ``ids``' business, and the query it needs."""
    path = operation.path.replace("{fmt}", "ubl")
    if operation.label in QUERIES:
        path = f"{path}?{QUERIES[operation.label]}"
    if not takes_an_id(operation):
        return path
    for pattern, key in _ID_FOR:
        if re.search(pattern, path):
            name = key if isinstance(key, str) else key.get(operation.method, "invoice")
            return path.replace("{public_id}", ids[name])
    raise AssertionError(f"no id known for {operation.label}: add it to _ID_FOR")


def add_api_objects(team: Team, ids: dict[str, str]) -> dict[str, str]:
    """What the web role matrix has no use for: a refund, a schedule, an event, an envelope."""
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
    envelope = json.dumps(dict(envelopes.export_client(owner, ids["client"])))
    return {
        **ids,
        "refund": refund.public_id,
        "schedule": schedule.public_id,
        "event": event,
        "envelope": envelope,
    }


# Objects a call uses up, so that each role needs its own: a draft issued or deleted, a quote
# decided, a credit note issued, an endpoint removed, an invoice voided or credited in full.
def _draft(team: Team, ids: dict[str, str], kind: DocumentKind = DocumentKind.INVOICE) -> Document:
    lines = (LineData("Work", Decimal(1), Decimal(100)),)
    return documents.create_draft(team.actor(), kind, DraftData(ids["client"], lines))


def _issued(team: Team, ids: dict[str, str]) -> Document:
    return documents.issue_invoice(team.actor(), _draft(team, ids).public_id)


def _sent_quote(team: Team, ids: dict[str, str]) -> Document:
    return quotes.send_quote(team.actor(), _draft(team, ids, DocumentKind.QUOTE).public_id)


def _accepted_quote(team: Team, ids: dict[str, str]) -> Document:
    return quotes.accept_quote(team.actor(), _sent_quote(team, ids).public_id, "Ana")


def _credit_note(team: Team, ids: dict[str, str]) -> Document:
    return credit_notes.create_credit_note(team.actor(), _issued(team, ids).public_id)


def _credit_left(team: Team, ids: dict[str, str]) -> Document:
    note = _credit_note(team, ids)
    return credit_notes.issue_credit_note(team.actor(), note.public_id, apply_to_invoice=False)


def _endpoint(team: Team, ids: dict[str, str]) -> WebhookEndpoint:
    data = webhooks.EndpointData(url="http://127.0.0.1:9/in", events=("invoice.paid",))
    return webhooks.create_endpoint(team.actor(), data)


FRESH: dict[str, tuple[str, Callable[[Team, dict[str, str]], Any]]] = {
    "DELETE /api/v1/invoices/{public_id}": ("draft", _draft),
    "POST /api/v1/invoices/{public_id}/issue": ("draft", _draft),
    "POST /api/v1/invoices/{public_id}/void": ("invoice", _issued),
    "POST /api/v1/quotes/{public_id}/accept": ("portal_quote", _sent_quote),
    "POST /api/v1/quotes/{public_id}/decline": ("portal_quote", _sent_quote),
    "POST /api/v1/quotes/{public_id}/convert": ("portal_quote", _accepted_quote),
    "POST /api/v1/credit-notes": ("invoice", _issued),
    "POST /api/v1/credit-notes/{public_id}/issue": ("credit_note", _credit_note),
    "POST /api/v1/credit-notes/{public_id}/refunds": ("credit_note", _credit_left),
    "DELETE /api/v1/webhook-endpoints/{public_id}": ("webhook", _endpoint),
}


def fresh_ids(operation: Operation, team: Team, ids: dict[str, str]) -> dict[str, str]:
    """``ids`` with a new object in place of the one ``operation`` would use up, and a new
    ``unique`` for names that must be (products, tax rates)."""
    mine = {**ids, "unique": secrets.token_hex(4)}
    if operation.label in FRESH:
        name, make = FRESH[operation.label]
        mine[name] = make(team, ids).public_id
    return mine


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
