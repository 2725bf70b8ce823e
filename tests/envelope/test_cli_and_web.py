"""``invoice-lite envelope …`` and the envelope pages."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from integrations import envelope as env
from portal.models import Client, Role
from portal.services import payments
from tests.envelope.conftest import sound_invoice
from tests.services import factories as f


def _write(tmp_path, doc, name="in.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_check_prints_ok_and_exits_0(app, db, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["envelope", "check", str(_write(tmp_path, sound_invoice()))]
    )
    assert (result.exit_code, result.output) == (0, "ok\n")


def test_check_prints_every_problem_and_exits_1(app, db, tmp_path):
    doc = sound_invoice()
    doc["payload"]["currency"] = "eur"
    del doc["id"]
    result = app.test_cli_runner().invoke(args=["envelope", "check", str(_write(tmp_path, doc))])
    assert result.exit_code == 1
    assert result.output == (
        "/id: id is required\n/payload/currency: currency code 'eur' must be upper case: 'EUR'\n"
    )


def test_check_exits_2_when_the_file_is_not_json_or_missing(app, db, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["envelope", "check", str(_write(tmp_path, "{oops"))])
    assert result.exit_code == 2
    assert result.output == (
        "/: not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2\n"
    )
    missing = runner.invoke(args=["envelope", "check", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output


def test_repair_prints_its_changes_and_writes_the_result(app, db, tmp_path):
    doc = sound_invoice()
    doc["payload"]["currency"] = "eur"
    doc["payload"]["totals"]["total"] = "100.00"
    out = tmp_path / "fixed.json"
    result = app.test_cli_runner().invoke(
        args=["envelope", "check", str(_write(tmp_path, doc)), "--repair", "--write", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "repaired /payload/currency: 'eur' -> 'EUR' (currency codes are upper case)",
        "repaired /payload/totals/total: '100.00' -> {'minor': 10000, 'currency': 'EUR'} "
        "(money is integer minor units of the currency (EUR))",
        f"wrote {out}",
        "ok",
    ]
    assert json.loads(out.read_text()) == sound_invoice()


def test_export_then_import_on_the_command_line(app, team, db, tmp_path):
    actor = team.actor()
    client = f.client(actor, email="ap@fjord.example", name="Fjord AS")
    out = tmp_path / "client.json"
    runner = app.test_cli_runner()
    exported = runner.invoke(
        args=[
            "envelope",
            "export",
            "client",
            client.public_id,
            "--business",
            team.business.public_id,
            "--out",
            str(out),
        ]
    )
    assert exported.exit_code == 0, exported.output
    refused = runner.invoke(
        args=["envelope", "import", str(out), "--business", team.business.public_id]
    )
    assert (refused.exit_code, refused.output) == (1, "/signature: the envelope is not signed\n")
    found = runner.invoke(
        args=[
            "envelope",
            "import",
            str(out),
            "--business",
            team.business.public_id,
            "--allow-unsigned",
        ]
    )
    assert found.exit_code == 0
    assert found.output == f"found client {client.public_id}: Fjord AS\n"


def test_export_payments_on_the_command_line(app, team, db, tmp_path):
    actor = team.actor()
    invoice = f.issued_invoice(actor, f.client(actor))
    payments.pay_invoice(actor, invoice.public_id, Decimal("20"), date(2026, 3, 5))
    result = app.test_cli_runner().invoke(
        args=[
            "envelope",
            "export",
            "payments",
            "--business",
            team.business.public_id,
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
        ]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["payload"]["payments"][0]["amount"] == {"minor": 2000, "currency": "EUR"}
    assert env.check(result.output) == []


def test_the_schema_is_public(client):
    response = client.get("/schemas/share-envelope/v1.json")
    assert response.status_code == 200
    assert response.mimetype == "application/schema+json"
    assert response.get_json(force=True)["$id"] == env.schema()["$id"]


def test_downloads_for_a_viewer(login, team):
    actor = team.actor()
    invoice = f.issued_invoice(actor, f.client(actor))
    payments.pay_invoice(actor, invoice.public_id, Decimal("20"), date.today())
    web = login(Role.VIEWER)
    for url in (
        f"/app/envelopes/invoices/{invoice.public_id}.json",
        f"/app/envelopes/clients/{invoice.client.public_id}.json",
        "/app/envelopes/payments.json",
    ):
        response = web.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert env.check(response.data) == [], url
    assert web.get("/app/envelopes/payments.json?from=yesterday").status_code == 400
    other = f.client(team.actor(), name="Other")
    assert web.get(f"/app/envelopes/invoices/{other.public_id}.json").status_code == 404


def test_a_foreign_invoice_is_not_found(login, team, db):
    from tests.conftest import make_team

    stranger = make_team("Stranger Ltd").actor()
    foreign = f.issued_invoice(stranger, f.client(stranger))
    web = login(Role.OWNER)
    assert web.get(f"/app/envelopes/invoices/{foreign.public_id}.json").status_code == 404
    assert web.get(f"/app/envelopes/clients/{foreign.client.public_id}.json").status_code == 404


def _upload(web, text, allow_unsigned=True, htmx=False):
    import io

    data = {"file": (io.BytesIO(text.encode()), "envelope.json")}
    if allow_unsigned:
        data["allow_unsigned"] = "1"
    headers = {"HX-Request": "true"} if htmx else {}
    return web.post(
        "/app/envelopes/import", data=data, content_type="multipart/form-data", headers=headers
    )


def test_the_import_page_lists_problems_then_imports(login, db):
    web = login(Role.ACCOUNTANT)
    assert web.get("/app/envelopes/import").status_code == 200
    broken = sound_invoice()
    broken["payload"]["currency"] = "eur"
    response = _upload(web, json.dumps(broken), htmx=True)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<code>/payload/currency</code>" in page
    assert "currency code &#39;eur&#39; must be upper case: &#39;EUR&#39;" in page
    assert "<html" not in page  # the fragment only
    assert db.session.scalar(select(func.count()).select_from(Client)) == 0
    response = _upload(web, json.dumps(sound_invoice()))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Created client" in page and "Fjord AS" in page
    assert db.session.scalar(select(func.count()).select_from(Client)) == 1


def test_staff_cannot_import(login):
    assert login(Role.STAFF).get("/app/envelopes/import").status_code == 403
