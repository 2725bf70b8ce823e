"""Security keys (WebAuthn) as a second factor: registering a key, using it at the second step of
logging in, naming and removing keys.

Each ceremony's challenge waits in the member's session: it is used once (taken out before it is
checked) and expires after ``CHALLENGE_SECONDS``. The relying party is this site: its id is
``WEBAUTHN_RP_ID`` (else the host of ``PUBLIC_URL``) and the only origin accepted is
``PUBLIC_URL``'s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, session
from sqlalchemy import exists, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.models.security import WebAuthnCredential
from portal.services import audit, two_factor
from portal.services.errors import InvalidInput

CHALLENGE_SECONDS = 300
# What the browser is told to wait for the member to touch the key (milliseconds).
TIMEOUT_MS = 120_000
REGISTRATION = "webauthn_registration"
AUTHENTICATION = "webauthn_authentication"
DEFAULT_NAME = "Security key"

START_AGAIN = "The request for your security key has expired or was already used. Try again."
NOT_REGISTERED = "Your security key could not be added. Try again, or use another key."
ALREADY_REGISTERED = "This security key is already registered."
WRONG_KEY = "That security key was not accepted. Try again, or use another key."
UNKNOWN_KEY = "That security key is not registered to your account."
CLONED = (
    "That security key was refused: its use counter went backwards, which happens when a key "
    "has been copied. Use another key or your authenticator app, and remove this key."
)
LAST_FACTOR = "{names} requires two-factor login: add another key or an authenticator app first."


class KeyRefused(Exception):
    """The security key did not prove who the member is; the message says why, in words."""


# --- the relying party --------------------------------------------------------------------------


def origin() -> str:
    parts = urlsplit(str(current_app.config["PUBLIC_URL"]))
    return f"{parts.scheme}://{parts.netloc}"


def rp_id() -> str:
    configured = current_app.config.get("WEBAUTHN_RP_ID")
    return str(configured or urlsplit(str(current_app.config["PUBLIC_URL"])).hostname or "")


def rp_name() -> str:
    return str(current_app.config.get("WEBAUTHN_RP_NAME") or "Invoice Lite")


# --- the member's keys --------------------------------------------------------------------------


def keys_of(user: User) -> list[WebAuthnCredential]:
    return list(
        db.session.scalars(
            select(WebAuthnCredential)
            .where(WebAuthnCredential.user_id == user.id)
            .order_by(WebAuthnCredential.created_at, WebAuthnCredential.id)
        )
    )


def has_keys(user: User) -> bool:
    return bool(db.session.scalar(select(exists().where(WebAuthnCredential.user_id == user.id))))


def has_second_factor(user: User) -> bool:
    """An authenticator app or a security key: either satisfies a business's requirement."""
    return two_factor.is_enrolled(user) or has_keys(user)


def key_of(user: User, public_id: str) -> WebAuthnCredential | None:
    return db.session.scalar(
        select(WebAuthnCredential).where(
            WebAuthnCredential.user_id == user.id, WebAuthnCredential.public_id == public_id
        )
    )


def _descriptor(key: WebAuthnCredential) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in filter(None, key.transports.split(",")):
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(key.credential_id), transports=transports or None
    )


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if len(name) > 80:
        raise InvalidInput({"name": "Keep the name to 80 characters or fewer."})
    return name or DEFAULT_NAME


# --- challenges in the session ------------------------------------------------------------------


def _keep_challenge(purpose: str, user: User, challenge: bytes) -> None:
    session[purpose] = {
        "challenge": bytes_to_base64url(challenge),
        "user": user.public_id,
        "at": utcnow().timestamp(),
    }


def _take_challenge(purpose: str, user: User) -> bytes:
    """The waiting challenge, removed from the session whether or not it still counts."""
    kept = session.pop(purpose, None)
    if (
        not isinstance(kept, dict)
        or kept.get("user") != user.public_id
        or utcnow().timestamp() - float(kept.get("at", 0)) > CHALLENGE_SECONDS
    ):
        raise KeyRefused(START_AGAIN)
    return base64url_to_bytes(str(kept["challenge"]))


# --- registering a key --------------------------------------------------------------------------


def registration_options(user: User) -> str:
    """The options for ``navigator.credentials.create()``, as JSON; the challenge waits."""
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=rp_name(),
        user_name=user.email,
        # The user handle: the member's opaque public id, never the email.
        user_id=user.public_id.encode(),
        user_display_name=user.name or user.email,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=[_descriptor(k) for k in keys_of(user)],
    )
    _keep_challenge(REGISTRATION, user, options.challenge)
    return options_to_json(options)


def register_key(user: User, credential: str | dict[str, Any], name: str) -> WebAuthnCredential:
    """Add the key that answered the registration options; ``KeyRefused`` if it did not."""
    name = _clean_name(name)
    challenge = _take_challenge(REGISTRATION, user)
    try:
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
        )
    except WebAuthnException as exc:
        raise KeyRefused(NOT_REGISTERED) from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    taken = db.session.scalar(
        select(exists().where(WebAuthnCredential.credential_id == credential_id))
    )
    if taken:
        raise KeyRefused(ALREADY_REGISTERED)
    transports = parsed.response.transports or []
    key = WebAuthnCredential(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=",".join(t.value for t in transports)[:200],
        name=name,
    )
    db.session.add(key)
    db.session.flush()
    _record(user, "user.security_key_added", key)
    db.session.commit()
    return key


# --- the second step at log-in ------------------------------------------------------------------


def authentication_options(user: User) -> str:
    """The options for ``navigator.credentials.get()`` naming the member's keys, as JSON."""
    options = generate_authentication_options(
        rp_id=rp_id(),
        timeout=TIMEOUT_MS,
        allow_credentials=[_descriptor(k) for k in keys_of(user)],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    _keep_challenge(AUTHENTICATION, user, options.challenge)
    return options_to_json(options)


def verify_key(user: User, credential: str | dict[str, Any]) -> WebAuthnCredential:
    """The member's key that signed the waiting challenge; ``KeyRefused`` otherwise.

    The key's counter moves on; the caller commits with the log-in it completes.
    """
    challenge = _take_challenge(AUTHENTICATION, user)
    try:
        parsed = parse_authentication_credential_json(credential)
    except WebAuthnException as exc:
        raise KeyRefused(WRONG_KEY) from exc
    key = db.session.scalar(
        select(WebAuthnCredential).where(
            WebAuthnCredential.user_id == user.id, WebAuthnCredential.credential_id == parsed.id
        )
    )
    if key is None:
        raise KeyRefused(UNKNOWN_KEY)
    try:
        # The counter is compared below, once the signature is known to be the key's own: only
        # then does a counter that went backwards mean a copy of the key.
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
            credential_public_key=key.public_key,
            credential_current_sign_count=0,
        )
    except WebAuthnException as exc:
        raise KeyRefused(WRONG_KEY) from exc
    count = verified.new_sign_count
    # Keys without a counter always say 0; any other key must count up at every use.
    if (count or key.sign_count) and count <= key.sign_count:
        _record(user, "user.security_key_clone_suspected", key, {"sign_count": count})
        db.session.commit()
        raise KeyRefused(CLONED)
    key.sign_count = count
    key.last_used_at = utcnow()
    return key


# --- naming and removing ------------------------------------------------------------------------


def rename_key(user: User, public_id: str, name: str) -> WebAuthnCredential | None:
    key = key_of(user, public_id)
    if key is None:
        return None
    new = _clean_name(name)
    if new != key.name:
        before = key.name
        key.name = new
        _record(user, "user.security_key_renamed", key, before={"name": before})
    db.session.commit()
    return key


def remove_key(user: User, public_id: str) -> bool:
    """Remove one of the member's keys; refused for the last second factor a business requires."""
    key = key_of(user, public_id)
    if key is None:
        return False
    last = len(keys_of(user)) == 1 and not two_factor.is_enrolled(user)
    if last and (required := two_factor.businesses_requiring(user)):
        names = ", ".join(b.legal_name for b in required)
        raise InvalidInput({"key": LAST_FACTOR.format(names=names)})
    _record(user, "user.security_key_removed", key)
    db.session.delete(key)
    db.session.commit()
    return True


def _record(
    user: User,
    action: str,
    key: WebAuthnCredential,
    extra: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
) -> None:
    audit.record(
        business=None,
        actor=user,
        action=action,
        entity_type="user",
        entity_id=user.public_id,
        before=before,
        after={"key": key.public_id, "name": key.name, **(extra or {})},
    )
