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

``LatePaymentModel`` is a scikit-learn classifier: standardised features, logistic regression,
and sigmoid calibration over cross-validation folds. Its ``reasons`` are each feature's share of
the log-odds (coefficient x standardised value), averaged over the folds' models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "FEATURES",
    "LatePaymentModel",
    "Reason",
    "RiskPriors",
    "baseline_score",
    "is_late",
    "risk_features",
]

SMOOTHING = 5.0

FEATURES: tuple[str, ...] = (
    "past_late_rate",
    "past_invoices_log",
    "mean_days_to_pay",
    "mean_days_late",
    "past_dispute_rate",
    "past_electronic_share",
    "electronic",
    "amount_log",
    "amount_relative",
    "terms_days",
    "open_invoices",
)

LABELS: dict[str, str] = {
    "past_late_rate": "often paid late before",
    "past_invoices_log": "number of past invoices",
    "mean_days_to_pay": "usually takes long to pay",
    "mean_days_late": "days late on past invoices",
    "past_dispute_rate": "disputed past invoices",
    "past_electronic_share": "share of past invoices sent electronically",
    "electronic": "sent electronically",
    "amount_log": "invoice amount",
    "amount_relative": "amount compared with the client's usual",
    "terms_days": "payment terms",
    "open_invoices": "other invoices still open",
}


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


@dataclass(frozen=True, slots=True)
class RiskPriors:
    """What a client with no history is assumed to look like."""

    late_rate: float
    days_to_pay: float
    dispute_rate: float
    electronic_share: float

    @classmethod
    def from_history(cls, invoices: pd.DataFrame, before: date) -> RiskPriors:
        """Priors from every invoice paid before ``before`` (no later information)."""
        paid = pd.to_datetime(invoices["paid_date"])
        known = invoices[paid < pd.Timestamp(before)]
        if known.empty:
            return cls(late_rate=0.3, days_to_pay=30.0, dispute_rate=0.1, electronic_share=0.5)
        to_pay = (pd.to_datetime(known["paid_date"]) - pd.to_datetime(known["issue_date"])).dt.days
        return cls(
            late_rate=float(is_late(known).mean()),
            days_to_pay=float(to_pay.mean()),
            dispute_rate=float(_flag(known, "disputed").mean()),
            electronic_share=float(_flag(known, "electronic").mean()),
        )


class _History:
    """Running sums of a client's paid invoices, in order of payment, for O(log n) look-ups."""

    def __init__(self, invoices: pd.DataFrame) -> None:
        codes, _ = pd.factorize(invoices["client_id"])
        self.codes = codes.astype(np.int64)
        issue = _days(invoices["issue_date"])
        paid = _days(invoices["paid_date"])
        due = _days(invoices["due_date"])
        self.issue = issue
        stride = np.int64(10**8)
        paid_key = self.codes * stride + paid
        order = np.argsort(paid_key, kind="stable")
        self.paid_keys = paid_key[order]
        issue_key = self.codes * stride + issue
        self.issue_keys = np.sort(issue_key)
        self.query = issue_key
        self.client_start = self.codes * stride
        is_paid = paid < 10**7
        late = (paid > due) & is_paid
        values = {
            "late": late.astype(np.float64),
            "days_to_pay": np.where(is_paid, paid - issue, 0).astype(np.float64),
            "days_late": np.where(is_paid, np.maximum(paid - due, 0), 0).astype(np.float64),
            "disputed": _flag(invoices, "disputed"),
            "electronic": _flag(invoices, "electronic"),
            "amount": invoices["amount_minor"].to_numpy(dtype=np.float64),
        }
        self.cumulative = {
            name: np.concatenate([[0.0], np.cumsum(column[order])])
            for name, column in values.items()
        }

    def before_issue(self) -> tuple[NDArray[np.int64], dict[str, NDArray[np.float64]]]:
        """For each invoice: how many of its client's invoices were paid before it was issued,
        and the sums of their values."""
        start = np.searchsorted(self.paid_keys, self.client_start, side="left")
        stop = np.searchsorted(self.paid_keys, self.query, side="left")
        sums = {name: c[stop] - c[start] for name, c in self.cumulative.items()}
        return stop - start, sums

    def issued_before(self) -> NDArray[np.int64]:
        start = np.searchsorted(self.issue_keys, self.client_start, side="left")
        stop = np.searchsorted(self.issue_keys, self.query, side="left")
        return np.asarray(stop - start, dtype=np.int64)


def risk_features(invoices: pd.DataFrame, priors: RiskPriors) -> pd.DataFrame:
    """One row per invoice (same index), the columns in ``FEATURES``; see the module text."""
    history = _History(invoices)
    count, sums = history.before_issue()
    n = count.astype(np.float64)
    a = SMOOTHING
    amount = invoices["amount_minor"].to_numpy(dtype=np.float64)
    mean_amount = np.where(n > 0, sums["amount"] / np.maximum(n, 1), amount)
    terms = _days(invoices["due_date"]) - history.issue
    features = {
        "past_late_rate": (sums["late"] + a * priors.late_rate) / (n + a),
        "past_invoices_log": np.log1p(n),
        "mean_days_to_pay": (sums["days_to_pay"] + a * priors.days_to_pay) / (n + a),
        "mean_days_late": sums["days_late"] / (n + a),
        "past_dispute_rate": (sums["disputed"] + priors.dispute_rate) / (n + 1),
        "past_electronic_share": (sums["electronic"] + a * priors.electronic_share) / (n + a),
        "electronic": _flag(invoices, "electronic"),
        "amount_log": np.log1p(np.maximum(amount, 0)),
        "amount_relative": amount / np.maximum(mean_amount, 1.0),
        "terms_days": terms.astype(np.float64),
        "open_invoices": (history.issued_before() - count).astype(np.float64),
    }
    return pd.DataFrame(features, index=invoices.index, columns=list(FEATURES))


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
    """Calibrated logistic regression on ``risk_features`` output."""

    def __init__(self, C: float = 1.0, cv: int = 5) -> None:
        self.C = C
        self.cv = cv

    def _pipeline(self) -> Pipeline:
        return Pipeline(
            [
                ("scale", StandardScaler()),
                ("logit", LogisticRegression(C=self.C, max_iter=1000)),
            ]
        )

    def _matrix(self, X: pd.DataFrame) -> NDArray[np.float64]:
        return X.loc[:, list(FEATURES)].to_numpy(dtype=np.float64)

    def fit(self, X: pd.DataFrame, y: Any) -> Self:
        calibrated = CalibratedClassifierCV(self._pipeline(), cv=self.cv, method="sigmoid")
        self.calibrated_ = calibrated.fit(self._matrix(X), np.asarray(y, dtype=bool))
        self.classes_ = self.calibrated_.classes_
        self.n_features_in_ = len(FEATURES)
        return self

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        check_is_fitted(self)
        return np.asarray(self.calibrated_.predict_proba(self._matrix(X)), dtype=np.float64)

    def predict(self, X: pd.DataFrame) -> NDArray[np.bool_]:
        return np.asarray(self.predict_proba(X)[:, 1] >= 0.5)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Log-odds contribution of each feature per invoice, averaged over the fold models."""
        check_is_fitted(self)
        matrix = self._matrix(X)
        total = np.zeros_like(matrix)
        folds = self.calibrated_.calibrated_classifiers_
        for fold in folds:
            pipeline = fold.estimator
            scaled = pipeline.named_steps["scale"].transform(matrix)
            total += scaled * pipeline.named_steps["logit"].coef_[0]
        return pd.DataFrame(total / len(folds), index=X.index, columns=list(FEATURES))

    def reasons(self, X: pd.DataFrame, top: int = 3) -> list[tuple[Reason, ...]]:
        """Per invoice, the ``top`` features that raise its risk most (largest first)."""
        parts = self.contributions(X)
        result = []
        for (_, row), (_, values) in zip(parts.iterrows(), X.iterrows(), strict=True):
            ranked = row.sort_values(ascending=False)
            result.append(
                tuple(
                    Reason(
                        feature=str(name),
                        label=LABELS[str(name)],
                        value=float(values[str(name)]),
                        contribution=float(share),
                    )
                    for name, share in ranked.head(top).items()
                    if share > 0
                )
            )
        return result
