"""Who is logged in, in which business, and what their role lets them open."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from portal.extensions import db, login_manager
from portal.models import Business, Membership, Role, User
from portal.services.actors import Actor
from portal.services.auth import memberships_of
from portal.web.htmx import hx_redirect

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

BUSINESS_KEY = "business"


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(public_id: str) -> User | None:
        return db.session.scalar(select(User).where(User.public_id == public_id))

    @login_manager.unauthorized_handler
    def unauthorized() -> ResponseReturnValue:
        target = url_for("auth.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request"):
            return hx_redirect(target)
        flash(str(login_manager.login_message), login_manager.login_message_category)
        return redirect(target)

    @app.before_request
    def load_actor() -> None:
        g.actor = None
        g.memberships = []
        if not current_user.is_authenticated:
            return
        user = cast(User, current_user._get_current_object())
        memberships = memberships_of(user)
        g.memberships = memberships
        if not memberships:
            return
        wanted = session.get(BUSINESS_KEY)
        chosen = next((m for m in memberships if m.business.public_id == wanted), memberships[0])
        if wanted != chosen.business.public_id:
            session[BUSINESS_KEY] = chosen.business.public_id
        g.actor = Actor(user=user, business=chosen.business, role=chosen.role)


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        abort(403)
    return cast(Actor, actor)


def require_role(role: Role) -> Callable[[F], F]:
    """Log-in, a membership in the current business, and at least ``role``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if not current_user.is_authenticated:
                return cast(ResponseReturnValue, login_manager.unauthorized())
            actor = g.get("actor")
            if actor is None:
                return redirect(url_for("auth.no_business"))
            if not actor.role.at_least(role):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def switch_business(public_id: str) -> Business | None:
    for membership in cast(list[Membership], g.get("memberships", [])):
        if membership.business.public_id == public_id:
            session[BUSINESS_KEY] = public_id
            return membership.business
    return None
