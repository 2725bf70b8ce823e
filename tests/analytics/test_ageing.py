from datetime import date
from decimal import Decimal

import pandas as pd

from analytics.ageing import BUCKETS, ageing, days_sales_outstanding


def test_buckets_by_days_overdue_with_edges_on_each_side() -> None:
    items = pd.DataFrame(
        {
            "due_date": pd.to_datetime(
                [
                    "2024-04-10",  # not yet due
                    "2024-03-31",  # due today: current
                    "2024-03-30",  # 1 day
                    "2024-03-01",  # 30 days
                    "2024-02-29",  # 31 days
                    "2024-01-01",  # 90 days
                    "2023-12-31",  # 91 days
                ]
            ),
            "balance_minor": [100, 50, 10, 20, 30, 40, 60],
        }
    )
    result = ageing(items, date(2024, 3, 31))
    assert [b.label for b in result] == list(BUCKETS)
    assert [(b.count, b.balance_minor) for b in result] == [
        (2, 150),
        (2, 30),
        (1, 30),
        (1, 40),
        (1, 60),
    ]


def test_no_open_items_gives_five_empty_buckets() -> None:
    items = pd.DataFrame({"due_date": pd.to_datetime([]), "balance_minor": []})
    assert [(b.count, b.balance_minor) for b in ageing(items, date(2024, 1, 1))] == [(0, 0)] * 5


def test_dso() -> None:
    assert days_sales_outstanding(30_000, 90_000, 90) == Decimal("30.0")
    assert days_sales_outstanding(10_000, 30_000, 365) == Decimal("121.7")
    assert days_sales_outstanding(10_000, 0, 90) is None
