"""The audit log page: tabs, filters, CSV and the owner's chain check."""

from __future__ import annotations

import csv
import io

from sqlalchemy import text

from portal.extensions import db as _db
from portal.models import Role
from portal.services import api_keys
from tests.services import factories as f


def test_the_page_filters_by_action_and_lists_sign_ins(login, team):
    f.client(team.actor(), name="Alpha")
    f.client(team.actor(), name="Beta")
    client = login(Role.ACCOUNTANT)
    page = client.get("/app/audit/?action=client.created").get_data(as_text=True)
    assert page.count("<code>client.created</code>") == 2
    assert "<code>business.created</code>" not in page
    assert "Verify the chain" not in page  # owners only
    sign_ins = client.get("/app/audit/?tab=sign-ins").get_data(as_text=True)
    assert "accountant@acme-ltd.example" in sign_ins and "Succeeded" in sign_ins
    assert client.get("/app/audit/?since=yesterday").status_code == 200


def test_the_csv_download(login, team):
    f.client(team.actor(), name='=HYPERLINK("http://x")')
    response = login(Role.ACCOUNTANT).get("/app/audit/export.csv?action=client.created")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["client.created"]


def test_the_owner_verifies_the_chain(login, team):
    f.client(team.actor(), name="Alpha")
    client = login(Role.OWNER)
    ok = client.post("/app/audit/verify", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-verify="ok"' in ok and "2 events checked in 1 chain" in ok
    _db.session.execute(
        text(
            "UPDATE audit_events SET action = 'client.deleted' WHERE seq = 2 AND business_id = :b"
        ),
        {"b": team.business.id},
    )
    _db.session.commit()
    broken = client.post("/app/audit/verify").get_data(as_text=True)
    assert 'data-verify="broken"' in broken and "event #2: content was altered" in broken


def test_the_api_tab_lists_logged_calls(login, team, client):
    _, key = api_keys.create_key(
        team.actor(), api_keys.KeyData(name="Books", scopes=("clients:read",))
    )
    client.get("/api/v1/clients", headers={"Authorization": f"Bearer {key}"})
    client.get("/api/v1/invoices", headers={"Authorization": f"Bearer {key}"})  # out of scope
    browser = login(Role.ACCOUNTANT)
    page = browser.get("/app/audit/?tab=api")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="audit-api"' in html
    assert "<code>GET /api/v1/clients</code>" in html
    assert "<code>GET /api/v1/invoices</code>" in html and ">403<" in html
    assert "Books" in html  # who: the key's name
    refused = browser.get("/app/audit/?tab=api&status=403").get_data(as_text=True)
    assert "<code>GET /api/v1/invoices</code>" in refused
    assert "<code>GET /api/v1/clients</code>" not in refused
