"""Revenue by month, top clients, and the sent -> viewed -> paid funnel.

Amounts arrive already converted to the business's currency, as integer minor units
(``amount_minor``, int64). Months are calendar months, labelled by their first day.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Funnel", "funnel", "revenue_by_month", "top_clients"]


def revenue_by_month(payments: pd.DataFrame) -> pd.DataFrame:
    """Sum of ``amount_minor`` per month of ``date``; months without revenue appear as 0.

    Returns columns ``month`` (datetime64, first of the month) and ``amount_minor`` (int64).
    """
    if payments.empty:
        return pd.DataFrame(
            {
                "month": pd.Series([], dtype="datetime64[ns]"),
                "amount_minor": pd.Series([], dtype="int64"),
            }
        )
    months = pd.to_datetime(payments["date"]).dt.to_period("M")
    sums = payments["amount_minor"].astype("int64").groupby(months).sum()
    full = pd.period_range(sums.index.min(), sums.index.max(), freq="M")
    sums = sums.reindex(full, fill_value=0)
    return pd.DataFrame(
        {"month": full.to_timestamp(), "amount_minor": sums.to_numpy(dtype="int64")}
    )


def top_clients(payments: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` clients with the most revenue: ``client_id``, ``amount_minor``, ``share`` of total.

    Ties are broken by client id so the order is stable.
    """
    sums = payments.groupby("client_id")["amount_minor"].sum().astype("int64")
    frame = sums.rename("amount_minor").reset_index()
    frame = frame.sort_values(["amount_minor", "client_id"], ascending=[False, True]).head(n)
    total = int(sums.sum())
    frame["share"] = frame["amount_minor"] / total if total else 0.0
    return frame.reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class Funnel:
    """Counts at each step and median times between steps (None when no invoice made the step)."""

    sent: int
    viewed: int
    paid: int
    median_sent_to_viewed: pd.Timedelta | None
    median_viewed_to_paid: pd.Timedelta | None
    median_sent_to_paid: pd.Timedelta | None


def _median(delta: pd.Series) -> pd.Timedelta | None:
    delta = delta.dropna()
    if delta.empty:
        return None
    return pd.Timedelta(delta.median())


def funnel(invoices: pd.DataFrame) -> Funnel:
    """From ``sent_at``, ``viewed_at``, ``paid_at`` (datetime64, NaT when the step did not happen).

    Only sent invoices count. An invoice paid without a recorded view counts as paid but is left
    out of the viewed -> paid median.
    """
    sent = invoices[invoices["sent_at"].notna()]
    sent_at = pd.to_datetime(sent["sent_at"])
    viewed_at = pd.to_datetime(sent["viewed_at"])
    paid_at = pd.to_datetime(sent["paid_at"])
    return Funnel(
        sent=len(sent),
        viewed=int(viewed_at.notna().sum()),
        paid=int(paid_at.notna().sum()),
        median_sent_to_viewed=_median(viewed_at - sent_at),
        median_viewed_to_paid=_median(paid_at - viewed_at),
        median_sent_to_paid=_median(paid_at - sent_at),
    )
