"""Receivables ageing buckets and days sales outstanding (DSO).

Open items come as a frame with ``due_date`` (datetime64) and ``balance_minor`` (int64, integer
minor units of one currency). Days overdue is ``as_of - due_date`` in whole days; an item due
today or later is "current".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

__all__ = ["BUCKETS", "AgeingBucket", "ageing", "days_sales_outstanding"]

BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "90+")
_EDGES = (0, 30, 60, 90)


@dataclass(frozen=True, slots=True)
class AgeingBucket:
    label: str
    count: int
    balance_minor: int


def ageing(open_items: pd.DataFrame, as_of: date) -> tuple[AgeingBucket, ...]:
    """The five buckets in order, each with its item count and summed balance."""
    due = pd.to_datetime(open_items["due_date"])
    days = (pd.Timestamp(as_of) - due).dt.days.to_numpy()
    index = np.searchsorted(np.asarray(_EDGES), days, side="left")
    balances = open_items["balance_minor"].to_numpy(dtype=np.int64)
    return tuple(
        AgeingBucket(
            label=label,
            count=int((index == i).sum()),
            balance_minor=int(balances[index == i].sum()),
        )
        for i, label in enumerate(BUCKETS)
    )


def days_sales_outstanding(
    receivables_minor: int, invoiced_minor: int, period_days: int
) -> Decimal | None:
    """DSO = open receivables / amount invoiced in the period x days in the period (one decimal).

    None when nothing was invoiced in the period (DSO is undefined then).
    """
    if invoiced_minor <= 0:
        return None
    value = Decimal(receivables_minor) / Decimal(invoiced_minor) * Decimal(period_days)
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
