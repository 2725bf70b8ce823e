import pandas as pd

from analytics.revenue import funnel, revenue_by_month, top_clients

PAYMENTS = pd.DataFrame(
    {
        "client_id": ["a", "a", "c", "b"],
        "date": pd.to_datetime(["2024-01-15", "2024-01-31", "2024-03-02", "2024-03-20"]),
        "amount_minor": [100, 50, 25, 25],
    }
)


def test_revenue_by_month_fills_empty_months() -> None:
    months = revenue_by_month(PAYMENTS)
    assert list(months["month"].dt.strftime("%Y-%m")) == ["2024-01", "2024-02", "2024-03"]
    assert list(months["amount_minor"]) == [150, 0, 50]
    assert months["amount_minor"].dtype == "int64"


def test_top_clients_ordered_with_ties_by_id() -> None:
    top = top_clients(PAYMENTS, n=2)
    assert list(top["client_id"]) == ["a", "b"]
    assert list(top["amount_minor"]) == [150, 25]
    assert list(top["share"]) == [0.75, 0.125]


def test_funnel_counts_and_medians() -> None:
    t0 = pd.Timestamp("2024-01-01 09:00")
    hour = pd.Timedelta(hours=1)
    invoices = pd.DataFrame(
        {
            "sent_at": [t0, t0, t0, pd.NaT],
            "viewed_at": [t0 + 2 * hour, t0 + 4 * hour, pd.NaT, t0],
            "paid_at": [t0 + 26 * hour, pd.NaT, t0 + 48 * hour, pd.NaT],
        }
    )
    result = funnel(invoices)
    assert (result.sent, result.viewed, result.paid) == (3, 2, 2)
    assert result.median_sent_to_viewed == 3 * hour
    assert result.median_viewed_to_paid == 24 * hour
    assert result.median_sent_to_paid == 37 * hour


def test_funnel_without_views_has_no_median() -> None:
    invoices = pd.DataFrame(
        {
            "sent_at": [pd.Timestamp("2024-01-01")],
            "viewed_at": [pd.NaT],
            "paid_at": [pd.NaT],
        }
    )
    assert funnel(invoices).median_sent_to_viewed is None
