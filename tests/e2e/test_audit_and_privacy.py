"""The audit log filtered, downloaded and verified; a client exported and erased; in a browser."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db as _db
from portal.models import Client
from tests.conftest import PASSWORD, make_team
from tests.services import factories as f

pytestmark = pytest.mark.browser


def _log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".role")).to_have_text("owner")


def test_audit_log_and_a_clients_privacy(page: Page, db: Any) -> None:
    team = make_team("Harbor Design")
    owner = team.actor()
    fjord = f.client(owner, name="Fjord AS", email="ap@fjord.example", phone="+47 22 00 00 00")
    f.client(owner, name="Acme Ltd")
    invoice = f.issued_invoice(owner, fjord, f.line("Design hours", "3", "95.50"))
    _log_in(page, "owner@harbor-design.example")

    # The audit log, filtered to the client events.
    page.get_by_role("link", name="Audit log").first.click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.wait_for_load_state("load")  # the filters act through htmx
    page.get_by_label("Action").select_option("client.created")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit-events tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#audit-events")).not_to_contain_text("invoice.issued")

    with page.expect_download() as download:
        page.locator("#audit-csv").click()
    text = download.value.path().read_text()
    assert [r["action"] for r in csv.DictReader(io.StringIO(text))] == [
        "client.created",
        "client.created",
    ]

    page.get_by_role("button", name="Verify the chain").click()
    expect(page.locator("[data-verify=ok]")).to_contain_text("Every link holds")

    page.get_by_role("link", name="Sign-ins").click()
    expect(page.locator("#audit-sign-ins")).to_contain_text("owner@harbor-design.example")

    # The client's ZIP.
    page.goto(f"/app/clients/{fjord.public_id}")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export all data (ZIP)").click()
    archive = zipfile.ZipFile(download.value.path())
    assert "client.json" in archive.namelist()
    assert any(invoice.number in name for name in archive.namelist())

    # Erasing: a wrong name is refused, the open invoice needs a reason, then it is done.
    page.get_by_role("link", name="Erase personal data…").click()
    page.locator("#confirmation").fill("Fjord")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_text("Type the client's name exactly")).to_be_visible()
    page.locator("#confirmation").fill("Fjord AS")
    page.locator("#force_reason").fill("The client asked; invoice settled offline")
    page.get_by_role("button", name="Erase for good").click()

    expect(page.get_by_role("heading", name="Erased client")).to_be_visible()
    expect(page.locator("#erased-note")).to_contain_text("Personal data erased")
    expect(page.locator("main")).not_to_contain_text("ap@fjord.example")
    expect(page.locator("main")).not_to_contain_text("+47 22 00 00 00")
    # End the test's own read transaction to see what the server committed.
    _db.session.rollback()
    assert _db.session.get(Client, fjord.id).erased_at is not None
