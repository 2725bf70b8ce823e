"""Client cohorts by month of first invoice: active counts, retention, revenue, lifetime value.

Transactions come as a frame with ``client_id`` (any hashable dtype), ``date`` (datetime64) and,
for revenue, ``amount_minor`` (int64). A client is in the cohort of the calendar month of their
first transaction and is "active in month k" when they have a transaction k months later. Cells
after the last month in the data cannot be observed and are NA.

Months are handled as integers (year * 12 + month) so the work is a few group-bys, fast on
hundreds of thousands of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["active_counts", "cohort_revenue", "lifetime_value", "retention"]


def _month_numbers(transactions: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(transactions["date"])
    month = dates.dt.year.to_numpy() * 12 + dates.dt.month.to_numpy() - 1
    frame = pd.DataFrame({"client_id": transactions["client_id"].to_numpy(), "month": month})
    frame["cohort"] = frame.groupby("client_id", sort=False)["month"].transform("min")
    frame["offset"] = frame["month"] - frame["cohort"]
    return frame


def _label(months: pd.Index) -> pd.PeriodIndex:
    numbers = np.asarray(months, dtype=np.int64)
    fields = pd.DataFrame({"year": numbers // 12, "month": numbers % 12 + 1, "day": 1})
    return pd.DatetimeIndex(pd.to_datetime(fields)).to_period("M")


def _mask_unobservable(matrix: pd.DataFrame, last_month: int) -> pd.DataFrame:
    cohorts = np.asarray(matrix.index, dtype=np.int64)[:, None]
    offsets = np.asarray(matrix.columns, dtype=np.int64)[None, :]
    return matrix.mask(cohorts + offsets > last_month)


def active_counts(transactions: pd.DataFrame) -> pd.DataFrame:
    """Active clients per cohort (rows, monthly PeriodIndex ``cohort``) and offset (columns 0..K).

    Values are ``Int64``; unobservable cells are NA, observed months with nobody active are 0.
    """
    frame = _month_numbers(transactions)
    pairs = frame.drop_duplicates(["client_id", "month"])
    counts = pairs.groupby(["cohort", "offset"]).size().unstack(fill_value=0)
    last = int(frame["month"].max())
    span = range(int(counts.columns.max()) + 1)
    counts = counts.reindex(columns=span, fill_value=0)
    counts = _mask_unobservable(counts.astype("Int64"), last)
    counts.index = _label(counts.index).rename("cohort")
    counts.columns = pd.Index(list(span), name="offset")
    return counts


def retention(counts: pd.DataFrame) -> pd.DataFrame:
    """Share of each cohort active in month k (floats in [0, 1]; NA where unobservable)."""
    sizes = counts[0].astype("float64")
    return counts.astype("Float64").div(sizes, axis=0)


def cohort_revenue(transactions: pd.DataFrame) -> pd.DataFrame:
    """Revenue (int64 minor units) per cohort and month offset; unobservable cells NA."""
    frame = _month_numbers(transactions)
    frame["amount_minor"] = transactions["amount_minor"].to_numpy(dtype=np.int64)
    sums = frame.groupby(["cohort", "offset"])["amount_minor"].sum().unstack(fill_value=0)
    span = range(int(sums.columns.max()) + 1)
    sums = sums.reindex(columns=span, fill_value=0)
    sums = _mask_unobservable(sums.astype("Int64"), int(frame["month"].max()))
    sums.index = _label(sums.index).rename("cohort")
    sums.columns = pd.Index(list(span), name="offset")
    return sums


def lifetime_value(transactions: pd.DataFrame) -> pd.DataFrame:
    """Per cohort: ``clients``, ``revenue_minor`` to date and ``ltv_minor`` = revenue per client.

    ``ltv_minor`` is rounded half up to whole minor units.
    """
    frame = _month_numbers(transactions)
    frame["amount_minor"] = transactions["amount_minor"].to_numpy(dtype=np.int64)
    grouped = frame.groupby("cohort")
    clients = grouped["client_id"].nunique().astype("int64")
    revenue = grouped["amount_minor"].sum().astype("int64")
    # Integer half-up division keeps money exact: floor((2r + c) / 2c) for r >= 0.
    ltv = (2 * revenue + clients) // (2 * clients)
    result = pd.DataFrame({"clients": clients, "revenue_minor": revenue, "ltv_minor": ltv})
    result.index = _label(result.index).rename("cohort")
    return result
