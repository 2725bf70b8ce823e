"""API keys: made by a member, shown once, stored as a hash, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.api.principal import SCOPES, ApiPrincipal, grantable
from portal.extensions import db
from portal.models import ApiKey, Business, Membership, Role, User
from portal.models.base import utcnow
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound

KEY_PREFIX = "il_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyData:
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None = None
    require_signature: bool = False


def create_key(actor: Actor, data: KeyData) -> tuple[ApiKey, str]:
    """A new key and its full text, which is never shown again."""
    actor.require(Role.ADMIN)
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = "Name the key after what will use it."
    elif len(name) > 80:
        errors["name"] = "Keep the name under 80 characters."
    scopes = tuple(dict.fromkeys(data.scopes))
    allowed = set(grantable(actor.role))
    if not scopes:
        errors["scopes"] = "Choose at least one scope."
    elif unknown := [s for s in scopes if s not in SCOPES]:
        errors["scopes"] = f"Unknown scope: {', '.join(unknown)}."
    elif beyond := [s for s in scopes if s not in allowed]:
        errors["scopes"] = f"Your role cannot grant: {', '.join(beyond)}."
    if data.expires_at is not None and data.expires_at <= utcnow():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise InvalidInput(errors)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        business_id=actor.business.id,
        created_by_id=actor.user.id,
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=list(scopes),
        expires_at=data.expires_at,
        require_signature=data.require_signature,
        signing_secret=secrets.token_urlsafe(32) if data.require_signature else "",
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="api_key.created",
        entity_type="api_key",
        entity_id=key.public_id,
        after={"name": name, "prefix": prefix, "scopes": list(scopes)},
    )
    db.session.commit()
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


def revoke_key(actor: Actor, public_id: str) -> ApiKey:
    actor.require(Role.ADMIN)
    key = get_key(actor, public_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            business=actor.business,
            actor=actor.user,
            action="api_key.revoked",
            entity_type="api_key",
            entity_id=key.public_id,
        )
        db.session.commit()
    return key


def get_key(actor: Actor, public_id: str) -> ApiKey:
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.public_id == public_id, ApiKey.business_id == actor.business.id)
    )
    if key is None:
        raise NotFound("No such API key.")
    return key


def keys(actor: Actor) -> list[ApiKey]:
    return list(
        db.session.scalars(
            select(ApiKey)
            .where(ApiKey.business_id == actor.business.id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    )


def parse(raw: str) -> tuple[str, str] | None:
    """``il_<prefix>_<secret>`` -> (prefix, secret)."""
    if not raw.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = raw[len(KEY_PREFIX) :].partition("_")
    if len(prefix) != 12 or not secret:
        return None
    return prefix, secret


class KeyRefused(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def principal_for(raw: str) -> tuple[ApiKey, ApiPrincipal]:
    """The key a request presents and who it acts as; ``KeyRefused`` says why not."""
    parsed = parse(raw)
    if parsed is None:
        raise KeyRefused("That is not an Invoice Lite API key.")
    prefix, secret = parsed
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        raise KeyRefused("Unknown API key.")
    now = utcnow()
    if key.revoked_at is not None and key.revoked_at <= now:
        raise KeyRefused("This API key was revoked.")
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyRefused("This API key has expired.")
    membership = db.session.scalar(
        select(Membership).where(
            Membership.business_id == key.business_id, Membership.user_id == key.created_by_id
        )
    )
    if membership is None:
        raise KeyRefused("The member who made this key has left the business.")
    business = db.session.get_one(Business, key.business_id)
    user = db.session.get_one(User, key.created_by_id)
    role = Role(membership.role)
    scopes = frozenset(s for s in key.scopes if s in set(grantable(role)))
    return key, ApiPrincipal(
        business=business,
        user=user,
        role=role,
        scopes=scopes,
        credential=f"key:{key.id}",
        key_id=key.id,
    )
