# plotly ships no type information, so every Figure is Any to mypy.
# mypy: disable-error-code="no-any-return"
"""Plotly figures for each analysis, and their JSON for embedding.

Every builder takes an analysis result and returns a ``plotly.graph_objects.Figure``, or the
``TooLittleData`` message to show instead when there is nothing to draw: never an empty chart.
Money arrives in integer minor units; ``minor_per_unit`` (100 for most currencies, 1 for JPY,
1000 for BHD) turns it into the displayed unit for the axis only.
"""

from __future__ import annotations

from typing import TypeAlias

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.ageing import AgeingBucket
from analytics.cashflow import CashFlowForecast
from analytics.experiments import ExperimentResult
from analytics.forecast import RevenueForecast
from analytics.risk import Reason
from analytics.seasonality import Decomposition
from analytics.too_little import TooLittleData

__all__ = [
    "ageing_chart",
    "cash_flow_chart",
    "cohort_heatmap",
    "experiment_chart",
    "forecast_chart",
    "revenue_chart",
    "risk_reasons_chart",
    "seasonality_chart",
    "to_json",
]

Chart: TypeAlias = "go.Figure | TooLittleData"


def _nothing(what: str) -> TooLittleData:
    return TooLittleData(message=f"No {what} yet.", have=0, need=1)


def to_json(fig: go.Figure) -> str:
    """The figure as JSON for ``Plotly.newPlot`` in the page."""
    text = fig.to_json()
    if text is None:  # to_json only returns None when asked to write a file
        raise ValueError("figure could not be serialised")
    return str(text)


def revenue_chart(monthly: pd.DataFrame, minor_per_unit: int = 100) -> Chart:
    """Bars of ``revenue_by_month`` output."""
    if monthly.empty:
        return _nothing("revenue")
    fig = go.Figure(
        go.Bar(
            x=monthly["month"],
            y=monthly["amount_minor"] / minor_per_unit,
            name="Revenue",
        )
    )
    fig.update_layout(title="Revenue by month", yaxis_title="Revenue")
    return fig


def ageing_chart(buckets: tuple[AgeingBucket, ...], minor_per_unit: int = 100) -> Chart:
    if not any(b.count for b in buckets):
        return _nothing("open invoices")
    fig = go.Figure(
        go.Bar(
            x=[b.label for b in buckets],
            y=[b.balance_minor / minor_per_unit for b in buckets],
            text=[f"{b.count} invoices" for b in buckets],
            name="Open balance",
        )
    )
    fig.update_layout(title="Receivables by days overdue", yaxis_title="Open balance")
    return fig


def forecast_chart(forecast: RevenueForecast | TooLittleData, minor_per_unit: int = 100) -> Chart:
    """History, the P50 line and the P10-P90 band."""
    if isinstance(forecast, TooLittleData):
        return forecast
    frame = forecast.frame
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=forecast.history.index, y=forecast.history / minor_per_unit, name="Revenue")
    )
    fig.add_trace(
        go.Scatter(
            x=frame["month"],
            y=frame["p90_minor"] / minor_per_unit,
            name="P90",
            line={"width": 0},
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=frame["month"],
            y=frame["p10_minor"] / minor_per_unit,
            name="P10-P90",
            fill="tonexty",
            line={"width": 0},
        )
    )
    fig.add_trace(
        go.Scatter(x=frame["month"], y=frame["p50_minor"] / minor_per_unit, name="Forecast (P50)")
    )
    fig.update_layout(title=f"Revenue forecast ({forecast.model})", yaxis_title="Revenue")
    return fig


def cash_flow_chart(
    forecast: CashFlowForecast, weekly: bool = True, minor_per_unit: int = 100
) -> Chart:
    frame = forecast.weekly if weekly else forecast.monthly
    if not frame["p90_minor"].any():
        return _nothing("expected collections")
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=frame["period_start"], y=frame["expected_minor"] / minor_per_unit, name="Expected")
    )
    fig.add_trace(
        go.Scatter(
            x=frame["period_start"],
            y=frame["p50_minor"] / minor_per_unit,
            name="P50",
            mode="markers",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (frame["p90_minor"] - frame["p50_minor"]) / minor_per_unit,
                "arrayminus": (frame["p50_minor"] - frame["p10_minor"]) / minor_per_unit,
            },
        )
    )
    period = "week" if weekly else "month"
    fig.update_layout(title=f"Expected collections per {period} (P10-P90)")
    return fig


def cohort_heatmap(retention: pd.DataFrame) -> Chart:
    """``cohorts.retention`` output as a heatmap (percent active)."""
    if retention.empty:
        return _nothing("clients")
    values = retention.astype("float64").to_numpy() * 100
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=[f"M{k}" for k in retention.columns],
            y=[str(c) for c in retention.index],
            colorscale="Blues",
            hoverongaps=False,
            colorbar={"title": "% active"},
        )
    )
    fig.update_layout(title="Clients active by months since first invoice")
    fig.update_yaxes(autorange="reversed")
    return fig


def seasonality_chart(decomposition: Decomposition | TooLittleData) -> Chart:
    if isinstance(decomposition, TooLittleData):
        return decomposition
    panels = [
        ("Revenue", decomposition.observed),
        ("Trend", decomposition.trend),
        ("Seasonal", decomposition.seasonal),
        ("Remainder", decomposition.remainder),
    ]
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, subplot_titles=[p[0] for p in panels])
    for row, (name, series) in enumerate(panels, start=1):
        fig.add_trace(go.Scatter(x=series.index, y=series.to_numpy(), name=name), row=row, col=1)
    fig.update_layout(title="Revenue: trend, season and remainder", showlegend=False)
    return fig


def risk_reasons_chart(reasons: tuple[Reason, ...]) -> Chart:
    if not reasons:
        return TooLittleData(message="Nothing raises this invoice's risk.", have=0, need=1)
    fig = go.Figure(
        go.Bar(
            x=[r.contribution for r in reasons],
            y=[r.label for r in reasons],
            orientation="h",
            name="Effect on risk",
        )
    )
    fig.update_layout(title="Why this invoice may be paid late", xaxis_title="Added log-odds")
    fig.update_yaxes(autorange="reversed")
    return fig


def experiment_chart(result: ExperimentResult) -> Chart:
    """Each variant's lift over the control (percentage points) with its 95 % interval."""
    challengers = [v for v in result.variants if v.name != result.control]
    if not challengers or not any(v.visitors for v in result.variants):
        return _nothing("experiment visitors")
    fig = go.Figure(
        go.Scatter(
            x=[v.lift * 100 for v in challengers],
            y=[v.name for v in challengers],
            mode="markers",
            name="Lift",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [(v.lift_high - v.lift) * 100 for v in challengers],
                "arrayminus": [(v.lift - v.lift_low) * 100 for v in challengers],
            },
        )
    )
    fig.add_vline(x=0, line_dash="dot")
    fig.update_layout(
        title=f"Conversion lift over {result.control} (95% interval)",
        xaxis_title="Percentage points",
    )
    return fig
