"""Cash-flow forecast for the next 13 weeks and 12 months, with P10/P50/P90 by simulation.

Three sources of cash are simulated together, ``n_paths`` times with a seeded generator (so the
same input always gives the same figures):

* open invoices: each is collected at its due date plus a number of days late drawn from that
  client's past payments (``days_late`` = paid date - due date, negative when early), or from
  every client's when the client has fewer than ``min_history`` payments. Only delays that put
  the collection on or after the as-of date are drawn (an invoice 20 days overdue draws among
  delays of 20 days or more); when the client has none, every client's are used, and when
  nobody ever paid that late the invoice is counted as not collected within the horizon.
* recurring schedules: each occurrence is invoiced on its date, due ``terms_days`` later, and
  collected with a delay drawn from every client's history.
* new invoicing: the revenue forecast's simulated months, invoiced mid-month, collected the same
  way. Pass a forecast of invoicing that the recurring schedules do not already cover.

Amounts are integer minor units throughout; quantiles are actual simulated totals.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analytics.forecast import RevenueForecast

__all__ = ["CashFlowForecast", "cash_flow_forecast"]

_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}


@dataclass(frozen=True, slots=True)
class CashFlowForecast:
    """``weekly`` (13 rows) and ``monthly`` (12 rows) frames with ``period_start``,
    ``period_end`` (exclusive), and int64 ``expected_minor``, ``p10_minor``, ``p50_minor``,
    ``p90_minor``, plus the expected share of each source: ``open_minor``, ``recurring_minor``,
    ``new_minor``. ``beyond_horizon_minor`` is the expected open balance not collected in time."""

    weekly: pd.DataFrame
    monthly: pd.DataFrame
    beyond_horizon_minor: int


def _periods(as_of: pd.Timestamp) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    weeks = [as_of + pd.Timedelta(days=7 * k) for k in range(14)]
    first = as_of.to_period("M").to_timestamp()
    months = [as_of] + [first + pd.DateOffset(months=k) for k in range(1, 13)]
    return weeks, months


def _half_up_mean(totals: NDArray[np.int64]) -> NDArray[np.int64]:
    n = totals.shape[0]
    return np.asarray((2 * totals.sum(axis=0) + n) // (2 * n), dtype=np.int64)


class _Simulation:
    def __init__(self, as_of: pd.Timestamp, n_paths: int, seed: int) -> None:
        self.as_of = as_of
        self.rng = np.random.default_rng(seed)
        self.n_paths = n_paths
        weeks, months = _periods(as_of)
        self.edges = {
            "weekly": np.array([(w - as_of).days for w in weeks]),
            "monthly": np.array([(m - as_of).days for m in months]),
        }
        self.sources = ("open", "recurring", "new")
        self.totals = {
            (kind, source): np.zeros((n_paths, len(edges) - 1), dtype=np.int64)
            for kind, edges in self.edges.items()
            for source in self.sources
        }
        self.beyond = np.zeros(n_paths, dtype=np.int64)

    def collect(
        self, source: str, base_day: int, delays: NDArray[np.int64], amounts: NDArray[np.int64]
    ) -> None:
        """Add one item collected ``base_day + delay`` days after as-of, delay drawn per path."""
        if delays.size == 0:
            self.beyond += amounts
            return
        day = base_day + self.rng.choice(delays, size=self.n_paths)
        paths = np.arange(self.n_paths)
        horizon = self.edges["monthly"][-1]
        self.beyond += np.where(day >= horizon, amounts, 0) if source == "open" else 0
        for kind, edges in self.edges.items():
            slot = np.searchsorted(edges, day, side="right") - 1
            inside = (slot >= 0) & (slot < len(edges) - 1)
            np.add.at(self.totals[(kind, source)], (paths[inside], slot[inside]), amounts[inside])

    def frame(self, kind: str) -> pd.DataFrame:
        edges = self.edges[kind]
        total = np.zeros_like(self.totals[(kind, "open")])
        for source in self.sources:
            total += self.totals[(kind, source)]
        starts = [self.as_of + pd.Timedelta(days=int(d)) for d in edges[:-1]]
        ends = [self.as_of + pd.Timedelta(days=int(d)) for d in edges[1:]]
        frame = pd.DataFrame({"period_start": starts, "period_end": ends})
        frame["expected_minor"] = _half_up_mean(total)
        for q in (10, 50, 90):
            frame[f"p{q}_minor"] = np.quantile(
                total, q / 100, axis=0, method="inverted_cdf"
            ).astype(np.int64)
        for source in self.sources:
            frame[f"{source}_minor"] = _half_up_mean(self.totals[(kind, source)])
        return frame


def _delay_pools(
    history: pd.DataFrame, min_history: int
) -> tuple[dict[object, NDArray[np.int64]], NDArray[np.int64]]:
    delays = history["days_late"].to_numpy(dtype=np.int64)
    pooled = np.sort(delays)
    per_client: dict[object, NDArray[np.int64]] = {}
    for client, group in history.groupby("client_id", sort=False)["days_late"]:
        if len(group) >= min_history:
            per_client[client] = np.sort(group.to_numpy(dtype=np.int64))
    return per_client, pooled


def _occurrences(row: Mapping[Hashable, Any], end: pd.Timestamp) -> list[pd.Timestamp]:
    start = pd.Timestamp(row["next_date"])
    step = int(row.get("interval_count", 1))
    frequency = str(row["frequency"])
    dates: list[pd.Timestamp] = []
    for k in range(10_000):
        if frequency == "weekly":
            when = start + pd.Timedelta(weeks=k * step)
        elif frequency in _MONTHS:
            when = start + pd.DateOffset(months=k * step * _MONTHS[frequency])
        else:
            raise ValueError(f"unknown frequency {frequency!r}")
        if when >= end:
            break
        dates.append(when)
    return dates


def cash_flow_forecast(
    open_invoices: pd.DataFrame,
    payment_history: pd.DataFrame,
    as_of: date,
    recurring: pd.DataFrame | None = None,
    new_invoicing: RevenueForecast | None = None,
    terms_days: int = 30,
    min_history: int = 3,
    n_paths: int = 2000,
    seed: int = 0,
) -> CashFlowForecast:
    """Simulate collections; see the module text for the rules.

    ``open_invoices``: ``client_id``, ``due_date`` (datetime64), ``balance_minor`` (int64).
    ``payment_history``: ``client_id``, ``days_late`` (int64, paid date - due date).
    ``recurring``: ``next_date`` (datetime64), ``frequency`` (weekly/monthly/quarterly/yearly),
    ``interval_count`` (int64, optional, default 1), ``amount_minor`` (int64).
    """
    start = pd.Timestamp(as_of)
    sim = _Simulation(start, n_paths, seed)
    per_client, pooled = _delay_pools(payment_history, min_history)
    due_days = (pd.to_datetime(open_invoices["due_date"]) - start).dt.days.to_numpy(dtype=np.int64)
    balances = open_invoices["balance_minor"].to_numpy(dtype=np.int64)
    clients = open_invoices["client_id"].to_numpy()
    for due_day, balance, client in zip(due_days, balances, clients, strict=True):
        pool = per_client.get(client, pooled)
        # Still open today, so it is collected today or later.
        pool = pool[pool >= -due_day]
        if pool.size == 0:
            pool = pooled[pooled >= -due_day]
        amount = np.full(n_paths, int(balance), dtype=np.int64)
        sim.collect("open", int(due_day), pool, amount)

    end = start + pd.Timedelta(days=int(sim.edges["monthly"][-1]))
    if recurring is not None and pooled.size:
        for schedule in recurring.to_dict("records"):
            amount = np.full(n_paths, int(schedule["amount_minor"]), dtype=np.int64)
            for when in _occurrences(schedule, end):
                if when >= start:
                    sim.collect("recurring", (when - start).days + terms_days, pooled, amount)

    if new_invoicing is not None and pooled.size:
        paths = new_invoicing.paths
        chosen = sim.rng.integers(0, paths.shape[0], size=n_paths)
        for j, month in enumerate(pd.DatetimeIndex(new_invoicing.frame["month"])):
            issued = month + pd.Timedelta(days=14)
            if issued < start or issued >= end:
                continue
            amount = np.rint(np.maximum(paths[chosen, j], 0.0)).astype(np.int64)
            sim.collect("new", (issued - start).days + terms_days, pooled, amount)

    beyond = int((2 * int(sim.beyond.sum()) + n_paths) // (2 * n_paths))
    return CashFlowForecast(
        weekly=sim.frame("weekly"), monthly=sim.frame("monthly"), beyond_horizon_minor=beyond
    )
