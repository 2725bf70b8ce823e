"""The OAuth 2.0 endpoints: the consent screen, and the token, revocation and introspection
endpoints apps call (these authenticate the app as RFC 6749, 7009 and 7662 say, not by CSRF)."""

from __future__ import annotations

import time
from typing import cast
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Blueprint, Flask, Response, g, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.api import access_log
from portal.api.principal import SCOPES
from portal.extensions import csrf, db
from portal.models import Business, OAuthClient, Role
from portal.services import oauth
from portal.web.access import current_actor, require_role
from portal.web.security import csp_with_form_targets

bp = Blueprint("oauth", __name__, url_prefix="/oauth")
bp.record_once(lambda state: oauth.init_app(cast(Flask, state.app)))


def _approval() -> oauth.Approval:
    actor = current_actor()
    return oauth.Approval(user=actor.user, business=actor.business, role=actor.role)


def _refused(error: OAuth2Error) -> ResponseReturnValue:
    """An error the app should hear of goes back to its redirect URI; one about the app itself
    (unknown, or a redirect URI it did not register) is shown here, never redirected."""
    if error.redirect_uri:
        return oauth.server.handle_error_response(None, error)
    return render_template(
        "oauth/error.html", error=error.error, description=error.get_error_description()
    ), 400


@bp.get("/authorize")
@require_role(Role.VIEWER)
def authorize() -> ResponseReturnValue:
    approval = _approval()
    try:
        grant = oauth.server.get_consent_grant(end_user=approval)
    except OAuth2Error as error:
        return _refused(error)
    app: OAuthClient = grant.client.row
    granted, withheld = oauth.granted_scopes(grant.request.scope or "", approval.role)
    response = Response(
        render_template(
            "oauth/authorize.html",
            app=app,
            owner=db.session.get_one(Business, app.business_id),
            granted=[(s, SCOPES[s][0]) for s in granted],
            withheld=[(s, SCOPES[s][0]) for s in withheld],
            redirect_host=urlsplit(grant.redirect_uri).netloc,
        )
    )
    # The decision's answer leads to the app: the form must be allowed to go there.
    target = urlsplit(grant.redirect_uri)
    response.headers["Content-Security-Policy"] = csp_with_form_targets(
        [f"{target.scheme}://{target.netloc}"]
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/authorize")
@require_role(Role.VIEWER)
def decide() -> ResponseReturnValue:
    approval = _approval()
    try:
        grant = oauth.server.get_consent_grant(end_user=approval)
    except OAuth2Error as error:
        return _refused(error)
    granted, _ = oauth.granted_scopes(grant.request.scope or "", approval.role)
    approved = request.form.get("decision") == "approve" and bool(granted)
    response = oauth.server.create_authorization_response(
        grant_user=approval if approved else None, grant=grant
    )
    db.session.commit()
    return response


def _calling_app() -> OAuthClient | None:
    client_id, _ = extract_basic_authorization(request.headers)
    client_id = client_id or request.form.get("client_id")
    if not client_id:
        return None
    return db.session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))


def _answer(response: Response) -> Response:
    """Commit what the endpoint did, and log the call with the API's."""
    db.session.commit()
    app = _calling_app()
    access_log.record(
        status=response.status_code,
        business_id=app.business_id if app else None,
        oauth_client_id=app.id if app else None,
    )
    return response


@bp.before_request
def start_clock() -> None:
    g.api_started = time.perf_counter()


@bp.post("/token")
@csrf.exempt
def token() -> ResponseReturnValue:
    return _answer(oauth.server.create_token_response())


@bp.post("/revoke")
@csrf.exempt
def revoke() -> ResponseReturnValue:
    return _answer(oauth.server.create_endpoint_response("revocation"))


@bp.post("/introspect")
@csrf.exempt
def introspect() -> ResponseReturnValue:
    return _answer(oauth.server.create_endpoint_response("introspection"))
