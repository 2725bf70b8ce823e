"""Many invoices as one ZIP of PDFs, with a progress page that stops polling when done."""

import io
import re
import zipfile
from typing import Any

from portal.models import Job, Role
from tests.services import factories as f


def _invoices(team: Any, n: int) -> list[Any]:
    actor = team.actor()
    client = f.client(actor)
    docs = [f.issued_invoice(actor, client, f.line(price=str(100 + i))) for i in range(n)]
    f.draft(actor, client)  # drafts are left out of the export
    return docs


def test_export_writes_every_issued_invoice_and_the_page_stops_polling(login, team, db) -> None:
    docs = _invoices(team, 3)
    client = login(Role.VIEWER)
    response = client.post("/app/invoices/export.zip", data={})
    assert response.status_code == 303
    job_page = response.headers["Location"]
    assert re.fullmatch(r"/app/jobs/[0-9A-Z]{26}", job_page)

    status = client.get(job_page + "/status")
    assert status.status_code == 286  # htmx: stop polling
    assert "Done: 3 of 3." in status.get_data(as_text=True)

    with client.get(job_page + "/download") as download:
        assert download.status_code == 200
        assert download.mimetype == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(download.data))
    names = sorted(archive.namelist())
    assert len(names) == 3
    assert all(archive.read(name).startswith(b"%PDF") for name in names)
    assert all(any(d.number in name for name in names) for d in docs)


def test_export_follows_the_filters_and_answers_htmx_with_a_redirect(login, team, db) -> None:
    _invoices(team, 2)
    client = login(Role.OWNER)
    response = client.post(
        "/app/invoices/export.zip",
        data={"status": "paid"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    response = client.post(
        "/app/invoices/export.zip", data={"status": "issued"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/app/jobs/")
    assert db.session.query(Job).one().total == 2


def test_another_business_cannot_see_the_job(login, team, db) -> None:
    from tests.conftest import make_team

    _invoices(team, 1)
    owner = login(Role.OWNER)
    job_page = owner.post("/app/invoices/export.zip", data={}).headers["Location"]
    owner.post("/logout")
    other = make_team("Other Co")
    login(Role.OWNER, other)
    assert owner.get(job_page).status_code == 404
    assert owner.get(job_page + "/download").status_code == 404
