"""API keys: made by a member, shown once, stored as a hash, scoped, expiring, revocable,
rotated with an overlap during which the old key still works."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from portal.api.principal import SCOPES, ApiPrincipal, grantable
from portal.extensions import db
from portal.models import ApiKey, Business, Membership, Role, User
from portal.models.base import utcnow
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound

KEY_PREFIX = "il_"
# The last-used time is written at most this often per key: a busy key does not write on
# every call.
LAST_USED_PRECISION = timedelta(minutes=1)
# The longest a replaced key may keep working after a rotation.
MAX_OVERLAP = timedelta(days=30)


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
    key, text = _new_key(
        actor,
        name=name,
        scopes=scopes,
        expires_at=data.expires_at,
        require_signature=data.require_signature,
    )
    db.session.commit()
    return key, text


def _new_key(
    actor: Actor,
    *,
    name: str,
    scopes: tuple[str, ...],
    expires_at: datetime | None,
    require_signature: bool,
) -> tuple[ApiKey, str]:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        business_id=actor.business.id,
        created_by_id=actor.user.id,
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=list(scopes),
        expires_at=expires_at,
        require_signature=require_signature,
        signing_secret=secrets.token_urlsafe(32) if require_signature else "",
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
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


def revoke_key(actor: Actor, public_id: str) -> ApiKey:
    actor.require(Role.ADMIN)
    key = get_key(actor, public_id)
    now = utcnow()
    # A key still working in its rotation overlap stops now too.
    if key.revoked_at is None or key.revoked_at > now:
        key.revoked_at = now
        audit.record(
            business=actor.business,
            actor=actor.user,
            action="api_key.revoked",
            entity_type="api_key",
            entity_id=key.public_id,
        )
        db.session.commit()
    return key


def rotate_key(actor: Actor, public_id: str, overlap: timedelta) -> tuple[ApiKey, str]:
    """A new key with the old one's name, scopes, expiry and signing switch; the old key
    keeps working for ``overlap`` (zero: it stops now), so clients can move over."""
    actor.require(Role.ADMIN)
    old = get_key(actor, public_id)
    now = utcnow()
    if old.revoked_at is not None and old.revoked_at <= now:
        raise InvalidInput({"overlap": "This key was revoked; create a new one instead."})
    if old.replaced_by_id is not None:
        raise InvalidInput({"overlap": "This key was already rotated; rotate its successor."})
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise InvalidInput({"overlap": "Keep the old key working for between 0 and 30 days."})
    allowed = set(grantable(actor.role))
    if beyond := [s for s in old.scopes if s not in allowed]:
        raise InvalidInput({"overlap": f"Your role cannot grant: {', '.join(beyond)}."})
    new, text = _new_key(
        actor,
        name=old.name,
        scopes=tuple(old.scopes),
        expires_at=old.expires_at if old.expires_at is None or old.expires_at > now else None,
        require_signature=old.require_signature,
    )
    old.replaced_by_id = new.id
    old.revoked_at = now + overlap
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="api_key.rotated",
        entity_type="api_key",
        entity_id=old.public_id,
        after={"replaced_by": new.public_id, "works_until": old.revoked_at.isoformat()},
    )
    db.session.commit()
    return new, text


def touch(key: ApiKey) -> None:
    """Note that the key was just used; a write at most once a minute per key (the guard is
    in the UPDATE, so concurrent calls do not each write)."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_PRECISION:
        return
    db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_PRECISION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


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
    return key, principal_of(key)


def key_by_prefix(prefix: str) -> ApiKey | None:
    return db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def principal_of(key: ApiKey) -> ApiPrincipal:
    """Who a key acts as, now: refused when revoked, expired or its member has left."""
    now = utcnow()
    if key.revoked_at is not None and key.revoked_at <= now:
        if key.replaced_by_id is not None:
            raise KeyRefused("This API key was rotated; use the key that replaced it.")
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
    return ApiPrincipal(
        business=business,
        user=user,
        role=role,
        scopes=scopes,
        credential=f"key:{key.id}",
        key_id=key.id,
    )
