import pandas as pd

from analytics.cohorts import active_counts, cohort_revenue, lifetime_value, retention

TRANSACTIONS = pd.DataFrame(
    {
        "client_id": ["a", "a", "a", "b", "b", "c"],
        "date": pd.to_datetime(
            ["2024-01-05", "2024-02-10", "2024-02-20", "2024-01-20", "2024-03-01", "2024-02-03"]
        ),
        "amount_minor": [100, 50, 50, 200, 11, 70],
    }
)


def _rows(frame: pd.DataFrame) -> list[list[object]]:
    return [[None if pd.isna(v) else v for v in row] for row in frame.to_numpy().tolist()]


def test_active_counts_with_unobservable_cells() -> None:
    counts = active_counts(TRANSACTIONS)
    assert [str(c) for c in counts.index] == ["2024-01", "2024-02"]
    assert list(counts.columns) == [0, 1, 2]
    assert _rows(counts) == [[2, 1, 1], [1, 0, None]]


def test_retention_is_share_of_cohort() -> None:
    assert _rows(retention(active_counts(TRANSACTIONS))) == [[1.0, 0.5, 0.5], [1.0, 0.0, None]]


def test_revenue_per_cohort_and_month() -> None:
    assert _rows(cohort_revenue(TRANSACTIONS)) == [[300, 100, 11], [70, 0, None]]


def test_lifetime_value_rounds_half_up() -> None:
    ltv = lifetime_value(TRANSACTIONS)
    assert list(ltv["clients"]) == [2, 1]
    assert list(ltv["revenue_minor"]) == [411, 70]
    assert list(ltv["ltv_minor"]) == [206, 70]  # 411 / 2 = 205.5
