"""An experiment's figures: counts from the database, statistics from ``analytics``."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from scipy.stats import beta

from analytics.charts import to_json
from analytics.experiments import ExperimentResult, analyse_experiment
from portal.models import Experiment
from portal.services.experiments import VariantCounts, counts


@dataclass(frozen=True, slots=True)
class Results:
    counts: list[VariantCounts]
    analysis: ExperimentResult | None  # None before anyone has seen a variant
    names: dict[str, str]  # variant key -> name
    figure_json: str | None


def results(experiment: Experiment) -> Results:
    rows = counts(experiment)
    names = {row.variant.key: row.variant.name for row in rows}
    if not rows or all(row.viewed == 0 for row in rows):
        return Results(rows, None, names, None)
    frame = pd.DataFrame(
        {
            "variant": [row.variant.key for row in rows],
            "visitors": [row.viewed for row in rows],
            "conversions": [min(row.paid, row.viewed) for row in rows],
        }
    )
    analysis = analyse_experiment(
        frame, control=rows[0].variant.key, min_visitors=experiment.min_views_per_variant
    )
    return Results(rows, analysis, names, _figure(analysis, names))


def _figure(analysis: ExperimentResult, names: dict[str, str]) -> str:
    """Conversion per variant with its 95% credible interval (the Beta posterior the chance to
    beat the control is computed from); the dotted line is the control's rate."""
    control = analysis.variants[0]
    low, high = [], []
    for v in analysis.variants:
        posterior = beta(1 + v.conversions, 1 + v.visitors - v.conversions)
        low.append(round((v.rate - float(posterior.ppf(0.025))) * 100, 2))
        high.append(round((float(posterior.ppf(0.975)) - v.rate) * 100, 2))
    figure = go.Figure(
        go.Bar(
            x=[names.get(v.name, v.name) for v in analysis.variants],
            y=[round(v.rate * 100, 2) for v in analysis.variants],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [max(h, 0.0) for h in high],
                "arrayminus": [max(lo, 0.0) for lo in low],
            },
            text=[f"{v.conversions}/{v.visitors}" for v in analysis.variants],
            textposition="outside",
            name="Paid after viewing",
        ),
        layout={
            "title": {"text": "Paid after viewing the payment page (%), 95% credible interval"},
            "yaxis": {"title": {"text": "%"}, "rangemode": "tozero"},
            "shapes": [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": control.rate * 100,
                    "y1": control.rate * 100,
                    "line": {"dash": "dot"},
                }
            ],
            "margin": {"t": 50, "r": 20, "b": 40, "l": 50},
            "height": 320,
        },
    )
    # Plotly's own JSON escapes "<", ">" and "/": a variant name cannot close the page's
    # <script type="application/json"> and start a script of its own.
    return to_json(figure)
