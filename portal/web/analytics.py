"""Dashboards: overview, forecasts, cohorts, seasonality and late-payment risk."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.extensions import db
from portal.jobs import enqueue
from portal.jobs.analytics import KIND, train_risk_model
from portal.models import Job, Role
from portal.services import analytics_data, jobs, risk_scores
from portal.web.access import current_actor, require_role
from portal.web.htmx import hx_redirect, is_htmx, render

bp = Blueprint("analytics", __name__, url_prefix="/app/analytics")

# htmx stops polling when it receives this status.
STOP_POLLING = 286


@bp.get("/")
@require_role(Role.VIEWER)
def overview() -> ResponseReturnValue:
    business = current_actor().business
    return render(
        "analytics/overview.html",
        data=analytics_data.overview(business),
        riskiest=risk_scores.riskiest(business, 5),
    )


@bp.get("/riskiest")
@require_role(Role.VIEWER)
def riskiest_panel() -> ResponseReturnValue:
    """The overview page's panel, loaded after the page."""
    return render_template(
        "analytics/_riskiest_panel.html", riskiest=risk_scores.riskiest(current_actor().business, 5)
    )


@bp.get("/forecast")
@require_role(Role.VIEWER)
def forecast() -> ResponseReturnValue:
    return render(
        "analytics/forecast.html", data=analytics_data.forecasts(current_actor().business)
    )


@bp.get("/cohorts")
@require_role(Role.VIEWER)
def cohorts() -> ResponseReturnValue:
    return render("analytics/cohorts.html", data=analytics_data.cohorts(current_actor().business))


@bp.get("/seasonality")
@require_role(Role.VIEWER)
def seasonality() -> ResponseReturnValue:
    return render(
        "analytics/seasonality.html", data=analytics_data.seasonality(current_actor().business)
    )


@bp.get("/risk")
@require_role(Role.VIEWER)
def risk() -> ResponseReturnValue:
    actor = current_actor()
    state = risk_scores.model_state(actor.business)
    training = None
    if state.model is not None and not state.usable:
        # A model from another scikit-learn version is refused: retrain it, once.
        training = _start_training(f"retrain-{state.model.id}")
    return render(
        "analytics/risk.html",
        state=state,
        training=training,
        riskiest=risk_scores.riskiest(actor.business, 25) if state.usable else [],
        can_train=actor.role.at_least(Role.ACCOUNTANT),
    )


def _start_training(key: str | None = None) -> Job:
    actor = current_actor()
    if key is not None:
        earlier = db.session.scalar(
            select(Job)
            .where(Job.business_id == actor.business.id, Job.kind == KIND)
            .order_by(Job.id.desc())
            .limit(1)
        )
        if earlier is not None and earlier.params.get("key") == key:
            return earlier
    job = jobs.start_job(actor, KIND, {"key": key or ""}, total=5)
    public_id = job.public_id
    suffix = key or public_id
    enqueue(
        train_risk_model,
        job.id,
        queue="analytics",
        job_id=f"risk-model-{actor.business.public_id}-{suffix}",
    )
    return jobs.get_job(actor, public_id)


@bp.post("/risk/train")
@require_role(Role.ACCOUNTANT)
def train() -> ResponseReturnValue:
    job = _start_training()
    target = url_for("analytics.training", public_id=job.public_id)
    return hx_redirect(target) if is_htmx() else redirect(target, 303)


@bp.get("/risk/training/<public_id>")
@require_role(Role.VIEWER)
def training(public_id: str) -> ResponseReturnValue:
    job = jobs.get_job(current_actor(), public_id)
    return render("analytics/training.html", job=job)


@bp.get("/risk/training/<public_id>/status")
@require_role(Role.VIEWER)
def training_status(public_id: str) -> ResponseReturnValue:
    job = jobs.get_job(current_actor(), public_id)
    response = make_response(render_template("analytics/_training.html", job=job))
    if job.status in {"done", "failed"}:
        response.status_code = STOP_POLLING
    return response
