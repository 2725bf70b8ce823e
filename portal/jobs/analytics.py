"""Analytics work on the ``analytics`` queue: training the late-payment risk model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from portal.extensions import db
from portal.jobs.context import with_app
from portal.models import Business, Job
from portal.services import jobs, risk_scores
from portal.services.pricing import business_today

KIND = "risk-model"
STEPS = 5


@with_app
def train_risk_model(job_id: int) -> int | None:
    """Train the business's model with progress in the job row; returns the model's id.

    A job already done does nothing again.
    """
    job = db.session.get(Job, job_id)
    if job is None or job.status in {"done", "failed"}:
        return None
    business = db.session.get(Business, job.business_id)
    if business is None:
        return None
    jobs.advance(job_id, 0, STEPS)
    try:
        stored = risk_scores.train_model(
            business, progress=lambda step: jobs.advance(job_id, step - 1)
        )
    except risk_scores.TooLittleHistory as exc:
        jobs.fail(job_id, str(exc))
        return None
    except Exception as exc:
        jobs.fail(job_id, f"{type(exc).__name__}: {exc}")
        raise
    model_id = stored.id
    jobs.advance(job_id, STEPS)
    jobs.finish(job_id, "")
    return model_id


def retrain_all() -> dict[str, Any]:
    """Every business whose model is missing, from before today, or from another
    scikit-learn version; run again the same day, it does nothing."""
    trained, skipped = 0, 0
    for business_id in risk_scores.businesses_to_retrain(datetime.now(UTC).date()):
        business = db.session.get(Business, business_id)
        if business is None:
            continue
        try:
            risk_scores.train_model(business, business_today(business))
        except risk_scores.TooLittleHistory:
            db.session.rollback()
            skipped += 1
            continue
        trained += 1
    return {"trained": trained, "too_little_history": skipped}
