import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from analytics.risk import FEATURES, LatePaymentModel, RiskPriors, is_late, risk_features

PRIORS = RiskPriors(late_rate=0.4, days_to_pay=30.0, dispute_rate=0.2, electronic_share=0.5)


def _invoices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": ["a", "a", "a", "b"],
            "issue_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-01"]),
            "due_date": pd.to_datetime(["2024-01-31", "2024-03-02", "2024-03-31", "2024-03-31"]),
            "amount_minor": [1000, 3000, 4000, 500],
            "paid_date": pd.to_datetime(["2024-02-10", "2024-02-20", pd.NaT, "2024-03-05"]),
            "disputed": [True, False, False, False],
            "electronic": [False, True, True, False],
        }
    )


def test_features_by_hand() -> None:
    features = risk_features(_invoices(), PRIORS)
    assert list(features.columns) == list(FEATURES)
    # February: the January invoice is still open (paid Feb 10), so no history yet.
    feb = features.iloc[1]
    assert feb["past_late_rate"] == pytest.approx(0.4)
    assert feb["open_invoices"] == 1
    assert feb["past_invoices_log"] == 0
    # March: January (40 days, 10 late, disputed, paper) and February (19 days, on time) are known.
    mar = features.iloc[2]
    assert mar["past_late_rate"] == pytest.approx((1 + 5 * 0.4) / 7)
    assert mar["past_invoices_log"] == pytest.approx(np.log(3))
    assert mar["mean_days_to_pay"] == pytest.approx((40 + 19 + 5 * 30) / 7)
    assert mar["mean_days_late"] == pytest.approx(10 / 7)
    assert mar["past_dispute_rate"] == pytest.approx((1 + 0.2) / 3)
    assert mar["past_electronic_share"] == pytest.approx((1 + 5 * 0.5) / 7)
    assert mar["amount_relative"] == pytest.approx(4000 / 2000)
    assert mar["terms_days"] == 30
    assert mar["open_invoices"] == 0
    assert list(is_late(_invoices())) == [True, False, False, False]


def _random_invoices(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    issue = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    slowness = {"a": 20, "b": 35, "c": 45}
    clients = rng.choice(list(slowness), n)
    to_pay = np.array([slowness[c] for c in clients]) + rng.integers(-10, 10, n)
    return pd.DataFrame(
        {
            "client_id": clients,
            "issue_date": issue,
            "due_date": issue + pd.Timedelta(days=30),
            "amount_minor": rng.integers(100, 10_000, n),
            "paid_date": issue + pd.to_timedelta(to_pay, unit="D"),
            "disputed": rng.random(n) < 0.1,
            "electronic": rng.random(n) < 0.5,
        }
    ).sort_values("issue_date", ignore_index=True)


def test_no_feature_reads_the_invoice_or_anything_dated_on_or_after_it() -> None:
    invoices = _random_invoices(120, seed=2)
    full = risk_features(invoices, PRIORS)
    for i in range(0, 120, 7):
        issued = invoices.loc[i, "issue_date"]
        earlier = invoices[invoices["issue_date"] < issued].copy()
        # What was paid on or after this invoice's issue date was unknown then.
        earlier.loc[earlier["paid_date"] >= issued, ["paid_date", "disputed"]] = [pd.NaT, False]
        blind = invoices.loc[[i]].assign(paid_date=pd.NaT, disputed=False)
        later = invoices[(invoices["issue_date"] >= issued) & (invoices.index != i)].assign(
            paid_date=issued, amount_minor=1, disputed=True
        )
        alone = risk_features(pd.concat([earlier, blind, later]), PRIORS)
        pd.testing.assert_series_equal(alone.loc[i], full.loc[i])


def test_estimator_contract_and_reasons() -> None:
    invoices = _random_invoices(600, seed=4)
    features = risk_features(invoices, PRIORS)
    late = is_late(invoices)
    model = LatePaymentModel(C=0.5, cv=3)
    assert model.get_params() == {"C": 0.5, "cv": 3}
    with pytest.raises(NotFittedError):
        model.predict_proba(features)
    assert model.fit(features, late) is model
    proba = model.predict_proba(features)
    assert proba.shape == (600, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert clone(model).get_params() == model.get_params()
    # Slow client c is riskier than quick client a once both have a history.
    later = invoices["issue_date"] > "2023-06-01"
    by_client = pd.Series(proba[:, 1]).where(later).groupby(invoices["client_id"]).mean()
    assert by_client["c"] > by_client["b"] > by_client["a"]

    contributions = model.contributions(features)
    risky = int(np.argmax(proba[:, 1]))
    reasons = model.reasons(features.iloc[[risky]], top=2)[0]
    assert 1 <= len(reasons) <= 2
    assert reasons[0].contribution == pytest.approx(contributions.iloc[risky].max())
    assert reasons[0].contribution > 0 and reasons[0].label
