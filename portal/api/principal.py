"""Who is calling the API: a business, a user to act as, and the scopes granted.

Authenticators (API key, signed request, OAuth bearer token) are functions that look at the
request and return an ``ApiPrincipal``, return ``None`` when the request carries none of their
credentials, or raise ``Unauthorized`` when it carries a bad one. The API blueprint tries them
in order before each call and keeps the principal in ``g``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Request, g

from portal.models import Business, Role, User
from portal.services.actors import Actor

#: Scope -> what it allows, and the least role that may grant it (a key or app never has more
#: power than the person who made it).
SCOPES: dict[str, tuple[str, Role]] = {
    "clients:read": ("Read clients and contacts", Role.VIEWER),
    "clients:write": ("Create and change clients", Role.STAFF),
    "catalogue:read": ("Read products and tax rates", Role.VIEWER),
    "catalogue:write": ("Change products and tax rates", Role.ADMIN),
    "invoices:read": ("Read invoices, quotes, credit notes and their files", Role.VIEWER),
    "invoices:write": ("Create, issue, send and void documents", Role.STAFF),
    "payments:read": ("Read payments and refunds", Role.VIEWER),
    "payments:write": ("Record payments and refunds", Role.ACCOUNTANT),
    "reports:read": ("Read reports", Role.ACCOUNTANT),
    "webhooks:manage": ("Manage webhook endpoints and read events", Role.ADMIN),
}


class Unauthorized(Exception):
    """Credentials were sent and are wrong (unknown, expired, revoked, bad signature)."""

    def __init__(self, detail: str, *, code: str = "invalid_credentials") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class InsufficientScope(Exception):
    def __init__(self, scope: str) -> None:
        super().__init__(f"This call needs the {scope} scope.")
        self.scope = scope


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    business: Business
    user: User  # who the key or app acts for; their current role bounds what it may do
    role: Role
    scopes: frozenset[str]
    credential: str  # "key:<id>" or "oauth:<client id>": keys idempotency and rate limits
    key_id: int | None = None
    oauth_client_id: int | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.user, self.business, self.role)

    def has(self, scope: str) -> bool:
        return scope in self.scopes


Authenticator = Callable[[Request], ApiPrincipal | None]
AUTHENTICATORS: list[Authenticator] = []


def authenticator(func: Authenticator) -> Authenticator:
    """Register a way of authenticating API calls (tried in registration order)."""
    AUTHENTICATORS.append(func)
    return func


def authenticate(request: Request) -> ApiPrincipal | None:
    for func in AUTHENTICATORS:
        principal = func(request)
        if principal is not None:
            return principal
    return None


def current() -> ApiPrincipal:
    principal: ApiPrincipal | None = g.get("api_principal")
    if principal is None:
        raise Unauthorized("Send an API key or an OAuth access token.", code="missing_credentials")
    return principal


F = TypeVar("F", bound=Callable[..., Any])


def require_scope(scope: str) -> Callable[[F], F]:
    """A view needing ``scope``; ``InsufficientScope`` becomes a 403 problem."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current().has(scope):
                raise InsufficientScope(scope)
            return view(*args, **kwargs)

        wrapped.required_scope = scope  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def grantable(role: Role) -> list[str]:
    """The scopes a member with ``role`` may give a key or an app."""
    return [name for name, (_, least) in SCOPES.items() if role.at_least(least)]
