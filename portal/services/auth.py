"""Sign-up, log-in and password reset."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from integrations.notify.email import OutgoingEmail
from portal.extensions import db
from portal.models import Business, Membership, Role, User
from portal.services import audit, login_attempts, mail, sessions
from portal.services.errors import InvalidInput
from portal.services.passwords import check_strength, hash_password, verify_password
from portal.services.validation import check_currency, check_locale, check_time_zone

RESET_SALT = "password-reset"
SAME_AS_BEFORE = "Choose a password other than the current one."


@dataclass(frozen=True, slots=True)
class SignUp:
    email: str
    password: str
    name: str
    business_name: str
    base_currency: str = "EUR"
    time_zone: str = "UTC"
    locale: str = "en"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def sign_up(data: SignUp) -> tuple[User, Business]:
    """Create a business and its owner in one transaction."""
    errors: dict[str, str] = {}
    if find_user(data.email) is not None:
        errors["email"] = "An account with this email already exists; log in instead."
    if (msg := check_strength(data.password)) is not None:
        errors["password"] = msg
    for name, check, value in (
        ("base_currency", check_currency, data.base_currency),
        ("time_zone", check_time_zone, data.time_zone),
        ("locale", check_locale, data.locale),
    ):
        if (msg := check(value)) is not None:
            errors[name] = msg
    if errors:
        raise InvalidInput(errors)
    user = User(
        email=normalise_email(data.email),
        name=data.name.strip(),
        password_hash=hash_password(data.password),
    )
    business = Business(
        legal_name=data.business_name.strip(),
        base_currency=data.base_currency.upper(),
        time_zone=data.time_zone,
        locale=data.locale,
    )
    db.session.add_all([user, business, Membership(user=user, business=business, role=Role.OWNER)])
    db.session.flush()
    audit.record(
        business=business,
        actor=user,
        action="business.created",
        entity_type="business",
        entity_id=business.public_id,
        after={"legal_name": business.legal_name, "owner": user.email},
    )
    db.session.commit()
    return user, business


# A hash to verify against when the email is unknown, so both paths take as long.
_DUMMY_HASH: dict[str, str] = {}


def authenticate(email: str, password: str, ip: str = "") -> User | None:
    """The user whose email and password these are, or None (and the failure is counted).

    Raises ``LockedOut`` while too many recent failures lock the account or the address. A
    log-in that succeeds is counted when its session starts (after the second step, if any).
    """
    login_attempts.check_not_locked(email, ip)
    user = find_user(email)
    if user is None:
        profile = str(current_app.config["ARGON2_PROFILE"])
        dummy = _DUMMY_HASH.setdefault(profile, hash_password("not a real password"))
        verify_password(dummy, password)
    elif verify_password(user.password_hash, password):
        return user
    login_attempts.record_failure(email, ip)
    return None


def change_password(user: User, current: str, new: str, keep_session: str | None) -> None:
    """A new password, given the current one; every other session of the member ends."""
    errors: dict[str, str] = {}
    if not verify_password(user.password_hash, current):
        errors["current"] = "This is not your current password."
    elif (msg := check_strength(new)) is not None:
        errors["password"] = msg
    elif new == current:
        errors["password"] = SAME_AS_BEFORE
    if errors:
        raise InvalidInput(errors)
    user.password_hash = hash_password(new)
    audit.record(
        business=None,
        actor=user,
        action="user.password_changed",
        entity_type="user",
        entity_id=user.public_id,
    )
    sessions.revoke_other_sessions(user, keep_session, reason="password")


def memberships_of(user: User) -> list[Membership]:
    stmt = (
        select(Membership)
        .join(Business)
        .where(Membership.user_id == user.id)
        .options(contains_eager(Membership.business))
        .order_by(func.lower(Business.legal_name), Business.id)
    )
    return list(db.session.scalars(stmt))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _fingerprint(user: User) -> str:
    # The token names the current password hash: once the password changes, it is spent.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def password_reset_token(user: User) -> str:
    return _serializer().dumps({"u": user.public_id, "f": _fingerprint(user)})


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; say nothing either way."""
    user = find_user(email)
    if user is None:
        return
    link = mail.absolute_url(url_for("auth.reset_password", token=password_reset_token(user)))
    minutes = int(current_app.config["PASSWORD_RESET_MAX_AGE"]) // 60
    mail.send(
        OutgoingEmail(
            to=(user.email,),
            subject="Reset your Invoice Lite password",
            text=(
                f"Someone asked to reset the password of {user.email}.\n\n"
                f"Open this link within {minutes} minutes to choose a new one:\n{link}\n\n"
                "If it was not you, ignore this email; your password stays as it is."
            ),
        )
    )


def user_for_reset_token(token: str) -> User | None:
    max_age = int(current_app.config["PASSWORD_RESET_MAX_AGE"])
    try:
        data = _serializer().loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict):
        return None
    user = db.session.scalar(select(User).where(User.public_id == data.get("u")))
    if user is None or data.get("f") != _fingerprint(user):
        return None
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    if user is None:
        raise InvalidInput({"token": "This reset link has expired or was already used."})
    if (msg := check_strength(new_password)) is not None:
        raise InvalidInput({"password": msg})
    user.password_hash = hash_password(new_password)
    audit.record(
        business=None,
        actor=user,
        action="user.password_reset",
        entity_type="user",
        entity_id=user.public_id,
    )
    # Whoever knew the old password is logged out everywhere.
    sessions.revoke_other_sessions(user, None, reason="password")
    return user
