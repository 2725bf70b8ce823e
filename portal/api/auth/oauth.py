"""Access tokens from our OAuth 2.0 server, sent as ``Authorization: Bearer ilat_…``."""

from __future__ import annotations

from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2 import OAuth2Error
from flask import Request

from portal.api.principal import ApiPrincipal, Unauthorized, authenticator
from portal.services import oauth


@authenticator
def access_token(request: Request) -> ApiPrincipal | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer " or not header[7:].strip().startswith(oauth.ACCESS_PREFIX):
        return None
    try:
        token = oauth.resource_protector.validate_request(
            scopes=None, request=FlaskJsonRequest(request)
        )
    except OAuth2Error as error:
        raise Unauthorized(
            "The access token is unknown, expired or revoked.", code="invalid_token"
        ) from error
    try:
        return oauth.principal_of(token)
    except oauth.TokenRefused as refused:
        raise Unauthorized(refused.detail, code="invalid_token") from refused
