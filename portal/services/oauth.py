"""The OAuth 2.0 server: apps a business registers, and the tokens they get.

Authlib's ``AuthorizationServer`` runs the flows (authorization code with PKCE, client
credentials, rotating refresh tokens, revocation per RFC 7009, introspection per RFC 7662) on
our models through small adapters; ``resource_protector`` checks bearer tokens on API calls.
Codes and tokens are kept only as sha256 hashes. A token acts as its member (the one who
approved it, or for client credentials the one who registered the app) with that member's
current role, within its scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidRequestError,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, current_app
from sqlalchemy import select, update

from portal.api.principal import SCOPES, ApiPrincipal, grantable
from portal.extensions import db
from portal.models import (
    Business,
    Membership,
    OAuthAuthorizationCode,
    OAuthClient,
    OAuthToken,
    Role,
    User,
)
from portal.models.base import utcnow
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound

ACCESS_PREFIX = "ilat_"
REFRESH_PREFIX = "ilrt_"
GRANT_TYPES = {
    "authorization_code": "Authorization code (people approve the app)",
    "refresh_token": "Refresh tokens",
    "client_credentials": "Client credentials (the app acts as you, no consent screen)",
}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- Registering apps ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppData:
    name: str
    redirect_uris: tuple[str, ...]
    confidential: bool
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]


def register_app(actor: Actor, data: AppData) -> tuple[OAuthClient, str]:
    """A new app and its client secret (empty for a public app), which is never shown again."""
    actor.require(Role.ADMIN)
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = "Name the app as people will see it on the consent screen."
    elif len(name) > 80:
        errors["name"] = "Keep the name under 80 characters."
    uris = tuple(dict.fromkeys(u.strip() for u in data.redirect_uris if u.strip()))
    if bad := [u for u in uris if not redirect_uri_allowed(u)]:
        errors["redirect_uris"] = (
            f"Not allowed: {', '.join(bad)}. Use https, or http on 127.0.0.1 or localhost only, "
            "with no #fragment."
        )
    kinds = tuple(dict.fromkeys(data.grant_types))
    if not kinds:
        errors["grant_types"] = "Choose at least one grant type."
    elif unknown := [k for k in kinds if k not in GRANT_TYPES]:
        errors["grant_types"] = f"Unknown grant type: {', '.join(unknown)}."
    elif "client_credentials" in kinds and not data.confidential:
        errors["grant_types"] = "Only a confidential app, which keeps a secret, may use them."
    elif "refresh_token" in kinds and "authorization_code" not in kinds:
        errors["grant_types"] = "Refresh tokens come with the authorization code grant."
    if "authorization_code" in kinds and not uris and "redirect_uris" not in errors:
        errors["redirect_uris"] = "The authorization code grant needs a redirect URI."
    scopes = tuple(dict.fromkeys(data.scopes))
    allowed = set(grantable(actor.role))
    if not scopes:
        errors["scopes"] = "Choose at least one scope."
    elif unknown := [s for s in scopes if s not in SCOPES]:
        errors["scopes"] = f"Unknown scope: {', '.join(unknown)}."
    elif beyond := [s for s in scopes if s not in allowed]:
        errors["scopes"] = f"Your role cannot grant: {', '.join(beyond)}."
    if errors:
        raise InvalidInput(errors)
    secret = secrets.token_urlsafe(32) if data.confidential else ""
    app = OAuthClient(
        business_id=actor.business.id,
        created_by_id=actor.user.id,
        client_id=secrets.token_urlsafe(24),
        client_secret_hash=digest(secret) if secret else "",
        name=name,
        redirect_uris=list(uris),
        grant_types=list(kinds),
        scopes=list(scopes),
        token_endpoint_auth_method="client_secret_basic" if data.confidential else "none",
    )
    db.session.add(app)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="oauth_app.registered",
        entity_type="oauth_app",
        entity_id=app.public_id,
        after={"name": name, "client_id": app.client_id, "scopes": list(scopes)},
    )
    db.session.commit()
    return app, secret


def redirect_uri_allowed(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.fragment or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def revoke_app(actor: Actor, public_id: str) -> OAuthClient:
    """The app stops working at once, with every token it holds."""
    actor.require(Role.ADMIN)
    app = get_app(actor, public_id)
    if app.revoked_at is None:
        now = utcnow()
        app.revoked_at = now
        db.session.execute(
            update(OAuthToken)
            .where(OAuthToken.client_id == app.id, OAuthToken.access_token_revoked_at.is_(None))
            .values(access_token_revoked_at=now)
        )
        db.session.execute(
            update(OAuthToken)
            .where(OAuthToken.client_id == app.id, OAuthToken.refresh_token_revoked_at.is_(None))
            .values(refresh_token_revoked_at=now)
        )
        audit.record(
            business=actor.business,
            actor=actor.user,
            action="oauth_app.revoked",
            entity_type="oauth_app",
            entity_id=app.public_id,
        )
        db.session.commit()
    return app


def get_app(actor: Actor, public_id: str) -> OAuthClient:
    app = db.session.scalar(
        select(OAuthClient).where(
            OAuthClient.public_id == public_id, OAuthClient.business_id == actor.business.id
        )
    )
    if app is None:
        raise NotFound("No such app.")
    return app


def apps(actor: Actor) -> list[OAuthClient]:
    return list(
        db.session.scalars(
            select(OAuthClient)
            .where(OAuthClient.business_id == actor.business.id)
            .order_by(OAuthClient.created_at.desc(), OAuthClient.id.desc())
        )
    )


def is_public(app: OAuthClient) -> bool:
    return not app.client_secret_hash


# --- Authlib's view of our rows ----------------------------------------------------------------


class Client(ClientMixin):
    def __init__(self, row: OAuthClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        # With several registered, the request must name one.
        return self.row.redirect_uris[0] if len(self.row.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        if not scope:
            return " ".join(self.row.scopes)
        asked = list(dict.fromkeys(scope_to_list(scope)))
        if any(s not in self.row.scopes for s in asked):
            return None
        return " ".join(asked)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.client_secret_hash
        return bool(stored) and hmac.compare_digest(stored, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if is_public(self.row):
            # A public app has no secret: it names itself, and may not introspect.
            return method == "none" and endpoint != "introspection"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.row.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types


class Code(AuthorizationCodeMixin):
    def __init__(self, row: OAuthAuthorizationCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method or None

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


class Token(TokenMixin):
    """An access token, or (``refresh``) the refresh token of the same row."""

    def __init__(self, row: OAuthToken, *, refresh: bool = False) -> None:
        self.row = row
        self.refresh = refresh

    def check_client(self, client: Client) -> bool:
        return self.row.client_id == client.row.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return self.row.expires_in

    def expires_at(self) -> datetime:
        if self.refresh:
            days = current_app.config["OAUTH_REFRESH_TOKEN_DAYS"]
            return self.row.issued_at + timedelta(days=days)
        return self.row.issued_at + timedelta(seconds=self.row.expires_in)

    def is_expired(self) -> bool:
        return self.expires_at() <= utcnow()

    def is_revoked(self) -> bool:
        if self.refresh:
            return self.row.refresh_token_revoked_at is not None
        return self.row.access_token_revoked_at is not None

    def get_user(self) -> User | None:
        return db.session.get(User, self.row.user_id) if self.row.user_id else None

    def get_client(self) -> Client:
        return Client(db.session.get_one(OAuthClient, self.row.client_id))


@dataclass(frozen=True, slots=True)
class Approval:
    """The member who approves an app on the consent screen, in the business they work in."""

    user: User
    business: Business
    role: Role


def granted_scopes(asked: str, role: Role) -> tuple[list[str], list[str]]:
    """The scopes asked that ``role`` may grant, and those it may not."""
    allowed = set(grantable(role))
    names = scope_to_list(asked) or []
    return [s for s in names if s in allowed], [s for s in names if s not in allowed]


def query_client(client_id: str) -> Client | None:
    row = db.session.scalar(
        select(OAuthClient).where(
            OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_(None)
        )
    )
    return Client(row) if row is not None else None


def _find_token(value: str, hint: str | None) -> Token | None:
    order = ("refresh_token", "access_token") if hint == "refresh_token" else None
    for kind in order or ("access_token", "refresh_token"):
        column = (
            OAuthToken.access_token_hash
            if kind == "access_token"
            else OAuthToken.refresh_token_hash
        )
        row = db.session.scalar(select(OAuthToken).where(column == digest(value)))
        if row is not None:
            return Token(row, refresh=kind == "refresh_token")
    return None


def save_token(token: dict[str, Any], request: OAuth2Request) -> None:
    client: Client = request.client
    code: Code | None = getattr(request, "authorization_code", None)
    old: Token | None = getattr(request, "refresh_token", None)
    user_id: int | None
    if code is not None:
        business_id, user_id = code.row.business_id, code.row.user_id
    elif old is not None:
        business_id, user_id = old.row.business_id, old.row.user_id
    else:  # client credentials: the app's own business, as the member who registered it
        business_id, user_id = client.row.business_id, None
    refresh = token.get("refresh_token")
    db.session.add(
        OAuthToken(
            client_id=client.row.id,
            user_id=user_id,
            business_id=business_id,
            access_token_hash=digest(token["access_token"]),
            refresh_token_hash=digest(refresh) if refresh else None,
            scope=token.get("scope", ""),
            issued_at=utcnow(),
            expires_in=int(token.get("expires_in", 0)),
        )
    )


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only; a public app must use it."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - Authlib's class attribute
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        request: OAuth2Request = grant.request
        challenge = request.payload.data.get("code_challenge")
        method = request.payload.data.get("code_challenge_method")
        if is_public(grant.request.client.row) and not challenge:
            raise InvalidRequestError("A public client must send a PKCE 'code_challenge'.")
        if challenge and method != "S256":
            raise InvalidRequestError("Send 'code_challenge_method=S256'.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012 - Authlib's class attribute
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        approval: Approval = request.user
        granted, _ = granted_scopes(request.scope or "", approval.role)
        challenge = request.payload.data.get("code_challenge") or ""
        db.session.add(
            OAuthAuthorizationCode(
                code_hash=digest(code),
                client_id=request.client.row.id,
                user_id=approval.user.id,
                business_id=approval.business.id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=" ".join(granted),
                code_challenge=challenge,
                code_challenge_method="S256" if challenge else "",
                auth_time=int(time.time()),
                expires_at=utcnow() + timedelta(seconds=current_app.config["OAUTH_CODE_SECONDS"]),
            )
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        row = db.session.scalar(
            select(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.code_hash == digest(code),
                OAuthAuthorizationCode.client_id == client.row.id,
            )
        )
        if row is None or row.expires_at <= utcnow():
            return None
        # Spend the code before anything else: of two requests racing with it, one wins.
        now = utcnow()
        spent = db.session.execute(
            update(OAuthAuthorizationCode)
            .where(OAuthAuthorizationCode.id == row.id, OAuthAuthorizationCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            _revoke_tokens_from(row)
            return None
        return Code(row)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Kept, marked used (above): a second use is recognised and its tokens revoked."""

    def authenticate_user(self, authorization_code: Code) -> User | None:
        return db.session.get(User, authorization_code.row.user_id)


def _revoke_tokens_from(code: OAuthAuthorizationCode) -> None:
    """A code used twice: the tokens issued for it (same app, member and business, from the
    moment it was first spent) are revoked, as RFC 6749 section 4.1.2 advises."""
    db.session.refresh(code)
    if code.used_at is None:
        return
    now = utcnow()
    same = (
        OAuthToken.client_id == code.client_id,
        OAuthToken.user_id == code.user_id,
        OAuthToken.business_id == code.business_id,
        OAuthToken.issued_at >= code.used_at,
    )
    db.session.execute(update(OAuthToken).where(*same).values(access_token_revoked_at=now))
    db.session.execute(
        update(OAuthToken)
        .where(*same, OAuthToken.refresh_token_hash.is_not(None))
        .values(refresh_token_revoked_at=now)
    )


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012 - Authlib's class attribute
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: each refresh token works once

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        token = _find_token(refresh_token, "refresh_token")
        if token is None or not token.refresh or token.is_revoked() or token.is_expired():
            return None
        return token

    def authenticate_user(self, refresh_token: Token) -> User | None:
        row = refresh_token.row
        if row.user_id is None or _membership(row.business_id, row.user_id) is None:
            return None
        return db.session.get(User, row.user_id)

    def revoke_old_credential(self, refresh_token: Token) -> None:
        now = utcnow()
        refresh_token.row.refresh_token_revoked_at = now
        refresh_token.row.access_token_revoked_at = now


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012 - Authlib's class attribute
        "client_secret_basic",
        "client_secret_post",
    ]


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [  # noqa: RUF012 - Authlib's class attribute
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _find_token(token_string, token_type_hint)

    def revoke_token(self, token: Token, request: OAuth2Request) -> None:
        now = utcnow()
        row = token.row
        row.access_token_revoked_at = row.access_token_revoked_at or now
        # Revoking the refresh token ends the grant: its access token goes with it.
        if token.refresh:
            row.refresh_token_revoked_at = row.refresh_token_revoked_at or now


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = [  # noqa: RUF012 - Authlib's class attribute
        "client_secret_basic",
        "client_secret_post",
    ]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _find_token(token_string, token_type_hint)

    def check_permission(self, token: Token, client: Client, request: OAuth2Request) -> bool:
        # An app learns about its own tokens only.
        return token.check_client(client)

    def introspect_token(self, token: Token) -> dict[str, Any]:
        row = token.row
        client = db.session.get_one(OAuthClient, row.client_id)
        business = db.session.get_one(Business, row.business_id)
        user = db.session.get(User, row.user_id or client.created_by_id)
        return {
            "active": True,
            "scope": row.scope,
            "client_id": client.client_id,
            "token_type": "refresh_token" if token.refresh else "Bearer",
            "exp": int(token.expires_at().timestamp()),
            "iat": int(row.issued_at.timestamp()),
            "sub": user.public_id if user else None,
            "username": user.email if user else None,
            "business": business.public_id,
        }


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> Token | None:
        row = db.session.scalar(
            select(OAuthToken).where(OAuthToken.access_token_hash == digest(token_string))
        )
        return Token(row) if row is not None else None


server = AuthorizationServer()
server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
server.register_grant(RefreshTokenGrant)
server.register_grant(ClientCredentialsGrant)
server.register_endpoint(Revocation)
server.register_endpoint(Introspection)

resource_protector = ResourceProtector()
resource_protector.register_token_validator(AccessTokenValidator())


def init_app(app: Flask) -> None:
    server.init_app(app, query_client=query_client, save_token=save_token)
    server.scopes_supported = list(SCOPES)
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=lambda **_: ACCESS_PREFIX + secrets.token_urlsafe(32),
            refresh_token_generator=lambda **_: REFRESH_PREFIX + secrets.token_urlsafe(32),
            expires_generator=lambda client, grant_type: current_app.config[
                "OAUTH_ACCESS_TOKEN_SECONDS"
            ],
        ),
    )


# --- Who a token acts as --------------------------------------------------------------------


class TokenRefused(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _membership(business_id: int, user_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(
            Membership.business_id == business_id, Membership.user_id == user_id
        )
    )


def principal_of(token: Token) -> ApiPrincipal:
    row = token.row
    client = db.session.get_one(OAuthClient, row.client_id)
    if client.revoked_at is not None:
        raise TokenRefused("The app this token was issued to was revoked.")
    user_id = row.user_id or client.created_by_id
    membership = _membership(row.business_id, user_id)
    if membership is None:
        raise TokenRefused("The member this token acts for has left the business.")
    role = Role(membership.role)
    allowed = set(grantable(role))
    return ApiPrincipal(
        business=db.session.get_one(Business, row.business_id),
        user=db.session.get_one(User, user_id),
        role=role,
        scopes=frozenset(s for s in scope_to_list(row.scope) or [] if s in allowed),
        credential=f"oauth:{client.id}",
        oauth_client_id=client.id,
    )
