"""Two-factor login: authenticator apps (TOTP), recovery codes, remembered devices, and the
business rule that every member must use a second factor."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import pyotp
import segno
from sqlalchemy import delete, exists, select, update

from portal.extensions import db
from portal.models import Business, Membership, Role, User
from portal.models.base import utcnow
from portal.models.security import RecoveryCode, RememberedDevice, TotpCredential
from portal.secrets_at_rest import SecretError
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import Forbidden, InvalidInput
from portal.services.passwords import verify_password
from portal.services.tokens import token_hash

ISSUER = "Invoice Lite"
RECOVERY_CODES = 10
DEVICE_DAYS = 30
WRONG_CODE = (
    "That code is not right. Enter the 6-digit code your authenticator app shows now, "
    "or one of your recovery codes."
)
NOT_CONFIRMED = (
    "That code is not right. Check that the time on your phone is correct and enter the code "
    "the app shows now."
)
WRONG_PROOF = "That is neither your password nor a current code from your authenticator app."

Factor = Literal["totp", "recovery"]


# --- the secret, encrypted at rest --------------------------------------------------------------


def secret_of(credential: TotpCredential) -> str:
    """The app's shared secret, stored encrypted with the secrets key ring (``EncryptedText``,
    loaded only when read, so a secret the ring cannot open fails here and nowhere else)."""
    secret = _readable_secret(credential)
    if secret is None:
        raise InvalidInput({"code": "Your authenticator app must be set up again."})
    return secret


def _readable_secret(credential: TotpCredential) -> str | None:
    """None when no key of the ring opens it (a key left the ring too early): app codes then
    prove nothing, and the member logs in with a recovery code and sets the app up again."""
    try:
        return credential.secret
    except SecretError:
        return None


# --- enrolment ----------------------------------------------------------------------------------


def credential_of(user: User) -> TotpCredential | None:
    return db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user.id))


def is_enrolled(user: User) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    TotpCredential.user_id == user.id, TotpCredential.confirmed_at.is_not(None)
                )
            )
        )
    )


def begin_enrolment(user: User) -> TotpCredential:
    """A new secret waiting for its first code (the same one while the member has not confirmed)."""
    credential = credential_of(user)
    if credential is not None and credential.confirmed_at is not None:
        raise InvalidInput({"code": "Two-factor login is already on."})
    if credential is None:
        credential = TotpCredential(user_id=user.id, secret=pyotp.random_base32())
        db.session.add(credential)
        db.session.commit()
    return credential


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(text: str) -> str:
    """The QR code as an SVG image in a data: URI (the pages allow no inline styles or scripts)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn two-factor login on with a first code from the app; the recovery codes, shown once."""
    credential = credential_of(user)
    if credential is None or credential.confirmed_at is not None:
        raise InvalidInput({"code": "Start the set-up again: no authenticator is waiting."})
    if _matching_step(secret_of(credential), code) is None:
        raise InvalidInput({"code": NOT_CONFIRMED})
    credential.confirmed_at = utcnow()
    codes = _replace_recovery_codes(user)
    audit.record(
        business=None,
        actor=user,
        action="user.two_factor_enabled",
        entity_type="user",
        entity_id=user.public_id,
    )
    db.session.commit()
    return codes


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code this is: now, or one step either side for a slow clock."""
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    for offset in (0, -1, 1):
        at = moment + offset * totp.interval
        if hmac.compare_digest(totp.at(at), code):
            return int(at // totp.interval)
    return None


# --- recovery codes -----------------------------------------------------------------------------


def _normalise_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _code_hash(code: str) -> str:
    return hashlib.sha256(_normalise_code(code).encode()).hexdigest()


def _new_recovery_code() -> str:
    # 80 random bits: a plain hash is enough, no guessing from the hash is feasible.
    raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_code_hash(c)) for c in codes)
    return codes


def recovery_codes_left(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def regenerate_recovery_codes(user: User, proof: str) -> list[str]:
    """New codes for old, after the member proves it is them; the old codes stop working."""
    _require_proof(user, proof)
    codes = _replace_recovery_codes(user)
    audit.record(
        business=None,
        actor=user,
        action="user.recovery_codes_regenerated",
        entity_type="user",
        entity_id=user.public_id,
    )
    db.session.commit()
    return codes


# --- the second step at log-in ------------------------------------------------------------------


def verify_second_factor(user: User, code: str) -> Factor | None:
    """Which factor this code proves (a recovery code is spent), or None when it proves nothing.

    The caller commits (with the log-in it completes) or records the failure.
    """
    credential = credential_of(user)
    if credential is None or credential.confirmed_at is None:
        return None
    if re.fullmatch(r"\d{6}", re.sub(r"\s", "", code)):
        secret = _readable_secret(credential)
        step = None if secret is None else _matching_step(secret, code)
        if step is None or (credential.last_step is not None and step <= credential.last_step):
            return None
        credential.last_step = step
        return "totp"
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    # One row at most: a code used at the same moment by two requests wins once.
    return "recovery" if spent.rowcount == 1 else None  # type: ignore[attr-defined]


def _require_proof(user: User, proof: str) -> None:
    if verify_password(user.password_hash, proof):
        return
    credential = credential_of(user)
    if credential is not None and credential.confirmed_at is not None:
        secret = _readable_secret(credential)
        if secret is not None and _matching_step(secret, proof) is not None:
            return
    raise InvalidInput({"proof": WRONG_PROOF})


def disable(user: User, proof: str) -> None:
    """Turn two-factor login off: the app's secret, the recovery codes and remembered devices go."""
    _require_proof(user, proof)
    if (required := businesses_requiring(user)) and not _has_security_key(user):
        names = ", ".join(b.legal_name for b in required)
        raise InvalidInput({"proof": f"{names} requires two-factor login; it must stay on."})
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    _revoke_devices(user)
    audit.record(
        business=None,
        actor=user,
        action="user.two_factor_disabled",
        entity_type="user",
        entity_id=user.public_id,
    )
    db.session.commit()


# --- remembered devices -------------------------------------------------------------------------


def remember_device(user: User, label: str) -> tuple[str, RememberedDevice]:
    """A token for the browser's cookie; its hash is kept until it expires or is revoked."""
    token = secrets.token_urlsafe(32)
    device = RememberedDevice(
        user_id=user.id,
        token_hash=token_hash(token),
        label=label[:120],
        expires_at=utcnow() + timedelta(days=DEVICE_DAYS),
    )
    db.session.add(device)
    return token, device


def remembered_device(user: User, token: str) -> RememberedDevice | None:
    device = db.session.scalar(
        select(RememberedDevice).where(RememberedDevice.token_hash == token_hash(token))
    )
    if (
        device is None
        or device.user_id != user.id
        or device.revoked_at is not None
        or device.expires_at <= utcnow()
    ):
        return None
    device.last_used_at = utcnow()
    return device


def devices_of(user: User) -> list[RememberedDevice]:
    return list(
        db.session.scalars(
            select(RememberedDevice)
            .where(
                RememberedDevice.user_id == user.id,
                RememberedDevice.revoked_at.is_(None),
                RememberedDevice.expires_at > utcnow(),
            )
            .order_by(RememberedDevice.created_at.desc(), RememberedDevice.id.desc())
        )
    )


def forget_device(user: User, public_id: str) -> bool:
    forgotten = db.session.execute(
        update(RememberedDevice)
        .where(
            RememberedDevice.user_id == user.id,
            RememberedDevice.public_id == public_id,
            RememberedDevice.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    db.session.commit()
    return bool(forgotten.rowcount)  # type: ignore[attr-defined]


def forget_all_devices(user: User) -> None:
    _revoke_devices(user)
    db.session.commit()


def _revoke_devices(user: User) -> None:
    db.session.execute(
        update(RememberedDevice)
        .where(RememberedDevice.user_id == user.id, RememberedDevice.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# --- the business rule --------------------------------------------------------------------------


def businesses_requiring(user: User) -> list[Business]:
    return list(
        db.session.scalars(
            select(Business)
            .join(Membership, Membership.business_id == Business.id)
            .where(Membership.user_id == user.id, Business.require_2fa.is_(True))
            .order_by(Business.legal_name)
        )
    )


@dataclass(frozen=True, slots=True)
class Requirement:
    business: Business
    required: bool


def set_business_requirement(actor: Actor, required: bool) -> Requirement:
    """The owner decides whether every member must log in with a second factor."""
    if actor.role is not Role.OWNER:
        raise Forbidden("Only the owner decides whether two-factor login is required.")
    business = actor.business
    if required and not (is_enrolled(actor.user) or _has_security_key(actor.user)):
        raise InvalidInput(
            {"require_2fa": "Turn on two-factor login for yourself first, then require it."}
        )
    before = business.require_2fa
    if before != required:
        business.require_2fa = required
        audit.record(
            business=business,
            actor=actor.user,
            action="business.require_2fa_changed",
            entity_type="business",
            entity_id=business.public_id,
            before={"require_2fa": before},
            after={"require_2fa": required},
        )
    db.session.commit()
    return Requirement(business, required)


def _has_security_key(user: User) -> bool:
    """A security key is a second factor too (keys live in their own module, which imports
    this one: ask the table directly)."""
    from portal.models import WebAuthnCredential

    found = db.session.scalar(
        select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user.id).limit(1)
    )
    return found is not None
