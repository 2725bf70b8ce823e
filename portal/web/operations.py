"""The operator's pages: is everything running (status), what is stuck (outbox), and a probe."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask.typing import ResponseReturnValue

from portal.models import Role
from portal.services import operations
from portal.web.access import current_actor, require_role
from portal.web.htmx import is_htmx, render

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """For load balancers and monitors: 503 when the database or Redis is down or the
    scheduler stalled. Public, and says nothing about any business."""
    health = operations.health()
    response = jsonify(health.as_json())
    response.status_code = 200 if health.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/app/status")
@require_role(Role.ADMIN)
def status() -> ResponseReturnValue:
    actor = current_actor()
    # Looking is also a way of noticing: a stalled scheduler is announced (once per stall).
    operations.alert_if_scheduler_stalled()
    snapshot = operations.status_snapshot(actor.business)
    return render("operations/status.html", status=snapshot, periods=operations.TASK_PERIODS)


@bp.get("/app/outbox")
@require_role(Role.ADMIN)
def outbox() -> ResponseReturnValue:
    messages = operations.problem_messages(current_actor().business)
    return render("operations/outbox.html", messages=messages)


@bp.post("/app/outbox/<public_id>/retry")
@require_role(Role.ADMIN)
def retry(public_id: str) -> ResponseReturnValue:
    message = operations.get_message(public_id, current_actor().business)  # 404 if foreign
    message = operations.retry_message(message)
    if not is_htmx():
        return redirect(url_for("operations.outbox"), 303)
    return render("operations/_message.html", message=message)
