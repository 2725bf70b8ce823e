"""Importing envelopes in a real browser: a broken one shows its pointers, a good one imports."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.conftest import make_team
from tests.e2e.test_invoice_flow import log_in
from tests.envelope.conftest import sound_invoice

pytestmark = pytest.mark.browser


def _choose(page: Page, doc: dict) -> None:
    page.get_by_label("Envelope file").set_input_files(
        files=[
            {
                "name": "envelope.json",
                "mimeType": "application/json",
                "buffer": json.dumps(doc).encode(),
            }
        ]
    )


def test_a_broken_envelope_shows_pointers_then_a_good_one_creates_the_client(
    page: Page, db
) -> None:
    team = make_team("Harbor Design")
    log_in(page, team, Role.ACCOUNTANT)
    page.goto("/app/envelopes/import")

    broken = sound_invoice()
    broken["payload"]["currency"] = "eur"
    del broken["attachments"][0]["sha256"]
    _choose(page, broken)
    page.get_by_label("Accept an unsigned envelope").check()
    page.get_by_role("button", name="Check and import").click()
    report = page.locator("#envelope-report")
    expect(report.get_by_role("heading")).to_contain_text("2 problems, nothing was imported")
    rows = report.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("/attachments/0/sha256")
    expect(rows.nth(0)).to_contain_text("sha256 is required")
    expect(rows.nth(1)).to_contain_text("/payload/currency")
    expect(rows.nth(1)).to_contain_text("currency code 'eur' must be upper case: 'EUR'")

    _choose(page, sound_invoice())
    page.get_by_role("button", name="Check and import").click()
    expect(report.get_by_role("heading")).to_contain_text("imported")
    expect(report).to_contain_text("Created client: Fjord AS")
    report.get_by_role("link", name="Fjord AS", exact=True).click()
    expect(page.get_by_role("heading", name="Fjord AS")).to_be_visible()
