"""Each dashboard opens in a real browser and draws every chart with data; the risk model is
trained from its page and its scores show on the invoice list."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db as _db
from portal.models import Business, Membership, Role
from portal.services import analytics_data
from portal.services.actors import Actor
from tests.analytics_web.data import long_history
from tests.e2e.test_clients_flow import sign_up

pytestmark = pytest.mark.browser

DASHBOARDS = {
    "/app/analytics/": ["revenue-chart", "ageing-chart", "top-clients-chart", "funnel-chart"],
    "/app/analytics/forecast": [
        "cash-weekly-chart",
        "cash-monthly-chart",
        "revenue-forecast-chart",
    ],
    "/app/analytics/cohorts": ["retention-chart", "cohort-revenue-chart", "ltv-chart"],
    "/app/analytics/seasonality": ["seasonality-chart"],
}
# Screenshots for docs/dashboards.md are taken when this names a folder.
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def _history(app: Flask) -> None:
    with app.app_context():
        business = _db.session.scalars(select(Business)).one()
        membership = _db.session.scalars(select(Membership)).one()
        long_history(Actor(membership.user, business, Role.OWNER), date.today())
    analytics_data.clear_cache()


def test_each_dashboard_draws_each_chart_with_data(page: Page, app: Flask) -> None:
    sign_up(page)
    _history(app)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    for url, charts in DASHBOARDS.items():
        page.goto(url)
        for chart in charts:
            element = page.locator(f"#{chart}")
            expect(element).to_have_attribute("data-drawn", "1")
            # Plotly drew into it: its SVG, and marks (bars, lines, heatmap cells) in the plot.
            expect(element.locator(".main-svg").first).to_be_attached()
            expect(element.locator(".trace, .hm").first).to_be_attached()
        if os.environ.get("INVOICE_LITE_SCREENSHOTS"):
            name = url.rstrip("/").rsplit("/", 1)[-1]
            page.screenshot(path=str(SHOTS / f"dashboard-{name}.png"), full_page=True)


def test_the_risk_model_is_trained_from_its_page(page: Page, app: Flask) -> None:
    sign_up(page)
    _history(app)
    page.goto("/app/analytics/risk")
    expect(page.locator("#risk-message")).to_contain_text("No risk model yet")
    page.get_by_role("button", name="Train the model").click()
    expect(page.locator("#training-state")).to_contain_text("Trained.")
    page.get_by_role("link", name="See the scores").click()
    expect(page.locator("#risk-metrics")).to_contain_text("ROC AUC")
    expect(page.locator("#riskiest tbody tr").first).to_be_visible()
    if os.environ.get("INVOICE_LITE_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / "dashboard-risk.png"), full_page=True)
    page.goto("/app/invoices/?status=sent")
    expect(page.locator("td[data-risk]").first).to_have_text(re.compile(r"^\d+%$"))
