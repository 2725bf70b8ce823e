"""Another business's ids: through the API and the client portal, they name nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.api.principal import SCOPES
from portal.models import AuditEvent, DocumentKind, Role
from portal.services import api_keys, client_portal, clients, documents
from portal.services.clients import ClientData
from portal.services.documents import DraftData, LineData
from tests.attacks.api import (
    Operation,
    add_api_objects,
    body_for,
    call,
    operations,
    takes_an_id,
    url_for,
)
from tests.conftest import Team, make_team
from tests.web.helpers import count

WITH_AN_ID = [op for op in operations() if takes_an_id(op)]


@pytest.fixture
def stranger(db: Any) -> Team:
    return make_team("Other Co")


@pytest.fixture
def stranger_key(stranger: Team) -> str:
    _, raw = api_keys.create_key(
        stranger.actor(), api_keys.KeyData(name="Every scope", scopes=tuple(SCOPES))
    )
    return raw


@pytest.mark.parametrize("operation", WITH_AN_ID, ids=[op.label for op in WITH_AN_ID])
def test_a_key_of_another_business_finds_nothing(
    operation: Operation,
    ids: dict[str, str],
    team: Team,
    stranger_key: str,
    client: FlaskClient,
) -> None:
    ids = add_api_objects(team, ids)
    url = url_for(operation, ids)
    events = count(AuditEvent)
    extra = {"json": body_for(operation, ids)} if operation.method != "GET" else {}
    response = call(client, operation.method, url, stranger_key, **extra)
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert count(AuditEvent) == events


def test_the_ids_are_real_for_their_own_business(
    ids: dict[str, str], team: Team, client: FlaskClient
) -> None:
    """The 404s above mean something only because the owner's key does find each object."""
    ids = add_api_objects(team, ids)
    _, key = api_keys.create_key(team.actor(), api_keys.KeyData(name="All", scopes=tuple(SCOPES)))
    for operation in WITH_AN_ID:
        if operation.method == "GET":
            response = call(client, "GET", url_for(operation, ids), key)
            assert response.status_code == 200, operation.label


@pytest.fixture
def stranger_link(app: Flask, stranger: Team) -> str:
    actor = stranger.actor()
    with app.test_request_context():
        theirs = clients.create_client(actor, ClientData(name="Theirs", currency="EUR"))
        doc = documents.create_draft(
            actor,
            DocumentKind.INVOICE,
            DraftData(theirs.public_id, (LineData("Work", Decimal(1), Decimal(10)),)),
        )
        documents.issue_invoice(actor, doc.public_id)
        _, token = client_portal.create_link(actor, theirs.public_id)
    return token


PORTAL_DOCUMENT_URLS = [
    ("GET", "/pay/{token}/documents/{doc}"),
    ("GET", "/pay/{token}/documents/{doc}/pdf"),
    ("POST", "/pay/{token}/documents/{doc}/accept"),
    ("POST", "/pay/{token}/documents/{doc}/decline"),
    ("POST", "/pay/{token}/documents/{doc}/checkout"),
]


@pytest.mark.parametrize(("method", "url"), PORTAL_DOCUMENT_URLS)
@pytest.mark.parametrize("doc", ["portal_invoice", "portal_quote", "invoice", "credit_note"])
def test_a_portal_link_of_another_business_opens_nothing_of_this_one(
    method: str,
    url: str,
    doc: str,
    ids: dict[str, str],
    stranger_link: str,
    client: FlaskClient,
) -> None:
    events = count(AuditEvent)
    target = url.format(token=stranger_link, doc=ids[doc])
    response = client.open(target, method=method, data={"provider": "stripe"})
    assert response.status_code == 404, response.get_data(as_text=True)
    assert ids[doc] not in response.get_data(as_text=True)
    assert count(AuditEvent) == events


def test_a_portal_link_of_another_client_opens_nothing_of_this_one(
    app: Flask, ids: dict[str, str], team: Team, client: FlaskClient
) -> None:
    """The same business, another client: still nothing."""
    with app.test_request_context():
        other = clients.create_client(team.actor(), ClientData(name="Other", currency="EUR"))
        _, token = client_portal.create_link(team.actor(Role.OWNER), other.public_id)
    for method, url in PORTAL_DOCUMENT_URLS:
        target = url.format(token=token, doc=ids["portal_invoice"])
        response = client.open(target, method=method, data={"provider": "stripe"})
        assert response.status_code == 404, target
