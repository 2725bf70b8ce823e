"""The overview page."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.models import Role
from portal.services import overview
from portal.web.access import current_actor, require_role
from portal.web.htmx import render

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def root() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    return redirect(url_for("auth.login"))


@bp.get("/app/")
@require_role(Role.VIEWER)
def home() -> ResponseReturnValue:
    return render("dashboard/home.html", counts=overview.counts(current_actor()))
