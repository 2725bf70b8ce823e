"""Late-payment risk: a model per business trained on its own invoices, and the scores it gives
to open invoices, with their top reasons.

A model is stored with ``analytics.model_store`` (skops, with the scikit-learn version it was
fitted under), and the priors its features were computed with in its metrics. One saved under
another version, or by an earlier Invoice Lite with other features, is refused: the pages say
the model must be retrained, and a retrain is started.

Training scores every open invoice. An invoice issued (or reopened) after that has no stored
score: the lists score it with the stored model when they are shown, and keep that score in the
dashboards' cache (``analytics_data.cached``) until the business's data or its model change.
Nothing is written on the way, so a GET stays free of side effects; the next training stores it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import brier_score_loss, roc_auc_score
from sqlalchemy import delete, exists, func, insert, select

from analytics import model_store
from analytics.risk import (
    CANDIDATES,
    LatePaymentModel,
    Reason,
    RiskPriors,
    baseline_score,
    risk_features,
)
from portal.extensions import db
from portal.models import (
    Business,
    Client,
    Dispute,
    Document,
    DocumentKind,
    PaymentAllocation,
    RiskModel,
    RiskScore,
)
from portal.services.analytics_data import OPEN, cached, paid_dates, to_base_minor
from portal.services.pricing import business_today

# Fewer labelled invoices than this, or fewer of either kind, and there is nothing to learn.
MIN_LABELLED = 40
MIN_PER_CLASS = 10
HOLDOUT_SHARE = 0.2
TOP_REASONS = 3
RETRAIN_MESSAGE = "The model must be retrained: it was saved under another scikit-learn version."
OUTDATED_MESSAGE = "The model must be retrained: it was made by an earlier Invoice Lite."


class TooLittleHistory(ValueError):
    """Not enough paid or overdue invoices to learn from; the message is for people."""


@dataclass(frozen=True, slots=True)
class ModelState:
    """The business's latest model: ``usable`` when it loads under this scikit-learn."""

    model: RiskModel | None
    usable: bool
    message: str


def invoices_frame(business: Business, client_ids: Collection[int] | None = None) -> pd.DataFrame:
    """One row per issued invoice (of these clients only, if given), in the shape
    ``analytics.risk`` reads, plus ``id`` and ``status``. Amounts in base minor units at the
    invoice's own rate."""
    paid = paid_dates()
    disputed = exists(
        select(Dispute.id)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Dispute.payment_id)
        .where(PaymentAllocation.document_id == Document.id)
    )
    stmt = (
        select(
            Document.id,
            Document.client_id,
            Document.status,
            Document.currency,
            Document.issue_date,
            Document.due_date,
            Document.total_minor * func.coalesce(Document.exchange_rate, 1),
            paid.c.paid_on,
            Document.sent_at.is_not(None),
            disputed,
        )
        .outerjoin(paid, paid.c.document_id == Document.id)
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_((*OPEN, "paid", "written_off")),
            Document.issue_date.is_not(None),
            Document.due_date.is_not(None),
        )
        .order_by(Document.issue_date, Document.id)
    )
    if client_ids is not None:
        stmt = stmt.where(Document.client_id.in_(sorted(client_ids)))
    rows = db.session.execute(stmt).all()
    base = business.base_currency
    frame = pd.DataFrame(
        {
            "id": np.array([r[0] for r in rows], dtype=np.int64),
            "client_id": np.array([r[1] for r in rows], dtype=np.int64),
            "status": [r[2] for r in rows],
            "issue_date": pd.to_datetime([r[4] for r in rows]),
            "due_date": pd.to_datetime([r[5] for r in rows]),
            "amount_minor": np.array(
                [to_base_minor(r[6], r[3], base) for r in rows], dtype=np.int64
            ),
            # Only a settled invoice has a paid date: a part payment leaves it open.
            "paid_date": pd.to_datetime(
                pd.Series([r[7] if r[2] == "paid" else None for r in rows], dtype=object)
            ),
            "electronic": np.array([bool(r[8]) for r in rows], dtype=bool),
            "disputed": np.array([bool(r[9]) for r in rows], dtype=bool),
        }
    )
    return frame


def labels(frame: pd.DataFrame, today: date) -> pd.Series:
    """1.0 late, 0.0 on time, NaN not known yet (open and not yet due)."""
    now = pd.Timestamp(today)
    paid = frame["paid_date"].notna()
    overdue = (frame["status"].isin(OPEN) & (frame["due_date"] < now)) | (
        frame["status"] == "written_off"
    )
    values = np.where(
        paid, (frame["paid_date"] > frame["due_date"]).astype(float), np.where(overdue, 1.0, np.nan)
    )
    return pd.Series(values, index=frame.index)


def _check(y: pd.Series) -> None:
    late = int((y == 1).sum())
    on_time = int((y == 0).sum())
    if late + on_time < MIN_LABELLED or min(late, on_time) < MIN_PER_CLASS:
        raise TooLittleHistory(
            f"The risk model needs at least {MIN_LABELLED} settled or overdue invoices, "
            f"{MIN_PER_CLASS} of them paid late and {MIN_PER_CLASS} on time; there are "
            f"{late} late and {on_time} on time so far."
        )


def _evaluate(features: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    """Fit on the older invoices, score the newest ``HOLDOUT_SHARE`` (the frame is in issue
    order) against the baseline; empty when the held-out part lacks either kind."""
    cut = int(len(y) * (1 - HOLDOUT_SHARE))
    train_y, test_y = y.iloc[:cut], y.iloc[cut:]
    if min((train_y == 1).sum(), (train_y == 0).sum()) < 5 or test_y.nunique() < 2:
        return {}
    model = LatePaymentModel().fit(features.iloc[:cut], train_y.to_numpy(dtype=bool))
    scores = model.predict_proba(features.iloc[cut:])[:, 1]
    baseline = baseline_score(features.iloc[cut:])
    truth = test_y.to_numpy(dtype=bool)
    return {
        "holdout": len(test_y),
        "auc": round(float(roc_auc_score(truth, scores)), 4),
        "auc_baseline": round(float(roc_auc_score(truth, baseline)), 4),
        "brier": round(float(brier_score_loss(truth, scores)), 4),
        "brier_baseline": round(float(brier_score_loss(truth, baseline)), 4),
    }


def train_model(
    business: Business,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> RiskModel:
    """Fit, evaluate, store the model and score the open invoices: one transaction.

    ``progress`` hears the step number (1..5) as each step starts.
    """
    step = progress or (lambda _: None)
    today = today or business_today(business)
    step(1)
    frame = invoices_frame(business)
    step(2)
    priors = RiskPriors.from_history(frame, today)
    features = risk_features(frame, priors)
    y = labels(frame, today)
    known = y.notna().to_numpy()
    _check(y[known])
    step(3)
    metrics = _evaluate(features[known], y[known])
    step(4)
    model = LatePaymentModel().fit(features[known], y[known].to_numpy(dtype=bool))
    metrics.update(
        {
            "trained_on": int(known.sum()),
            "late": int((y == 1).sum()),
            # In full: the invoices the model scores later need the very same priors.
            "priors": asdict(priors),
        }
    )
    stored = RiskModel(
        business_id=business.id,
        sklearn_version=sklearn.__version__,
        metrics=metrics,
        data=model_store.dumps(model),
    )
    # Only the newest model is kept; the scores of the old one go with it.
    db.session.execute(delete(RiskScore).where(RiskScore.business_id == business.id))
    db.session.execute(delete(RiskModel).where(RiskModel.business_id == business.id))
    db.session.add(stored)
    db.session.flush()
    step(5)
    _store_scores(business, stored, model, frame, features)
    db.session.commit()
    return stored


def _reason_dicts(why: tuple[Reason, ...]) -> list[dict[str, Any]]:
    return [
        {"feature": r.feature, "label": r.label, "contribution": round(r.contribution, 4)}
        for r in why
    ]


def _store_scores(
    business: Business,
    stored: RiskModel,
    model: LatePaymentModel,
    frame: pd.DataFrame,
    features: pd.DataFrame,
) -> int:
    is_open = frame["status"].isin(OPEN).to_numpy()
    if not is_open.any():
        return 0
    rows = features[is_open]
    probabilities = model.predict_proba(rows)[:, 1]
    reasons = model.reasons(rows, top=TOP_REASONS)
    now = datetime.now(UTC)
    values = [
        {
            "document_id": int(doc_id),
            "business_id": business.id,
            "model_id": stored.id,
            "probability": float(p),
            "reasons": _reason_dicts(why),
            "scored_at": now,
        }
        for doc_id, p, why in zip(frame["id"][is_open], probabilities, reasons, strict=True)
    ]
    for start in range(0, len(values), 1000):
        db.session.execute(insert(RiskScore), values[start : start + 1000])
    return len(values)


def _stored_priors(stored: RiskModel) -> RiskPriors | None:
    try:
        return RiskPriors(**stored.metrics["priors"])
    except (KeyError, TypeError):
        return None


def _fits_this_code(model: LatePaymentModel) -> bool:
    """A model fitted by an earlier Invoice Lite may ask for features no longer computed."""
    features = getattr(model, "features_", None)
    return isinstance(features, tuple) and set(features) <= set(CANDIDATES)


Score = tuple[float, list[dict[str, Any]]]


def _unscored(business: Business) -> dict[int, Score]:
    """Open invoices without a stored score, scored now with the stored model (cached)."""
    stored = latest_model(business)
    if stored is None or stored.sklearn_version != sklearn.__version__:
        return {}
    return cached(
        business.id, "risk-unscored", lambda: _score_unscored(business, stored), stored.id
    )


def _score_unscored(business: Business, stored: RiskModel) -> dict[int, Score]:
    priors = _stored_priors(stored)
    if priors is None:
        return {}
    scored = select(RiskScore.document_id).where(RiskScore.document_id == Document.id)
    missing = db.session.execute(
        select(Document.id, Document.client_id).where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_(OPEN),
            Document.issue_date.is_not(None),
            Document.due_date.is_not(None),
            ~exists(scored),
        )
    ).all()
    if not missing:
        return {}
    try:
        model = model_store.loads(stored.data)
    except model_store.ModelStoreError:
        return {}
    if not _fits_this_code(model):
        return {}
    # A client's features read only that client's invoices: the others need not be loaded.
    frame = invoices_frame(business, {int(client) for _, client in missing})
    rows = frame["id"].isin([int(doc) for doc, _ in missing]).to_numpy()
    features = risk_features(frame, priors)[rows]
    probabilities = model.predict_proba(features)[:, 1]
    reasons = model.reasons(features, top=TOP_REASONS)
    return {
        int(doc_id): (float(p), _reason_dicts(why))
        for doc_id, p, why in zip(frame["id"][rows], probabilities, reasons, strict=True)
    }


def latest_model(business: Business) -> RiskModel | None:
    return db.session.scalar(
        select(RiskModel)
        .where(RiskModel.business_id == business.id)
        .order_by(RiskModel.id.desc())
        .limit(1)
    )


def model_state(business: Business) -> ModelState:
    stored = latest_model(business)
    if stored is None:
        return ModelState(None, False, "No risk model yet: train one from your invoice history.")
    try:
        model = model_store.loads(stored.data)
    except model_store.ModelVersionError:
        return ModelState(stored, False, RETRAIN_MESSAGE)
    except model_store.ModelStoreError as exc:
        return ModelState(stored, False, f"The stored model cannot be read ({exc}): retrain it.")
    if not _fits_this_code(model) or _stored_priors(stored) is None:
        return ModelState(stored, False, OUTDATED_MESSAGE)
    return ModelState(stored, True, "")


def _current() -> Any:
    """Scores from a model fitted under this scikit-learn version only."""
    return RiskModel.sklearn_version == sklearn.__version__


def scores_for(business: Business, document_ids: list[int]) -> dict[int, float]:
    """Probabilities of these invoices (those with a usable score): stored, or for an open
    invoice the model has not scored yet, scored now."""
    if not document_ids:
        return {}
    fresh = _unscored(business)
    found = {d: fresh[d][0] for d in document_ids if d in fresh}
    stmt = (
        select(RiskScore.document_id, RiskScore.probability)
        .join(RiskModel, RiskModel.id == RiskScore.model_id)
        .where(
            RiskScore.business_id == business.id,
            RiskScore.document_id.in_(document_ids),
            _current(),
        )
    )
    return found | {int(d): float(p) for d, p in db.session.execute(stmt)}


@dataclass(frozen=True, slots=True)
class RiskyInvoice:
    public_id: str
    number: str
    client: str
    due_date: date | None
    balance_minor: int
    currency: str
    probability: float
    reasons: list[dict[str, Any]]


def riskiest(business: Business, limit: int = 10) -> list[RiskyInvoice]:
    """Open invoices with the highest risk, with their reasons: the stored scores, and those
    of open invoices the model has not scored yet."""
    stmt = (
        select(Document, Client.name, RiskScore.probability, RiskScore.reasons)
        .join(RiskScore, RiskScore.document_id == Document.id)
        .join(RiskModel, RiskModel.id == RiskScore.model_id)
        .join(Client, Client.id == Document.client_id)
        .where(
            RiskScore.business_id == business.id,
            Document.status.in_(OPEN),
            _current(),
        )
        .order_by(RiskScore.probability.desc(), Document.id)
        .limit(limit)
    )
    found = [
        (doc, name, float(p), list(why or [])) for doc, name, p, why in db.session.execute(stmt)
    ]
    fresh = _unscored(business)
    if fresh:
        unscored = (
            select(Document, Client.name)
            .join(Client, Client.id == Document.client_id)
            .where(
                Document.business_id == business.id,
                Document.id.in_(sorted(fresh)),
                Document.status.in_(OPEN),
            )
        )
        found += [
            (doc, name, fresh[doc.id][0], fresh[doc.id][1])
            for doc, name in db.session.execute(unscored)
        ]
        found.sort(key=lambda row: (-row[2], row[0].id))
    return [
        RiskyInvoice(
            public_id=doc.public_id,
            number=doc.number or "",
            client=name,
            due_date=doc.due_date,
            balance_minor=doc.balance_minor,
            currency=doc.currency,
            probability=p,
            reasons=why,
        )
        for doc, name, p, why in found[:limit]
    ]


def businesses_to_retrain(today: date) -> list[int]:
    """Businesses with invoices whose model is missing, older than today, or unusable."""
    with_invoices = select(Document.business_id).where(Document.kind == DocumentKind.INVOICE)
    fresh = select(RiskModel.business_id).where(
        RiskModel.trained_at >= datetime.combine(today, datetime.min.time(), tzinfo=UTC),
        _current(),
    )
    stmt = (
        select(Business.id)
        .where(Business.id.in_(with_invoices), Business.id.not_in(fresh))
        .order_by(Business.id)
    )
    return [int(i) for i in db.session.scalars(stmt)]
