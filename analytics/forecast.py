"""Monthly revenue forecast with yearly seasonality and P10/P50/P90 bands.

The model is Holt-Winters exponential smoothing with additive yearly seasonality, fitted on the
log of the series when every value is positive (multiplicative seasons, as revenue usually has).
Which of six variants (no trend, trend, damped trend; raw or log) is used is decided on the
history alone: each variant forecasts the six months after three earlier cut-off points, and the
one with the lowest mean absolute error wins. Bands come from simulating the fitted model with
a seeded generator, so the same input always gives the same bands.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from analytics.seasonality import MIN_MONTHS, monthly_series
from analytics.too_little import TooLittleData

__all__ = [
    "ForecastModel",
    "RevenueForecast",
    "SeasonalForecast",
    "forecast_revenue",
    "seasonal_forecast",
]

SEASON = 12
_VALIDATION_STEPS = 6
_VALIDATION_ORIGINS = (6, 12, 18)


@dataclass(frozen=True, slots=True)
class ForecastModel:
    trend: bool
    damped: bool
    log: bool

    def describe(self) -> str:
        trend = "damped trend" if self.damped else ("trend" if self.trend else "no trend")
        scale = "multiplicative" if self.log else "additive"
        return f"Holt-Winters, {trend}, {scale} yearly seasonality"


@dataclass(frozen=True, slots=True)
class SeasonalForecast:
    """Float forecast in the input's units: ``frame`` has ``month``, ``p10``, ``p50``, ``p90``
    and ``point`` (the model's own forecast; for a log model, its median).

    ``paths`` (n_paths x horizon) are the simulated futures the quantiles come from.
    """

    model: ForecastModel
    frame: pd.DataFrame
    paths: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RevenueForecast:
    """Forecast in integer minor units: ``frame`` has ``month`` and int64 ``p10_minor``,
    ``p50_minor``, ``p90_minor``, ``point_minor``; ``history`` is the monthly input."""

    model: str
    history: pd.Series
    frame: pd.DataFrame
    paths: NDArray[np.float64]


def _candidates(positive: bool) -> list[ForecastModel]:
    shapes = [(False, False), (True, False), (True, True)]
    logs = [False, True] if positive else [False]
    return [ForecastModel(trend=t, damped=d, log=lg) for t, d in shapes for lg in logs]


def _fit(values: NDArray[np.float64], model: ForecastModel) -> object:
    data = np.log(values) if model.log else values
    smoother = ExponentialSmoothing(
        data,
        trend="add" if model.trend else None,
        damped_trend=model.damped,
        seasonal="add",
        seasonal_periods=SEASON,
    )
    with warnings.catch_warnings():
        # A variant that fits badly simply loses the validation; its warning is not news.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return smoother.fit()


def _point(values: NDArray[np.float64], model: ForecastModel, horizon: int) -> NDArray[np.float64]:
    fitted = _fit(values, model)
    path = np.asarray(fitted.forecast(horizon), dtype=np.float64)  # type: ignore[attr-defined]
    return np.exp(path) if model.log else path


def choose_model(values: NDArray[np.float64]) -> ForecastModel:
    """The variant with the lowest mean absolute error over rolling cut-offs in the history."""
    candidates = _candidates(bool((values > 0).all()))
    origins = [k for k in _VALIDATION_ORIGINS if len(values) - k >= 2 * SEASON + 2]
    if not origins:
        return ForecastModel(trend=True, damped=True, log=candidates[-1].log)
    scores: list[tuple[float, int]] = []
    for number, model in enumerate(candidates):
        errors = []
        for back in origins:
            train = values[: len(values) - back]
            actual = values[len(values) - back : len(values) - back + _VALIDATION_STEPS]
            errors.append(float(np.mean(np.abs(actual - _point(train, model, len(actual))))))
        scores.append((float(np.mean(errors)), number))
    return candidates[min(scores)[1]]


def seasonal_forecast(
    values: pd.Series, horizon: int = 12, n_paths: int = 1000, seed: int = 0
) -> SeasonalForecast | TooLittleData:
    """Forecast ``horizon`` months after a monthly series (see ``monthly_series`` for its shape)."""
    series = monthly_series(values)
    if len(series) < MIN_MONTHS:
        return TooLittleData(
            message=f"A forecast needs two full years of monthly revenue; there are "
            f"{len(series)} months so far.",
            have=len(series),
            need=MIN_MONTHS,
        )
    data = series.to_numpy(dtype=np.float64)
    model = choose_model(data)
    fitted = _fit(data, model)
    point = np.asarray(fitted.forecast(horizon), dtype=np.float64)  # type: ignore[attr-defined]
    simulated = fitted.simulate(  # type: ignore[attr-defined]
        horizon, repetitions=n_paths, error="add", rng=np.random.default_rng(seed)
    )
    paths = np.asarray(simulated, dtype=np.float64).reshape(horizon, n_paths).T
    if model.log:
        point, paths = np.exp(point), np.exp(paths)
    months = pd.date_range(series.index[-1], periods=horizon + 1, freq="MS")[1:]
    frame = pd.DataFrame(
        {
            "month": months,
            "p10": np.quantile(paths, 0.1, axis=0),
            "p50": np.quantile(paths, 0.5, axis=0),
            "p90": np.quantile(paths, 0.9, axis=0),
            "point": point,
        }
    )
    return SeasonalForecast(model=model, frame=frame, paths=paths)


def forecast_revenue(
    monthly: pd.DataFrame, horizon: int = 12, n_paths: int = 1000, seed: int = 0
) -> RevenueForecast | TooLittleData:
    """Forecast from ``revenue_by_month`` output (``month``, ``amount_minor``)."""
    history = pd.Series(
        monthly["amount_minor"].to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(monthly["month"]),
    )
    result = seasonal_forecast(history, horizon=horizon, n_paths=n_paths, seed=seed)
    if isinstance(result, TooLittleData):
        return result
    frame = pd.DataFrame({"month": result.frame["month"]})
    for column in ("p10", "p50", "p90", "point"):
        frame[f"{column}_minor"] = np.rint(result.frame[column].to_numpy()).astype(np.int64)
    return RevenueForecast(
        model=result.model.describe(),
        history=monthly_series(history),
        frame=frame,
        paths=result.paths,
    )
