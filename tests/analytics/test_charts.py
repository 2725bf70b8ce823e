import json
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import charts
from analytics.ageing import ageing
from analytics.cohorts import active_counts, retention
from analytics.experiments import analyse_experiment
from analytics.risk import Reason
from analytics.seasonality import decompose
from analytics.too_little import TooLittleData


def test_revenue_bars_carry_the_amounts_and_serialise() -> None:
    monthly = pd.DataFrame(
        {"month": pd.to_datetime(["2024-01-01", "2024-02-01"]), "amount_minor": [12_345, 0]}
    )
    fig = charts.revenue_chart(monthly)
    assert isinstance(fig, go.Figure)
    assert fig.data[0].type == "bar"
    assert list(fig.data[0].y) == [123.45, 0.0]
    assert json.loads(charts.to_json(fig))["data"][0]["type"] == "bar"


def test_nothing_to_draw_gives_a_message() -> None:
    empty = pd.DataFrame({"month": pd.to_datetime([]), "amount_minor": []})
    assert charts.revenue_chart(empty) == TooLittleData("No revenue yet.", 0, 1)
    short = decompose(pd.Series([1.0] * 5, index=pd.date_range("2024-01-01", periods=5, freq="MS")))
    assert isinstance(charts.seasonality_chart(short), TooLittleData)
    assert isinstance(charts.risk_reasons_chart(()), TooLittleData)


def test_ageing_cohort_reasons_and_experiment_figures() -> None:
    items = pd.DataFrame({"due_date": pd.to_datetime(["2024-01-01"]), "balance_minor": [500]})
    fig = charts.ageing_chart(ageing(items, date(2024, 1, 15)))
    assert list(fig.data[0].y) == [0.0, 5.0, 0.0, 0.0, 0.0]

    tx = pd.DataFrame(
        {
            "client_id": ["a", "a", "b"],
            "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01"]),
        }
    )
    heat = charts.cohort_heatmap(retention(active_counts(tx)))
    assert heat.data[0].type == "heatmap"
    assert heat.data[0].z[0][1] == 100.0

    reasons = (Reason("past_late_rate", "often paid late before", 0.8, 1.2),)
    bars = charts.risk_reasons_chart(reasons)
    assert list(bars.data[0].x) == [1.2] and list(bars.data[0].y) == ["often paid late before"]

    counts = pd.DataFrame(
        {"variant": ["A", "B"], "visitors": [1000, 1000], "conversions": [100, 140]}
    )
    points = charts.experiment_chart(analyse_experiment(counts, control="A"))
    assert list(points.data[0].y) == ["B"]
    assert points.data[0].x[0] == pytest.approx(4.0)
