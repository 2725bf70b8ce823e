"""Monthly revenue split into trend, seasonal and remainder (STL), with a seasonal index.

The input is a monthly series: a ``pd.Series`` of floats indexed by month (DatetimeIndex of first
days, or a monthly PeriodIndex), without gaps; ``revenue_by_month`` produces one. Below two full
years there is no season to estimate and the result is ``TooLittleData``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from statsmodels.tsa.seasonal import STL

from analytics.too_little import TooLittleData

__all__ = ["MIN_MONTHS", "Decomposition", "decompose", "monthly_series"]

MIN_MONTHS = 24


@dataclass(frozen=True, slots=True)
class Decomposition:
    """``observed = trend + seasonal + remainder`` on every month.

    ``seasonal_index`` holds, for calendar months 1..12, the mean seasonal component: how far
    that month usually sits above (+) or below (-) the trend, in the series' own units.
    """

    observed: pd.Series
    trend: pd.Series
    seasonal: pd.Series
    remainder: pd.Series
    seasonal_index: pd.Series


def monthly_series(values: pd.Series) -> pd.Series:
    """The series as floats on a monthly DatetimeIndex (first of each month), named ``y``."""
    index = values.index
    if isinstance(index, pd.PeriodIndex):
        stamps = index.to_timestamp()
    else:
        stamps = pd.DatetimeIndex(index).to_period("M").to_timestamp()
    series = pd.Series(values.to_numpy(dtype="float64"), index=stamps, name="y")
    expected = pd.date_range(series.index.min(), periods=len(series), freq="MS")
    if not series.index.equals(expected):
        raise ValueError("the monthly series must be sorted, one value per month, without gaps")
    return series


def decompose(values: pd.Series) -> Decomposition | TooLittleData:
    """STL (period 12, robust) of the monthly series, or ``TooLittleData`` below 24 months."""
    series = monthly_series(values)
    if len(series) < MIN_MONTHS:
        return TooLittleData(
            message=f"Seasonality needs two full years of monthly revenue; there are "
            f"{len(series)} months so far.",
            have=len(series),
            need=MIN_MONTHS,
        )
    fitted = STL(series, period=12, robust=True).fit()
    seasonal = pd.Series(fitted.seasonal, index=series.index, name="seasonal")
    index = seasonal.groupby(pd.DatetimeIndex(seasonal.index).month).mean()
    index.index.name = "month_of_year"
    return Decomposition(
        observed=series,
        trend=pd.Series(fitted.trend, index=series.index, name="trend"),
        seasonal=seasonal,
        remainder=pd.Series(fitted.resid, index=series.index, name="remainder"),
        seasonal_index=index.rename("seasonal_index"),
    )
