"""Late-payment risk for an invoice at the moment it is issued.

Invoices come as one frame, one row per invoice:

==============  ==============  ==================================================
column          dtype           meaning
==============  ==============  ==================================================
client_id       any hashable    the paying client
issue_date      datetime64      date the invoice was issued
due_date        datetime64      date payment is due
amount_minor    int64           invoice total in minor units (one currency)
paid_date       datetime64      date it was paid in full; NaT while open
disputed        bool            optional: the client disputed it (known once paid)
electronic      bool            optional: sent electronically rather than on paper
==============  ==============  ==================================================

An invoice is late when it was paid after its due date. Every feature of an invoice is computed
only from the same client's invoices that were already *paid before its issue date*, plus what
is on the invoice itself; nothing dated on or after the issue date is read, so scoring the past
gives the same figures the model would have seen then. Past rates are smoothed towards the
priors (``RiskPriors``) so a client with two invoices does not get a rate of 0 or 1.

The strongest feature, ``expected_late``, models the client's time to pay rather than only
counting past late invoices. Each past invoice's days to pay is corrected for how it was sent and
whether it was disputed (both shift the time to pay by a number of days that ``RiskPriors``
estimates *within* clients); the client's usual time is the mean of those corrected days. For the
new invoice the usual time is shifted back by its own way of sending, and the chance of a dispute
(the client's past disputes, scaled by the invoice amount, since large invoices are disputed more
often) mixes in the dispute delay. With the spread of times around a client's usual one, that
gives the chance the payment lands after the due date; the feature is its log-odds.

``LatePaymentModel`` is a scikit-learn classifier: standardised features, logistic regression,
and sigmoid calibration over cross-validation folds. Its ``reasons`` are each feature's share of
the log-odds (coefficient x standardised value), averaged over the folds' models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import expit, logit, ndtr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "CANDIDATES",
    "COLUMNS",
    "DRIVERS",
    "FEATURES",
    "LatePaymentModel",
    "Reason",
    "RiskPriors",
    "baseline_score",
    "is_late",
    "risk_features",
]

# Pseudo-invoices at the prior: for rates (the baseline's smoothing, as the data README sets
# it), for the client's usual days to pay, and for the client's tendency to dispute.
SMOOTHING = 5.0
MEAN_SMOOTHING = 0.5
DISPUTE_SMOOTHING = 1.0
# The recent late rate looks at the client's last few paid invoices.
RECENT = 5
# A chance is never quite 0 or 1: its log-odds stay finite.
_CLIP = 1e-4

# Everything ``risk_features`` computes. The model uses ``FEATURES`` by default: on time-based
# validation inside the training period the other candidates added nothing beyond noise to
# ``expected_late`` (bench/analytics.py prints that comparison), so the simplest model is used.
CANDIDATES: tuple[str, ...] = (
    "expected_late",
    "past_late_rate",
    "recent_late_rate",
    "past_invoices_log",
    "mean_days_to_pay",
    "mean_days_late",
    "delay_spread",
    "past_dispute_rate",
    "dispute_chance",
    "past_electronic_share",
    "electronic",
    "amount_log",
    "amount_relative",
    "terms_days",
    "open_invoices",
    "client_age_log",
)

FEATURES: tuple[str, ...] = ("expected_late",)

# What moves ``expected_late``: the log-odds it gains from each driver compared with an average
# client and invoice. The reasons name these rather than the feature itself.
DRIVERS: dict[str, tuple[str, ...]] = {
    "expected_late": (
        "slow_client",
        "sent_on_paper",
        "sent_electronically",
        "disputing_client",
        "large_amount",
    ),
}

LABELS: dict[str, str] = {
    "expected_late": "the client's usual time to pay runs past the due date",
    "slow_client": "the client usually takes long to pay",
    "sent_on_paper": "sent on paper",
    "sent_electronically": "sent electronically",
    "disputing_client": "the client disputed past invoices",
    "large_amount": "a large amount, more often disputed",
    "past_late_rate": "often paid late before",
    "recent_late_rate": "paid late recently",
    "past_invoices_log": "number of past invoices",
    "mean_days_to_pay": "usually takes long to pay",
    "mean_days_late": "days late on past invoices",
    "delay_spread": "unpredictable time to pay",
    "past_dispute_rate": "disputed past invoices",
    "dispute_chance": "likely to be disputed",
    "past_electronic_share": "share of past invoices sent electronically",
    "electronic": "sent electronically",
    "amount_log": "invoice amount",
    "amount_relative": "amount compared with the client's usual",
    "terms_days": "payment terms",
    "open_invoices": "other invoices still open",
    "client_age_log": "time since the client's first invoice",
}
COLUMNS: tuple[str, ...] = (*CANDIDATES, *DRIVERS["expected_late"])


def is_late(invoices: pd.DataFrame) -> pd.Series:
    """True where the invoice was paid after its due date (open invoices are False)."""
    paid = pd.to_datetime(invoices["paid_date"])
    return (paid > pd.to_datetime(invoices["due_date"])).fillna(False).astype(bool)


def _flag(invoices: pd.DataFrame, column: str) -> NDArray[np.float64]:
    if column not in invoices:
        return np.zeros(len(invoices), dtype=np.float64)
    return invoices[column].fillna(False).to_numpy(dtype=np.float64)


def _days(values: pd.Series) -> NDArray[np.int64]:
    """Whole days since 1970-01-01; NaT becomes a very large day (never 'before' anything)."""
    stamps = pd.to_datetime(values).dt.floor("D")
    days = (stamps - pd.Timestamp("1970-01-01")).dt.days
    return np.asarray(days.fillna(10**7).to_numpy(), dtype=np.int64)


def _log_amount(invoices: pd.DataFrame) -> NDArray[np.float64]:
    amount = invoices["amount_minor"].to_numpy(dtype=np.float64)
    return np.asarray(np.log1p(np.maximum(amount, 0.0)), dtype=np.float64)


def _within_client_effects(
    codes: NDArray[np.int64],
    to_pay: NDArray[np.float64],
    flags: NDArray[np.float64],
) -> tuple[NDArray[np.float64], float]:
    """Days each flag adds to the time to pay, comparing a client's invoices with each other
    (least squares on client-centred values), and the spread left around the client's mean."""
    clients = int(codes.max()) + 1

    def centred(values: NDArray[np.float64]) -> NDArray[np.float64]:
        sums = np.bincount(codes, weights=values, minlength=clients)
        counts = np.bincount(codes, minlength=clients)
        return np.asarray(values - (sums / np.maximum(counts, 1))[codes], dtype=np.float64)

    y = centred(to_pay)
    x = np.column_stack([centred(flags[:, k]) for k in range(flags.shape[1])])
    # A flag that never varies within a client is all zeros here; lstsq gives it no effect.
    effects = np.linalg.lstsq(x, y, rcond=None)[0]
    residual = y - x @ effects
    freedom = len(y) - len(np.unique(codes)) - flags.shape[1]
    if freedom < 2:
        return np.zeros(flags.shape[1]), float(np.std(to_pay)) or 10.0
    spread = math.sqrt(float(residual @ residual) / freedom)
    return np.asarray(effects, dtype=np.float64), max(spread, 1.0)


def _dispute_logit(
    log_amount: NDArray[np.float64], disputed: NDArray[np.float64]
) -> tuple[float, float]:
    """Intercept and slope of the log-odds of a dispute on the centred log amount: a logistic
    regression by Newton steps, with half a disputed and half an undisputed invoice of the
    typical amount added so that it exists when every invoice (or none) was disputed."""
    x = np.column_stack([np.ones(len(log_amount) + 2), np.append(log_amount, [0.0, 0.0])])
    y = np.append(disputed, [1.0, 0.0])
    weight = np.append(np.ones(len(log_amount)), [0.5, 0.5])
    beta = np.zeros(2)
    for _ in range(50):
        p = expit(x @ beta)
        gradient = x.T @ (weight * (y - p))
        hessian = (x.T * (weight * p * (1 - p))) @ x + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if float(np.abs(step).max()) < 1e-10:
            break
    return float(beta[0]), float(beta[1])


@dataclass(frozen=True, slots=True)
class RiskPriors:
    """What a client with no history is assumed to look like, and the effects every client
    shares. The defaults describe no effect: an invoice's way of sending, a dispute and its
    amount then change nothing in ``expected_late``."""

    late_rate: float
    days_to_pay: float
    dispute_rate: float
    electronic_share: float
    # Days an electronic invoice is paid later than a paper one (negative: sooner).
    electronic_effect: float = 0.0
    # Days a disputed invoice takes longer to pay.
    dispute_effect: float = 0.0
    # Standard deviation of days to pay around a client's usual time.
    delay_spread: float = 10.0
    # Log-odds of a dispute at the typical log amount, and per unit of log amount above it.
    dispute_logit: float = 0.0
    dispute_slope: float = 0.0
    log_amount: float = 0.0

    @property
    def usual_days(self) -> float:
        """Days to pay of a paper invoice that is not disputed, for a client with no history."""
        return (
            self.days_to_pay
            - self.electronic_effect * self.electronic_share
            - self.dispute_effect * self.dispute_rate
        )

    @classmethod
    def from_history(cls, invoices: pd.DataFrame, before: date) -> RiskPriors:
        """Priors from every invoice paid before ``before`` (no later information)."""
        paid = pd.to_datetime(invoices["paid_date"])
        known = invoices[paid < pd.Timestamp(before)]
        if known.empty:
            return cls(late_rate=0.3, days_to_pay=30.0, dispute_rate=0.1, electronic_share=0.5)
        to_pay = (pd.to_datetime(known["paid_date"]) - pd.to_datetime(known["issue_date"])).dt.days
        disputed = _flag(known, "disputed")
        electronic = _flag(known, "electronic")
        codes, _ = pd.factorize(known["client_id"])
        effects, spread = _within_client_effects(
            codes.astype(np.int64),
            np.asarray(to_pay.to_numpy(), dtype=np.float64),
            np.column_stack([electronic, disputed]),
        )
        log_amount = _log_amount(known)
        centre = float(log_amount.mean())
        intercept, slope = _dispute_logit(log_amount - centre, disputed)
        return cls(
            late_rate=float(is_late(known).mean()),
            days_to_pay=float(to_pay.mean()),
            dispute_rate=float(disputed.mean()),
            electronic_share=float(electronic.mean()),
            electronic_effect=float(effects[0]),
            dispute_effect=float(effects[1]),
            delay_spread=spread,
            dispute_logit=intercept,
            dispute_slope=slope,
            log_amount=centre,
        )

    def dispute_chance(self, log_amount: NDArray[np.float64]) -> NDArray[np.float64]:
        """Chance an invoice of this (log) amount is disputed, for the average client."""
        return np.asarray(
            expit(self.dispute_logit + self.dispute_slope * (log_amount - self.log_amount)),
            dtype=np.float64,
        )


class _History:
    """Running sums of a client's paid invoices, in order of payment, for O(log n) look-ups."""

    def __init__(self, invoices: pd.DataFrame, values: dict[str, NDArray[np.float64]]) -> None:
        codes, _ = pd.factorize(invoices["client_id"])
        self.codes = codes.astype(np.int64)
        self.issue = _days(invoices["issue_date"])
        self.paid = _days(invoices["paid_date"])
        stride = np.int64(10**8)
        paid_key = self.codes * stride + self.paid
        order = np.argsort(paid_key, kind="stable")
        self.paid_keys = paid_key[order]
        issue_key = self.codes * stride + self.issue
        self.issue_keys = np.sort(issue_key)
        self.query = issue_key
        self.client_start = self.codes * stride
        self.cumulative = {
            name: np.concatenate([[0.0], np.cumsum(column[order])])
            for name, column in values.items()
        }

    def is_paid(self) -> NDArray[np.bool_]:
        return np.asarray(self.paid < 10**7)

    def before_issue(
        self, last: int | None = None
    ) -> tuple[NDArray[np.int64], dict[str, NDArray[np.float64]]]:
        """For each invoice: how many of its client's invoices were paid before it was issued
        (at most the ``last`` ones paid), and the sums of their values."""
        start = np.searchsorted(self.paid_keys, self.client_start, side="left")
        stop = np.searchsorted(self.paid_keys, self.query, side="left")
        if last is not None:
            start = np.maximum(start, stop - last)
        sums = {name: c[stop] - c[start] for name, c in self.cumulative.items()}
        return np.asarray(stop - start, dtype=np.int64), sums

    def issued_before(self) -> NDArray[np.int64]:
        start = np.searchsorted(self.issue_keys, self.client_start, side="left")
        stop = np.searchsorted(self.issue_keys, self.query, side="left")
        return np.asarray(stop - start, dtype=np.int64)

    def first_issue(self) -> NDArray[np.int64]:
        """The day the client's first invoice was issued (never after this one's)."""
        first = pd.Series(self.issue).groupby(self.codes).transform("min")
        return np.asarray(first.to_numpy(), dtype=np.int64)


def risk_features(invoices: pd.DataFrame, priors: RiskPriors) -> pd.DataFrame:
    """One row per invoice (same index): the ``CANDIDATES`` columns, then the ``DRIVERS`` of
    ``expected_late``; see the module text."""
    a = SMOOTHING
    issue = _days(invoices["issue_date"])
    paid = _days(invoices["paid_date"])
    due = _days(invoices["due_date"])
    is_paid = paid < 10**7
    electronic = _flag(invoices, "electronic")
    disputed = _flag(invoices, "disputed")
    log_amount = _log_amount(invoices)
    amount = invoices["amount_minor"].to_numpy(dtype=np.float64)
    to_pay = np.where(is_paid, paid - issue, 0).astype(np.float64)
    # Days to pay as if sent on paper and not disputed, around the prior's usual time.
    usual = priors.usual_days
    corrected = np.where(
        is_paid,
        to_pay - priors.electronic_effect * electronic - priors.dispute_effect * disputed - usual,
        0.0,
    )
    base_dispute = priors.dispute_chance(log_amount)
    history = _History(
        invoices,
        {
            "late": ((paid > due) & is_paid).astype(np.float64),
            "days_to_pay": to_pay,
            "days_late": np.where(is_paid, np.maximum(paid - due, 0), 0).astype(np.float64),
            "disputed": disputed,
            "expected_disputes": np.where(is_paid, base_dispute, 0.0),
            "electronic": electronic,
            "amount": amount,
            "corrected": corrected,
            "corrected_squared": corrected**2,
        },
    )
    count, sums = history.before_issue()
    recent_count, recent = history.before_issue(last=RECENT)
    n = count.astype(np.float64)
    mean_amount = np.where(n > 0, sums["amount"] / np.maximum(n, 1), amount)
    terms = (due - issue).astype(np.float64)
    past_late_rate = (sums["late"] + a * priors.late_rate) / (n + a)

    # The client's usual (corrected) days to pay, its spread, and the new invoice's chances.
    m = MEAN_SMOOTHING
    offset = sums["corrected"] / (n + m)
    squares = sums["corrected_squared"] - sums["corrected"] ** 2 / np.maximum(n, 1)
    spread = priors.delay_spread
    client_spread = np.sqrt((np.maximum(squares, 0.0) + a * spread**2) / (np.maximum(n - 1, 0) + a))
    expected_days = usual + offset + priors.electronic_effect * electronic
    # The spread of one payment around the usual time, plus the doubt about that usual time.
    doubt = spread * np.sqrt(1.0 + 1.0 / (n + m))
    # Pseudo-invoices of the typical amount, disputed as often as expected: they pull the
    # client's ratio of disputes to expected disputes towards 1.
    prior_disputes = DISPUTE_SMOOTHING * float(expit(priors.dispute_logit))
    dispute_ratio = (sums["disputed"] + prior_disputes) / (
        sums["expected_disputes"] + prior_disputes
    )
    slack = terms + 0.5  # paid on day ``terms`` is on time; day ``terms + 1`` is late

    def late_log_odds(
        days: NDArray[np.float64], dispute: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        chance = np.clip(dispute, 0.0, 1.0)
        late = (1 - chance) * ndtr((days - slack) / doubt) + chance * ndtr(
            (days + priors.dispute_effect - slack) / doubt
        )
        return np.asarray(logit(np.clip(late, _CLIP, 1 - _CLIP)), dtype=np.float64)

    expected_late = late_log_odds(expected_days, base_dispute * dispute_ratio)
    sending = priors.electronic_effect * (electronic - priors.electronic_share)
    typical_dispute = priors.dispute_chance(np.full_like(log_amount, priors.log_amount))
    drivers = {
        "slow_client": expected_late
        - late_log_odds(expected_days - offset, base_dispute * dispute_ratio),
        "sending": expected_late
        - late_log_odds(expected_days - sending, base_dispute * dispute_ratio),
        "disputing_client": expected_late - late_log_odds(expected_days, base_dispute),
        "large_amount": expected_late
        - late_log_odds(expected_days, typical_dispute * dispute_ratio),
    }

    features = {
        "expected_late": expected_late,
        "past_late_rate": past_late_rate,
        "recent_late_rate": (recent["late"] + a * past_late_rate) / (recent_count + a),
        "past_invoices_log": np.log1p(n),
        "mean_days_to_pay": (sums["days_to_pay"] + a * priors.days_to_pay) / (n + a),
        "mean_days_late": sums["days_late"] / (n + a),
        "delay_spread": client_spread,
        "past_dispute_rate": (sums["disputed"] + priors.dispute_rate) / (n + 1),
        "dispute_chance": np.clip(base_dispute * dispute_ratio, 0.0, 1.0),
        "past_electronic_share": (sums["electronic"] + a * priors.electronic_share) / (n + a),
        "electronic": electronic,
        "amount_log": log_amount,
        "amount_relative": amount / np.maximum(mean_amount, 1.0),
        "terms_days": terms,
        "open_invoices": (history.issued_before() - count).astype(np.float64),
        "client_age_log": np.log1p(issue - history.first_issue()).astype(np.float64),
        "slow_client": drivers["slow_client"],
        "sent_on_paper": np.where(electronic > 0, 0.0, drivers["sending"]),
        "sent_electronically": np.where(electronic > 0, drivers["sending"], 0.0),
        "disputing_client": drivers["disputing_client"],
        "large_amount": drivers["large_amount"],
    }
    return pd.DataFrame(features, index=invoices.index, columns=list(COLUMNS))


def baseline_score(features: pd.DataFrame) -> NDArray[np.float64]:
    """The baseline: the client's smoothed past late rate."""
    return features["past_late_rate"].to_numpy(dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    label: str
    value: float
    contribution: float  # log-odds added by this feature; positive raises the risk


class LatePaymentModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Calibrated logistic regression on ``risk_features`` output: the ``features`` columns."""

    def __init__(self, C: float = 1.0, cv: int = 5, features: tuple[str, ...] = FEATURES) -> None:
        self.C = C
        self.cv = cv
        self.features = features

    def _pipeline(self) -> Pipeline:
        return Pipeline(
            [
                ("scale", StandardScaler()),
                ("logit", LogisticRegression(C=self.C, max_iter=1000)),
            ]
        )

    def _matrix(self, X: pd.DataFrame, features: tuple[str, ...]) -> NDArray[np.float64]:
        return X.loc[:, list(features)].to_numpy(dtype=np.float64)

    def fit(self, X: pd.DataFrame, y: Any) -> Self:
        features = tuple(self.features)
        unknown = sorted(set(features) - set(CANDIDATES))
        if unknown:
            raise ValueError(f"unknown features: {', '.join(unknown)}")
        calibrated = CalibratedClassifierCV(self._pipeline(), cv=self.cv, method="sigmoid")
        self.calibrated_ = calibrated.fit(self._matrix(X, features), np.asarray(y, dtype=bool))
        self.classes_ = self.calibrated_.classes_
        self.features_ = features
        self.n_features_in_ = len(features)
        return self

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        check_is_fitted(self)
        matrix = self._matrix(X, self.features_)
        return np.asarray(self.calibrated_.predict_proba(matrix), dtype=np.float64)

    def predict(self, X: pd.DataFrame) -> NDArray[np.bool_]:
        return np.asarray(self.predict_proba(X)[:, 1] >= 0.5)

    def _slopes(self) -> NDArray[np.float64]:
        """Per feature, the log-odds per unit, averaged over the fold models."""
        folds = self.calibrated_.calibrated_classifiers_
        slopes = np.zeros(len(self.features_))
        for fold in folds:
            scale = fold.estimator.named_steps["scale"].scale_
            slopes += fold.estimator.named_steps["logit"].coef_[0] / scale
        return np.asarray(slopes / len(folds), dtype=np.float64)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Log-odds contribution of each feature per invoice (its distance from the training
        mean times its coefficient), averaged over the fold models."""
        check_is_fitted(self)
        matrix = self._matrix(X, self.features_)
        total = np.zeros_like(matrix)
        folds = self.calibrated_.calibrated_classifiers_
        for fold in folds:
            pipeline = fold.estimator
            scaled = pipeline.named_steps["scale"].transform(matrix)
            total += scaled * pipeline.named_steps["logit"].coef_[0]
        return pd.DataFrame(total / len(folds), index=X.index, columns=list(self.features_))

    def reasons(self, X: pd.DataFrame, top: int = 3) -> list[tuple[Reason, ...]]:
        """Per invoice, the ``top`` things that raise its risk most (largest first): a feature's
        contribution, or for a feature with ``DRIVERS`` the log-odds each driver adds to it
        (compared with an average client and invoice) times the feature's coefficient."""
        check_is_fitted(self)
        parts = self.contributions(X)
        slopes = self._slopes()
        columns: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        for feature, slope in zip(self.features_, slopes, strict=True):
            drivers = DRIVERS.get(feature, ())
            if drivers and all(d in X.columns for d in drivers):
                for driver in drivers:
                    values = X[driver].to_numpy(dtype=np.float64)
                    columns[driver] = (values, values * slope)
            else:
                columns[feature] = (
                    X[feature].to_numpy(dtype=np.float64),
                    parts[feature].to_numpy(dtype=np.float64),
                )
        names = list(columns)
        values = np.column_stack([columns[n][0] for n in names])
        shares = np.column_stack([columns[n][1] for n in names])
        result = []
        for row_values, row_shares in zip(values, shares, strict=True):
            ranked = np.argsort(-row_shares, kind="stable")[:top]
            result.append(
                tuple(
                    Reason(
                        feature=names[k],
                        label=LABELS[names[k]],
                        value=float(row_values[k]),
                        contribution=float(row_shares[k]),
                    )
                    for k in ranked
                    if row_shares[k] > 0
                )
            )
        return result
