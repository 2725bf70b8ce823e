"""Every figure of the dashboards against values worked out by hand on fixed data.

The fixed history (``data.fixed_history``), as of 2026-03-15, base currency EUR:

=======  ======  =========  ======  =========  ===========================================
invoice  client  issued     total   due        payments
=======  ======  =========  ======  =========  ===========================================
inv3     Birch   2025-11-01  50.00  2025-12-01  none: 104 days overdue
inv1     Alder   2026-01-05 100.00  2026-02-04  120.00 on 01-20 (20.00 left as credit)
inv5     Cedar   2026-02-01 100 USD 2026-03-03  100 USD on 02-20, invoice rate 0.9: 90.00
inv2     Alder   2026-02-10 200.00  2026-03-12  none: 3 days overdue
inv4     Birch   2026-03-01  80.00  2026-03-31  30.00 on 03-05: 50.00 open, current
=======  ======  =========  ======  =========  ===========================================
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Client, Payment
from portal.services import analytics_data, business, credit_notes, payments
from tests.analytics_web.data import AS_OF, Fixed, fixed_history
from tests.conftest import Team


@pytest.fixture
def fixed(team: Team) -> Fixed:
    analytics_data.clear_cache()
    return fixed_history(team.actor())


def test_revenue_by_month_in_the_base_currency(team: Team, fixed: Fixed) -> None:
    data = analytics_data.overview(team.business, AS_OF)
    # January 120.00 (with the credit), February 100 USD x 0.9, March 30.00.
    assert data.revenue == [
        (date(2026, 1, 1), 12000),
        (date(2026, 2, 1), 9000),
        (date(2026, 3, 1), 3000),
    ]
    (bars,) = analytics_data.figure_data(data.charts["revenue"])
    assert bars["y"] == [120.0, 90.0, 30.0]


def test_receivables_ageing_and_dso(team: Team, fixed: Fixed) -> None:
    data = analytics_data.overview(team.business, AS_OF)
    assert [(b.label, b.count, b.balance_minor) for b in data.ageing] == [
        ("current", 1, 5000),
        ("1-30", 1, 20000),
        ("31-60", 0, 0),
        ("61-90", 0, 0),
        ("90+", 1, 5000),
    ]
    assert data.receivables_minor == 30000
    # Invoiced in the 90 days before 03-15: 100 + 90 + 200 + 80 = 470.00; 300 / 470 x 90.
    assert data.dso == Decimal("57.4")
    (bars,) = analytics_data.figure_data(data.charts["ageing"])
    assert bars["y"] == [50.0, 200.0, 0.0, 0.0, 50.0]


def test_top_clients_with_their_share(team: Team, fixed: Fixed) -> None:
    data = analytics_data.overview(team.business, AS_OF)
    assert [(c.name, c.amount_minor, c.share) for c in data.top_clients] == [
        ("Alder Ltd", 12000, 0.5),
        ("Cedar Inc", 9000, 0.375),
        ("Birch GmbH", 3000, 0.125),
    ]
    (bars,) = analytics_data.figure_data(data.charts["top-clients"])
    assert bars["x"] == [120.0, 90.0, 30.0]


def test_funnel_counts_and_median_days(team: Team, fixed: Fixed) -> None:
    steps = analytics_data.overview(team.business, AS_OF).funnel
    assert (steps.sent, steps.viewed, steps.paid) == (4, 3, 2)
    # Viewed after 2, 2 and 1 days; paid 13 and 17 days after viewing, 15 and 19 after sending.
    assert steps.median_sent_to_viewed == pd.Timedelta(days=2)
    assert steps.median_viewed_to_paid == pd.Timedelta(days=15)
    assert steps.median_sent_to_paid == pd.Timedelta(days=17)
    (stages,) = analytics_data.figure_data(
        analytics_data.overview(team.business, AS_OF).charts["funnel"]
    )
    assert stages["x"] == [4, 3, 2]


def test_a_new_payment_changes_the_revenue_figure(team: Team, fixed: Fixed) -> None:
    before = analytics_data.overview(team.business, AS_OF)
    assert analytics_data.overview(team.business, AS_OF) is before  # cached
    payments.pay_invoice(team.actor(), fixed.inv2.public_id, Decimal("50.00"), date(2026, 3, 10))
    after = analytics_data.overview(team.business, AS_OF)
    assert after.revenue[-1] == (date(2026, 3, 1), 8000)
    assert after.receivables_minor == 25000


def _payment_of(client_id: str) -> Payment:
    client = db.session.scalar(select(Client).where(Client.public_id == client_id))
    assert client is not None
    paid = db.session.scalar(select(Payment).where(Payment.client_id == client.id))
    assert paid is not None
    return paid


def test_refunds_are_taken_off_in_the_month_they_are_paid_back(team: Team, fixed: Fixed) -> None:
    actor = team.actor()
    before = analytics_data.overview(team.business, AS_OF)
    # Alder's 20.00 of credit (left over from its 120.00 payment) is paid back on 03-10.
    payments.refund_payment(
        actor, _payment_of(fixed.a).public_id, Decimal("20.00"), date(2026, 3, 10)
    )
    # Birch's 30.00 part payment of inv4 goes back on 03-11: the money received on 03-05 still
    # counts in March, the refund takes it off again.
    payments.refund_payment(
        actor, _payment_of(fixed.b).public_id, Decimal("30.00"), date(2026, 3, 11)
    )
    # inv5 (Cedar, paid in full) is credited; 40 USD of the credit note is paid back, at the
    # credit note's rate, the invoice's 0.9: 36.00.
    note = credit_notes.create_credit_note(actor, fixed.inv5.public_id, reason="Returned")
    credit_notes.issue_credit_note(actor, note.public_id)
    credit_notes.refund_credit_note(actor, note.public_id, Decimal("40.00"), date(2026, 3, 12))

    after = analytics_data.overview(team.business, AS_OF)
    assert after is not before
    # March: 30.00 received, minus 20.00, 30.00 and 36.00 paid back.
    assert after.revenue == [
        (date(2026, 1, 1), 12000),
        (date(2026, 2, 1), 9000),
        (date(2026, 3, 1), 3000 - 2000 - 3000 - 3600),
    ]
    assert [(c.name, c.amount_minor) for c in after.top_clients] == [
        ("Alder Ltd", 10000),
        ("Cedar Inc", 5400),
        ("Birch GmbH", 0),
    ]
    assert after.unconverted == []


def test_a_new_base_currency_is_not_served_from_the_cache(team: Team, fixed: Fixed) -> None:
    before = analytics_data.overview(team.business, AS_OF)
    assert before.currency == "EUR"
    assert analytics_data.cohorts(team.business).currency == "EUR"
    assert analytics_data.overview(team.business, AS_OF) is before
    profile = business.profile_of(team.business)
    business.update_business(team.actor(), dataclasses.replace(profile, base_currency="USD"))
    after = analytics_data.overview(team.business, AS_OF)
    assert after.currency == "USD"
    assert analytics_data.cohorts(team.business).currency == "USD"


def test_cohorts_retention_revenue_and_lifetime_value(team: Team, fixed: Fixed) -> None:
    data = analytics_data.cohorts(team.business)
    shares = data.retention.astype("float64").fillna(-1).round(4).values.tolist()
    assert [str(c) for c in data.retention.index] == ["2025-11", "2026-01", "2026-02"]
    assert shares == [
        [1.0, 0.0, 0.0, 0.0, 1.0],
        [1.0, 1.0, 0.0, -1, -1],
        [1.0, 0.0, -1, -1, -1],
    ]
    revenue = data.revenue.astype("float64").fillna(-1).values.tolist()
    assert revenue == [
        [5000, 0, 0, 0, 8000],
        [10000, 20000, 0, -1, -1],
        [9000, 0, -1, -1, -1],
    ]
    assert data.lifetime_value["ltv_minor"].tolist() == [13000, 30000, 9000]
    (bars,) = analytics_data.figure_data(data.charts["ltv"])
    assert bars["y"] == [130.0, 300.0, 90.0]
    (heat,) = analytics_data.figure_data(data.charts["retention"])
    assert heat["z"][0] == [100.0, 0.0, 0.0, 0.0, 100.0]


def test_cash_flow_from_open_invoices_and_payment_delays(team: Team, fixed: Fixed) -> None:
    data = analytics_data.forecasts(team.business, AS_OF)
    assert data.cash is not None
    # Past delays: -15 days (inv1) and -11 (inv5). inv4, due in 16 days, lands on day 1 or 5;
    # inv2 and inv3 are later than anyone ever paid: not expected within the horizon.
    week = data.cash.weekly.iloc[0]
    assert (week.expected_minor, week.p10_minor, week.p50_minor, week.p90_minor) == (
        5000,
        5000,
        5000,
        5000,
    )
    assert data.cash.weekly["expected_minor"].iloc[1:].sum() == 0
    assert data.cash.monthly["expected_minor"].tolist() == [5000] + [0] * 11
    assert data.cash.beyond_horizon_minor == 25000
    bars = analytics_data.figure_data(data.charts["cash-weekly"])[0]
    assert bars["y"][0] == 50.0


def _messages(charts: dict[str, Any]) -> dict[str, str | None]:
    return {name: c.message for name, c in charts.items()}


def test_too_little_history_gives_messages_not_charts(team: Team, fixed: Fixed) -> None:
    forecast = analytics_data.forecasts(team.business, AS_OF)
    assert forecast.charts["revenue-forecast"].figure_json is None
    assert forecast.charts["revenue-forecast"].message == (
        "A forecast needs two full years of monthly revenue; there are 2 months so far."
    )
    season = analytics_data.seasonality(team.business, AS_OF)
    assert _messages(season.charts) == {
        "seasonality": "Seasonality needs two full years of monthly revenue; there are 2 "
        "months so far."
    }


def test_an_empty_business_shows_only_messages(team: Team) -> None:
    analytics_data.clear_cache()
    data = analytics_data.overview(team.business, AS_OF)
    assert _messages(data.charts) == {
        "revenue": "No revenue yet.",
        "ageing": "No open invoices yet.",
        "top-clients": "No payments received yet.",
        "funnel": "No invoices sent in the last year.",
    }
    assert data.dso is None
    assert _messages(analytics_data.cohorts(team.business).charts) == {
        "retention": "No invoices yet.",
        "cohort-revenue": "No invoices yet.",
        "ltv": "No invoices yet.",
    }
    assert _messages(analytics_data.forecasts(team.business, AS_OF).charts) == {
        "cash-weekly": "No open invoices and no payment history yet.",
        "cash-monthly": "No open invoices and no payment history yet.",
        "revenue-forecast": "A forecast needs two full years of monthly revenue; there are 0 "
        "months so far.",
    }


def test_a_clients_name_cannot_end_the_figures_script_block(team: Team, fixed: Fixed) -> None:
    from portal.services import clients

    clients.update_client  # noqa: B018 - the name goes through the model directly below
    from portal.extensions import db
    from portal.models import Client

    client = db.session.scalar(db.select(Client).where(Client.public_id == fixed.a))
    client.name = "</script><script>alert(1)</script>"
    db.session.commit()
    chart = analytics_data.overview(team.business, AS_OF).charts["top-clients"]
    assert chart.figure_json is not None
    assert "</script>" not in chart.figure_json
    (bars,) = analytics_data.figure_data(chart)
    assert bars["y"][0] == "</script><script>alert(1)</script>"
