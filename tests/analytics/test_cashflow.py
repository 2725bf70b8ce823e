from datetime import date

import numpy as np
import pandas as pd

from analytics.cashflow import cash_flow_forecast
from analytics.forecast import RevenueForecast

AS_OF = date(2024, 1, 1)
HISTORY = pd.DataFrame({"client_id": ["a"] * 3 + ["b"] * 3, "days_late": [5, 5, 5, 0, 40, 80]})


def _open(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": [r[0] for r in rows],
            "due_date": pd.to_datetime([r[1] for r in rows]),
            "balance_minor": [r[2] for r in rows],
        }
    )


def test_client_always_five_days_late_is_collected_in_one_week() -> None:
    result = cash_flow_forecast(_open(("a", "2024-01-10", 10_000)), HISTORY, AS_OF)
    weekly = result.weekly
    assert len(weekly) == 13 and len(result.monthly) == 12
    assert weekly["period_start"].iloc[2] == pd.Timestamp("2024-01-15")  # collected on the 15th
    row = weekly.iloc[2]
    assert (row["expected_minor"], row["p10_minor"], row["p50_minor"], row["p90_minor"]) == (
        10_000,
        10_000,
        10_000,
        10_000,
    )
    assert weekly["expected_minor"].sum() == 10_000
    assert result.monthly["expected_minor"].iloc[0] == 10_000


def test_overdue_invoice_draws_only_later_delays() -> None:
    # 31 days overdue; b has paid 0, 40 and 80 days late, so only 40 or 80 remain: day 9 or 49.
    result = cash_flow_forecast(_open(("b", "2023-12-01", 5_000)), HISTORY, AS_OF, seed=3)
    monthly = result.monthly
    assert monthly["expected_minor"].iloc[0] + monthly["expected_minor"].iloc[1] in (
        4_999,
        5_000,
        5_001,
    )
    assert abs(monthly["expected_minor"].iloc[0] - 2_500) < 200
    assert (monthly["p10_minor"] <= monthly["p50_minor"]).all()
    assert (monthly["p50_minor"] <= monthly["p90_minor"]).all()
    assert monthly["p10_minor"].iloc[0] == 0 and monthly["p90_minor"].iloc[0] == 5_000


def test_unknown_client_uses_everyone_and_too_late_is_beyond_horizon() -> None:
    result = cash_flow_forecast(_open(("new", "2023-09-01", 700)), HISTORY, AS_OF)
    assert result.beyond_horizon_minor == 700
    assert result.monthly["expected_minor"].sum() == 0


def test_same_seed_same_figures() -> None:
    open_items = _open(("b", "2024-01-20", 5_000), ("a", "2024-02-01", 3_000))
    first = cash_flow_forecast(open_items, HISTORY, AS_OF, seed=11)
    again = cash_flow_forecast(open_items, HISTORY, AS_OF, seed=11)
    pd.testing.assert_frame_equal(first.weekly, again.weekly)


def test_recurring_schedule_collected_after_terms() -> None:
    history = pd.DataFrame({"client_id": ["a", "b", "c"], "days_late": [0, 0, 0]})
    recurring = pd.DataFrame(
        {
            "next_date": pd.to_datetime(["2024-01-15"]),
            "frequency": ["monthly"],
            "interval_count": [1],
            "amount_minor": [1_000],
        }
    )
    result = cash_flow_forecast(_open(), history, AS_OF, recurring=recurring, terms_days=30)
    # Invoiced on the 15th, paid 30 days later: Jan 15 -> Feb 14, ..., Dec 15 -> next January.
    assert list(result.monthly["recurring_minor"]) == [0] + [1_000] * 11
    assert list(result.monthly["p50_minor"]) == [0] + [1_000] * 11


def test_new_invoicing_from_the_revenue_forecast() -> None:
    history = pd.DataFrame({"client_id": ["a"], "days_late": [0]})
    months = pd.date_range("2024-01-01", periods=2, freq="MS")
    forecast = RevenueForecast(
        model="fixed",
        history=pd.Series(dtype="float64"),
        frame=pd.DataFrame({"month": months}),
        paths=np.array([[1_000.0, 2_000.0], [3_000.0, 4_000.0]]),
    )
    result = cash_flow_forecast(
        _open(), history, AS_OF, new_invoicing=forecast, terms_days=10, n_paths=4000
    )
    # Jan 15 + 10 days -> January; Feb 15 + 10 days -> February.
    # Each path is 1000 then 2000, or 3000 then 4000.
    new = result.monthly["new_minor"]
    assert abs(new.iloc[0] - 2_000) < 100 and abs(new.iloc[1] - 3_000) < 100
    assert set(result.monthly["p10_minor"].iloc[:2]) <= {1_000, 2_000}
    assert set(result.monthly["p90_minor"].iloc[:2]) <= {3_000, 4_000}
