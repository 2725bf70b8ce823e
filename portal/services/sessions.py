"""Logged-in sessions: started at log-in, ended by logging out, by the member, or by time.

The browser's signed session cookie carries a random session id; the database keeps its hash
in a ``UserSession`` row, and the cookie counts only while that row is live.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.models.security import UserSession
from portal.services import login_attempts
from portal.services.tokens import token_hash

# ``last_seen_at`` is written at most this often per session: reads stay reads.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


def timeouts() -> Timeouts:
    config = current_app.config
    return Timeouts(
        idle=timedelta(minutes=int(config.get("SESSION_IDLE_MINUTES", 30))),
        absolute=timedelta(hours=int(config.get("SESSION_MAX_HOURS", 12))),
    )


def start_session(user: User, *, ip: str, user_agent: str, method: str) -> str:
    """A new session for a log-in that just succeeded; returns the id for the cookie."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            user_id=user.id,
            session_hash=token_hash(raw),
            method=method,
            created_at=now,
            last_seen_at=now,
            ip=ip[:45],
            user_agent=user_agent[:300],
        )
    )
    user.last_login_at = now
    login_attempts.add_success(user.email, ip)
    db.session.commit()
    return raw


@dataclass(frozen=True, slots=True)
class Ended:
    """Why a session no longer counts, in words for the member."""

    message: str


IDLE = Ended("You were logged out after a while without activity. Log in again to go on.")
EXPIRED = Ended("Your session reached its time limit. Log in again to go on.")
REVOKED = Ended("This session was ended. Log in again to go on.")


def check_session(user: User, raw: str | None, ip: str) -> UserSession | Ended:
    """The live session this cookie names, seen now; else why it ended (and end it)."""
    if not raw:
        return REVOKED
    row = db.session.scalar(select(UserSession).where(UserSession.session_hash == token_hash(raw)))
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return REVOKED
    now = utcnow()
    limits = timeouts()
    if now - row.created_at >= limits.absolute:
        _end(row, "expired", now)
        return EXPIRED
    if now - row.last_seen_at >= limits.idle:
        _end(row, "idle", now)
        return IDLE
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        row.ip = ip[:45]
        db.session.commit()
    return row


def _end(row: UserSession, reason: str, now: datetime) -> None:
    row.revoked_at = now
    row.ended_reason = reason
    db.session.commit()


def end_session(raw: str | None) -> None:
    """Logging out: the cookie's session ends for good."""
    if not raw:
        return
    db.session.execute(
        update(UserSession)
        .where(UserSession.session_hash == token_hash(raw), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), ended_reason="logout")
    )
    db.session.commit()


def active_sessions(user: User) -> list[UserSession]:
    """The member's live sessions, most recently seen first."""
    now = utcnow()
    limits = timeouts()
    rows = db.session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
            UserSession.last_seen_at > now - limits.idle,
            UserSession.created_at > now - limits.absolute,
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return list(rows)


def is_current(row: UserSession, raw: str | None) -> bool:
    return bool(raw) and row.session_hash == token_hash(raw or "")


def revoke_session(user: User, public_id: str) -> bool:
    """End one of the member's own sessions; False if there is no such live session."""
    ended = db.session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.public_id == public_id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow(), ended_reason="revoked")
    )
    db.session.commit()
    return bool(ended.rowcount)  # type: ignore[attr-defined]


def revoke_other_sessions(user: User, keep: str | None, reason: str = "revoked") -> int:
    """Log out everywhere else: every live session but the cookie's own ends."""
    keep_hash = token_hash(keep) if keep else ""
    ended = db.session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
            UserSession.session_hash != keep_hash,
        )
        .values(revoked_at=utcnow(), ended_reason=reason)
    )
    db.session.commit()
    return int(ended.rowcount)  # type: ignore[attr-defined]


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("HeadlessChrome/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """A short name for the browser a user agent string describes: "Firefox on Windows"."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    return re.sub(r"\s+", " ", user_agent).strip()[:40] or "Unknown device"
