"""SQL in filters, search, sorting and cursors: never an error, never a row too many.

The role matrix's business is the known dataset; a second business holds look-alike rows that a
broken filter would leak. Every list of the staff pages and the API is called with each payload
in each of its parameters and compared with what it shows unfiltered.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select

from portal.api.principal import SCOPES
from portal.extensions import db
from portal.models import Client, Document, DocumentKind, Role
from portal.services import api_keys, clients, documents
from portal.services.clients import ClientData
from portal.services.documents import DraftData, LineData
from portal.services.reports import REPORTS
from tests.attacks.api import add_api_objects, call, operations
from tests.conftest import Team, make_team


def _cursor(*values: Any) -> str:
    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


PAYLOADS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "1; DROP TABLE clients",
    "1); DROP TABLE documents; --",
    "%' UNION SELECT name, sql FROM sqlite_master --",
    "' UNION SELECT NULL, version() --",
    "%",
    "_",
    "\\",
    "\x00",
    "²",
    "9" * 40,
    "-1",
    "2026-13-45",
    "2026-01-01' OR '1'='1",
    "client,lines,__class__",
    _cursor("' OR 1=1 --", 1),
    _cursor(2**70, 2**70),
    _cursor(["x"], {"a": 1}),
    _cursor(None, None),
    _cursor("newest", 2**70, 2**70),
    _cursor("-created_at", "' OR 1=1 --", "x"),
]


@pytest.fixture
def dataset(app: Flask, team: Team, ids: dict[str, str]) -> dict[str, Any]:
    """The known rows, and a stranger's rows that must never show."""
    ids = add_api_objects(team, ids)
    stranger = make_team("Other Co")
    actor = stranger.actor()
    with app.test_request_context():
        theirs = clients.create_client(actor, ClientData(name="Blue Harbour Ltd", currency="EUR"))
        doc = documents.create_draft(
            actor,
            DocumentKind.INVOICE,
            DraftData(theirs.public_id, (LineData("Design", Decimal(1), Decimal(10)),)),
        )
        documents.issue_invoice(actor, doc.public_id)
    our_clients = set(
        db.session.scalars(select(Client.public_id).where(Client.business_id == team.business.id))
    )
    our_documents = set(
        db.session.scalars(
            select(Document.public_id).where(Document.business_id == team.business.id)
        )
    )
    return {
        "ids": ids,
        "ours": our_clients | our_documents,
        "/app/clients/": our_clients,
        "/app/invoices/": our_documents,
        "/app/quotes/": our_documents,
        "foreign": {theirs.public_id, doc.public_id},
    }


def _rows() -> dict[str, int]:
    return {
        table: int(
            db.session.execute(
                select(func.count()).select_from(db.metadata.tables[table])
            ).scalar_one()
        )
        for table in ("clients", "documents", "payments", "users", "businesses", "audit_events")
    }


def _answers(payload: str) -> set[int]:
    """A list, the form re-shown with a message, or (a NUL, which nobody types) bad request."""
    return {400} if "\x00" in payload else {200, 422}


def _shown(text: str, candidates: set[str]) -> set[str]:
    return {c for c in candidates if c in text}


STAFF_LISTS = {
    "/app/clients/": ("q", "tag", "archived", "after"),
    "/app/invoices/": ("q", "status", "client", "currency", "from", "to", "sort", "after"),
    "/app/quotes/": ("q", "status", "client", "after"),
    "/app/credit-notes/": ("after",),
    "/app/settings/developers/log": ("who", "route", "status", "since", "until", "cursor"),
    **{f"/app/reports/{slug}": ("from", "to", "client") for slug in REPORTS},
    # The audit log: each tab, and its CSV, with every filter it reads.
    "/app/audit/": ("action", "actor", "entity_type", "entity_id", "since", "until", "cursor"),
    "/app/audit/?tab=sign-ins": ("actor", "since", "until", "cursor"),
    "/app/audit/?tab=api": ("route", "status", "since", "until", "cursor"),
    "/app/audit/export.csv": ("action", "actor", "entity_type", "entity_id", "since", "until"),
    "/app/audit/export.csv?tab=sign-ins": ("actor", "since", "until"),
    "/app/audit/export.csv?tab=api": ("route", "status", "since", "until"),
    # An endpoint's delivery log, paged by the id of the last delivery seen.
    "/app/settings/webhooks/{webhook}": ("before",),
}
# Staff list parameters that name a row: an unknown one is "not found".
STAFF_NAMES_AN_ID = {"before"}


@pytest.mark.parametrize("url", sorted(STAFF_LISTS))
def test_staff_lists_take_sql_as_text(
    url: str, dataset: dict[str, Any], login: Any, client: FlaskClient
) -> None:
    login(Role.OWNER)
    tables = set(inspect(db.engine).get_table_names())
    rows = _rows()
    path, _, fixed = url.format(**dataset["ids"]).partition("?")
    query = dict(parse_qsl(fixed))
    baseline = client.get(path, query_string=query)
    assert baseline.status_code == 200
    known = _shown(baseline.get_data(as_text=True), dataset["ours"])
    for param in STAFF_LISTS[url]:
        for payload in PAYLOADS:
            expected = _answers(payload) | ({404} if param in STAFF_NAMES_AN_ID else set())
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(path, query_string={**query, param: payload}, headers=headers)
                text = response.get_data(as_text=True)
                said = f"{url}?{param}={payload!r}: {response.status_code}"
                assert response.status_code in expected, said
                assert _shown(text, dataset["foreign"]) == set(), said
                assert _shown(text, dataset["ours"]) <= known, said
                if param == "q":
                    # Nothing here is named like SQL: a search for it lists nothing.
                    assert _shown(text, dataset[url]) == set(), said
    assert set(inspect(db.engine).get_table_names()) == tables
    assert _rows() == rows


# Parameters a list needs before it answers at all (a report's period).
REQUIRED = {"start": "2026-01-01", "end": "2026-12-31"}
# Parameters that name a row: an unknown one is "not found".
NAMES_AN_ID = {"after"}

API_LISTS = [op for op in operations() if op.method == "GET" and op.query and "{" not in op.path]


@pytest.mark.parametrize("operation", API_LISTS, ids=[op.label for op in API_LISTS])
def test_api_lists_take_sql_as_text(
    operation: Any, dataset: dict[str, Any], team: Team, client: FlaskClient
) -> None:
    _, key = api_keys.create_key(team.actor(), api_keys.KeyData(name="All", scopes=tuple(SCOPES)))
    tables = set(inspect(db.engine).get_table_names())
    rows = _rows()
    needed = {k: v for k, v in REQUIRED.items() if k in operation.query}
    baseline = call(client, "GET", operation.path, key, query_string=needed)
    assert baseline.status_code == 200, baseline.get_data(as_text=True)
    known = _shown(baseline.get_data(as_text=True), dataset["ours"])
    for param in operation.query:
        for payload in PAYLOADS:
            query = {**needed, param: payload}
            response = call(client, "GET", operation.path, key, query_string=query)
            text = response.get_data(as_text=True)
            said = f"{operation.path}?{param}={payload!r}: {response.status_code} {text[:200]}"
            expected = _answers(payload) | ({404} if param in NAMES_AN_ID else set())
            assert response.status_code in expected, said
            assert _shown(text, dataset["foreign"]) == set(), said
            assert _shown(text, dataset["ours"]) <= known, said
            if param == "q" and response.status_code == 200:
                assert response.get_json()["data"] == [], said
    assert set(inspect(db.engine).get_table_names()) == tables
    assert _rows() == rows


def test_a_search_for_a_wildcard_finds_only_what_holds_it(
    dataset: dict[str, Any], login: Any, client: FlaskClient
) -> None:
    """``%`` and ``_`` are characters to look for, not patterns that match everything."""
    login(Role.OWNER)
    for url in ("/app/clients/", "/app/invoices/", "/app/quotes/"):
        for q in ("%", "_", "%%", "_%_"):
            text = client.get(url, query_string={"q": q}).get_data(as_text=True)
            assert _shown(text, dataset[url]) == set(), f"{url}?q={q}"
