import numpy as np
import pandas as pd
import pytest

from analytics.seasonality import decompose
from analytics.too_little import TooLittleData


def _series(months: int) -> pd.Series:
    index = pd.date_range("2020-01-01", periods=months, freq="MS")
    season = np.where(index.month == 12, 50.0, 0.0) - np.where(index.month == 12, 0, 50.0 / 11)
    rng = np.random.default_rng(1)
    return pd.Series(1000 + 5.0 * np.arange(months) + season + rng.normal(0, 1, months), index)


def test_decomposition_adds_up_and_finds_december() -> None:
    result = decompose(_series(36))
    assert not isinstance(result, TooLittleData)
    for part in (result.trend, result.seasonal, result.remainder):
        assert len(part) == 36
    total = result.trend + result.seasonal + result.remainder
    np.testing.assert_allclose(total.to_numpy(), result.observed.to_numpy())
    assert list(result.seasonal_index.index) == list(range(1, 13))
    assert result.seasonal_index.idxmax() == 12
    assert result.seasonal_index[12] == pytest.approx(50, abs=5)


def test_below_two_years_is_too_little_data() -> None:
    result = decompose(_series(23))
    assert result == TooLittleData(
        message="Seasonality needs two full years of monthly revenue; there are 23 months so far.",
        have=23,
        need=24,
    )


def test_gaps_are_refused() -> None:
    series = _series(30).drop(pd.Timestamp("2021-03-01"))
    with pytest.raises(ValueError, match="without gaps"):
        decompose(series)
