"""The privacy card, the erase page, the export download and the retention setting."""

from __future__ import annotations

import io
import zipfile

from portal.extensions import db as _db
from portal.models import Client, Job, Role
from portal.services import gdpr
from tests.services import factories as f


def test_the_client_page_shows_the_privacy_card_by_role(login, team):
    customer = f.client(team.actor(), name="Card Co")
    staff = login(Role.STAFF)
    page = staff.get(f"/app/clients/{customer.public_id}").get_data(as_text=True)
    assert "Do not track this client" in page
    assert "Export all data" not in page and "Erase personal data" not in page
    staff.post("/logout")
    owner = login(Role.OWNER)
    page = owner.get(f"/app/clients/{customer.public_id}").get_data(as_text=True)
    assert "Export all data" in page and "Erase personal data" in page


def test_the_export_downloads_a_zip(login, team):
    customer = f.client(team.actor(), name="Zip Co")
    f.issued_invoice(team.actor(), customer)
    response = login(Role.ACCOUNTANT).post(f"/app/clients/{customer.public_id}/privacy/export")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "client.json" in zipfile.ZipFile(io.BytesIO(response.data)).namelist()


def test_a_large_export_runs_as_a_job_with_progress(login, team, monkeypatch):
    customer = f.client(team.actor(), name="Big Co")
    for _ in range(2):
        f.issued_invoice(team.actor(), customer)
    monkeypatch.setattr(gdpr, "INLINE_EXPORT_LIMIT", 1)
    client = login(Role.ACCOUNTANT)
    response = client.post(f"/app/clients/{customer.public_id}/privacy/export")
    assert response.status_code == 303
    job = _db.session.query(Job).one()
    assert (job.kind, job.status, job.done, job.total) == ("client-export", "done", 2, 2)
    assert client.get(response.headers["Location"]).status_code == 200
    assert client.get(f"/app/privacy/exports/{job.public_id}/status").status_code == 286
    download = client.get(f"/app/privacy/exports/{job.public_id}/download")
    data = download.get_data()
    download.close()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len([n for n in names if n.startswith("documents/")]) == 2


def test_erasing_through_the_page_needs_the_typed_name(login, team):
    customer = f.client(team.actor(), name="Typed Co", email="typed@co.example")
    client = login(Role.ADMIN)
    url = f"/app/clients/{customer.public_id}/privacy/erase"
    assert "Type <strong>Typed Co</strong>" in client.get(url).get_data(as_text=True)
    wrong = client.post(url, data={"confirmation": "typed"})
    assert wrong.status_code == 422
    assert "Type the client&#39;s name exactly" in wrong.get_data(as_text=True)
    done = client.post(url, data={"confirmation": "Typed Co"})
    assert done.status_code == 303
    _db.session.expire_all()
    erased = _db.session.get(Client, customer.id)
    assert erased.erased_at is not None and erased.email is None
    page = client.get(f"/app/clients/{customer.public_id}").get_data(as_text=True)
    assert "Personal data erased" in page and "typed@co.example" not in page


def test_the_tracking_switch_answers_the_card_to_htmx(login, team):
    customer = f.client(team.actor(), name="Switch Co")
    response = login(Role.STAFF).post(
        f"/app/clients/{customer.public_id}/privacy/tracking",
        data={"opt_out": "1"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Tracking is off: turn it on" in response.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(Client, customer.id).tracking_opt_out is True


def test_the_retention_setting(login, team):
    client = login(Role.ADMIN)
    assert (
        client.post("/app/settings/privacy", data={"tracking_retention_days": "x"}).status_code
        == 422
    )
    assert (
        client.post("/app/settings/privacy", data={"tracking_retention_days": "90"}).status_code
        == 303
    )
    _db.session.expire_all()
    _db.session.refresh(team.business)
    assert team.business.tracking_retention_days == 90
