import numpy as np
import pandas as pd

from analytics.forecast import forecast_revenue, seasonal_forecast
from analytics.too_little import TooLittleData


def _monthly(months: int) -> pd.DataFrame:
    index = pd.date_range("2020-01-01", periods=months, freq="MS")
    rng = np.random.default_rng(3)
    level = 100_000 * (1 + 0.01 * np.arange(months)) * (1 + 0.3 * (index.month == 12))
    amounts = np.rint(level * rng.normal(1, 0.03, months)).astype("int64")
    return pd.DataFrame({"month": index, "amount_minor": amounts})


def test_bands_are_ordered_integer_and_repeatable() -> None:
    first = forecast_revenue(_monthly(48), horizon=12, seed=7)
    again = forecast_revenue(_monthly(48), horizon=12, seed=7)
    assert not isinstance(first, TooLittleData) and not isinstance(again, TooLittleData)
    frame = first.frame
    assert list(frame["month"].dt.strftime("%Y-%m"))[:2] == ["2024-01", "2024-02"]
    assert (frame["p10_minor"] <= frame["p50_minor"]).all()
    assert (frame["p50_minor"] <= frame["p90_minor"]).all()
    assert frame["p50_minor"].dtype == "int64"
    pd.testing.assert_frame_equal(frame, again.frame)
    # The December peak is carried into the forecast.
    december = frame.loc[frame["month"].dt.month == 12, "p50_minor"].iloc[0]
    assert december > frame.loc[frame["month"].dt.month == 11, "p50_minor"].iloc[0] * 1.15


def test_short_history_is_too_little_data() -> None:
    result = seasonal_forecast(_monthly(20).set_index("month")["amount_minor"])
    assert isinstance(result, TooLittleData)
    assert (result.have, result.need) == (20, 24)
