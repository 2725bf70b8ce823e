"""The dashboard pages: figures on screen, messages instead of empty charts, the risk job
started from the page and polled, the risk column on the invoice list."""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Job, Role
from portal.services import analytics_data
from tests.analytics_web.data import fixed_history, long_history
from tests.conftest import Team


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    analytics_data.clear_cache()


def _figures(html: str) -> dict[str, dict[str, Any]]:
    pattern = r'<script type="application/json" id="([\w-]+)-figure">(.*?)</script>'
    blocks = re.findall(pattern, html)
    return {name: json.loads(text) for name, text in blocks}


def _cell(html: str, row_id: str) -> str:
    found = re.search(rf'<tr data-bucket="{row_id}">(.*?)</tr>', html, re.S)
    assert found, row_id
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_the_overview_page_shows_the_hand_computed_figures(team: Team, login: Any) -> None:
    fixed_history(team.actor())
    client: FlaskClient = login(Role.ACCOUNTANT)
    html = client.get("/app/analytics/").get_data(as_text=True)
    figures = _figures(html)
    assert set(figures) == {"revenue-chart", "ageing-chart", "top-clients-chart", "funnel-chart"}
    # The page's "today" is the real date: the fixed invoices are all well overdue by then,
    # but the amounts do not move.
    assert "€300.00" in html  # open receivables: 200 + 50 + 50
    assert _cell(html, "current").startswith("Current")
    assert "Alder Ltd" in html and "50.0%" in html
    assert 'href="/app/experiments"' in html


def test_pages_without_data_say_so(team: Team, login: Any) -> None:
    client: FlaskClient = login(Role.VIEWER)
    for url, message in [
        ("/app/analytics/", "No revenue yet."),
        ("/app/analytics/forecast", "No open invoices and no payment history yet."),
        ("/app/analytics/cohorts", "No invoices yet."),
        ("/app/analytics/seasonality", "Seasonality needs two full years of monthly revenue"),
        ("/app/analytics/risk", "No risk model yet: train one from your invoice history."),
    ]:
        html = client.get(url).get_data(as_text=True)
        assert message in html, url
        assert _figures(html) == {}, url


def test_every_dashboard_draws_with_two_years_of_history(team: Team, login: Any) -> None:
    long_history(team.actor(), date.today())
    client: FlaskClient = login(Role.VIEWER)
    expected = {
        "/app/analytics/": {"revenue-chart", "ageing-chart", "top-clients-chart", "funnel-chart"},
        "/app/analytics/forecast": {
            "cash-weekly-chart",
            "cash-monthly-chart",
            "revenue-forecast-chart",
        },
        "/app/analytics/cohorts": {"retention-chart", "cohort-revenue-chart", "ltv-chart"},
        "/app/analytics/seasonality": {"seasonality-chart"},
    }
    for url, names in expected.items():
        response = client.get(url)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert set(_figures(html)) == names, url
        assert "plotly-4.1.1.min.js" in html


def test_training_from_the_page_polls_until_done_then_scores_show(team: Team, login: Any) -> None:
    long_history(team.actor(), date.today())
    client: FlaskClient = login(Role.ACCOUNTANT)
    response = client.post("/app/analytics/risk/train", headers={"HX-Request": "true"})
    assert response.status_code == 204
    target = response.headers["HX-Redirect"]
    page = client.get(target).get_data(as_text=True)
    # Without Redis the job ran inline: the fragment is final and htmx stops polling.
    public_id = target.rsplit("/", 1)[1]
    status = client.get(f"/app/analytics/risk/training/{public_id}/status")
    assert status.status_code == 286
    assert "Trained." in status.get_data(as_text=True) and "Trained." in page
    job = db.session.scalar(db.select(Job).where(Job.public_id == public_id))
    assert job is not None and (job.done, job.total) == (5, 5)
    risk = client.get("/app/analytics/risk").get_data(as_text=True)
    assert 'id="riskiest"' in risk and "ROC AUC" in risk
    listing = client.get("/app/invoices/?status=sent").get_data(as_text=True)
    assert re.search(r"<td class=\"num\" data-risk>\d+%</td>", listing)
    panel = client.get("/app/analytics/riskiest").get_data(as_text=True)
    assert 'id="riskiest"' in panel


def test_a_viewer_may_not_train(team: Team, login: Any) -> None:
    client: FlaskClient = login(Role.STAFF)
    assert client.post("/app/analytics/risk/train").status_code == 403
    assert "Train the model" not in client.get("/app/analytics/risk").get_data(as_text=True)


def test_another_business_cannot_see_a_training_job(team: Team, login: Any) -> None:
    from tests.conftest import make_team

    other = make_team("Other Co")
    from portal.jobs.analytics import KIND
    from portal.services import jobs

    job = jobs.start_job(other.actor(), KIND, {}, total=5)
    client: FlaskClient = login(Role.OWNER)
    assert client.get(f"/app/analytics/risk/training/{job.public_id}").status_code == 404
    assert client.get(f"/app/analytics/risk/training/{job.public_id}/status").status_code == 404
