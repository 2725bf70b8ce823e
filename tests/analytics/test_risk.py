import math
import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from analytics.risk import (
    COLUMNS,
    FEATURES,
    LatePaymentModel,
    RiskPriors,
    is_late,
    risk_features,
)

PRIORS = RiskPriors(late_rate=0.4, days_to_pay=30.0, dispute_rate=0.2, electronic_share=0.5)
# Electronic invoices are paid 6 days sooner, disputed ones 14 days later; 5 days of spread;
# a dispute has log-odds -1 whatever the amount.
EFFECTS = RiskPriors(
    late_rate=0.4,
    days_to_pay=30.0,
    dispute_rate=0.2,
    electronic_share=0.5,
    electronic_effect=-6.0,
    dispute_effect=14.0,
    delay_spread=5.0,
    dispute_logit=-1.0,
    dispute_slope=0.0,
    log_amount=7.0,
)


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
    assert list(features.columns) == list(COLUMNS)
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


def _normal(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _log_odds(days: float, dispute: float, doubt: float) -> float:
    late = (1 - dispute) * _normal((days - 30.5) / doubt) + dispute * _normal(
        (days + 14 - 30.5) / doubt
    )
    return math.log(late / (1 - late))


def test_expected_late_by_hand() -> None:
    mar = risk_features(_invoices(), EFFECTS).iloc[2]
    # Usual days of a paper, undisputed invoice: 30 + 6 x 0.5 - 14 x 0.2 = 30.2. January took
    # 40 days, disputed: 40 - 14 - 30.2 = -4.2; February 19, electronic: 19 + 6 - 30.2 = -5.2.
    offset = (-4.2 - 5.2) / (2 + 0.5)
    # March is sent electronically: 6 days sooner.
    days = 30.2 + offset - 6
    doubt = 5 * math.sqrt(1 + 1 / 2.5)
    # One dispute where 2 x expit(-1) were expected, plus one pseudo-invoice that is disputed
    # just as often as expected.
    base = 1 / (1 + math.e)
    dispute = base * (1 + base) / (2 * base + base)
    assert mar["dispute_chance"] == pytest.approx(dispute)
    expected = _log_odds(days, dispute, doubt)
    assert mar["expected_late"] == pytest.approx(expected)
    # Drivers: what the usual time, the way of sending and the disputes add.
    assert mar["slow_client"] == pytest.approx(expected - _log_odds(days - offset, dispute, doubt))
    assert mar["sent_electronically"] == pytest.approx(
        expected - _log_odds(days + 3, dispute, doubt)
    )
    assert mar["sent_electronically"] < 0
    assert mar["sent_on_paper"] == 0
    assert mar["disputing_client"] == pytest.approx(expected - _log_odds(days, base, doubt))
    assert mar["large_amount"] == pytest.approx(0)


def test_priors_estimate_the_shared_effects_within_clients() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    clients = rng.integers(0, 40, n)
    usual = rng.normal(25, 8, 40)[clients]
    electronic = rng.random(n) < 0.5
    log_amount = rng.normal(8, 0.5, n)
    disputed = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 1.2 * (log_amount - 8))))
    to_pay = np.round(usual - 7 * electronic + 15 * disputed + rng.normal(0, 4, n))
    issue = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    invoices = pd.DataFrame(
        {
            "client_id": clients,
            "issue_date": issue,
            "due_date": issue + pd.Timedelta(days=30),
            "amount_minor": np.round(np.expm1(log_amount)).astype(np.int64),
            "paid_date": issue + pd.to_timedelta(np.maximum(to_pay, 0), unit="D"),
            "disputed": disputed,
            "electronic": electronic,
        }
    )
    priors = RiskPriors.from_history(invoices, date(2026, 1, 1))
    assert priors.electronic_effect == pytest.approx(-7, abs=0.5)
    assert priors.dispute_effect == pytest.approx(15, abs=0.5)
    assert priors.delay_spread == pytest.approx(4, abs=0.3)
    assert priors.dispute_slope == pytest.approx(1.2, abs=0.3)
    assert priors.dispute_chance(np.array([9.0]))[0] > priors.dispute_chance(np.array([7.0]))[0]
    # Nothing paid before the date: plain defaults, no effects.
    empty = RiskPriors.from_history(invoices, date(2023, 1, 1))
    assert (empty.electronic_effect, empty.dispute_effect) == (0.0, 0.0)


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
    priors = RiskPriors.from_history(invoices, date(2023, 7, 1))
    features = risk_features(invoices, priors)
    late = is_late(invoices)
    model = LatePaymentModel(C=0.5, cv=3)
    assert model.get_params() == {"C": 0.5, "cv": 3, "features": FEATURES}
    with pytest.raises(NotFittedError):
        model.predict_proba(features)
    assert model.fit(features, late) is model
    assert model.features_ == FEATURES
    proba = model.predict_proba(features)
    assert proba.shape == (600, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert clone(model).get_params() == model.get_params()
    # Slow client c is riskier than quick client a once both have a history.
    later = invoices["issue_date"] > "2023-06-01"
    by_client = pd.Series(proba[:, 1]).where(later).groupby(invoices["client_id"]).mean()
    assert by_client["c"] > by_client["b"] > by_client["a"]

    # The riskiest invoice is the slow client's: its first reason says so, and is the log-odds
    # that driver adds to ``expected_late`` times the feature's weight in the model.
    risky = int(np.argmax(proba[:, 1]))
    assert invoices.loc[risky, "client_id"] == "c"
    reasons = model.reasons(features.iloc[[risky]], top=2)[0]
    assert 1 <= len(reasons) <= 2
    first = reasons[0]
    assert (first.feature, first.label) == ("slow_client", "the client usually takes long to pay")
    (slope,) = model._slopes()
    assert first.contribution == pytest.approx(slope * features.iloc[risky]["slow_client"])
    assert first.contribution > 0
    # A quick client's invoice has nothing raising its risk.
    quick = int(np.argmin(np.where(later, proba[:, 1], 1)))
    assert model.reasons(features.iloc[[quick]])[0] == ()


def test_other_features_and_their_reasons() -> None:
    invoices = _random_invoices(300, seed=5)
    features = risk_features(invoices, PRIORS)
    late = is_late(invoices)
    chosen = ("past_late_rate", "amount_log")
    model = LatePaymentModel(cv=3, features=chosen).fit(features, late)
    assert model.features_ == chosen
    contributions = model.contributions(features)
    assert list(contributions.columns) == list(chosen)
    risky = int(np.argmax(model.predict_proba(features)[:, 1]))
    reasons = model.reasons(features.iloc[[risky]], top=1)[0]
    assert reasons[0].contribution == pytest.approx(contributions.iloc[risky].max())
    message = "unknown features: nope"
    with pytest.raises(ValueError, match=re.escape(message)):
        LatePaymentModel(features=("nope",)).fit(features, late)
