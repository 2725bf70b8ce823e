"""Log-in throttling: too many failures lock the account, or the address they come from."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, select

from portal.extensions import db
from portal.models.base import utcnow
from portal.models.security import LoginAttempt
from portal.services.errors import ServiceError


@dataclass(frozen=True, slots=True)
class Limits:
    per_account: int
    per_address: int
    window: timedelta
    lockout: timedelta


def limits() -> Limits:
    config = current_app.config
    return Limits(
        per_account=int(config.get("LOGIN_MAX_FAILURES", 5)),
        per_address=int(config.get("LOGIN_MAX_FAILURES_PER_IP", 20)),
        window=timedelta(minutes=int(config.get("LOGIN_FAILURE_WINDOW_MINUTES", 15))),
        lockout=timedelta(minutes=int(config.get("LOGIN_LOCKOUT_MINUTES", 15))),
    )


class LockedOut(ServiceError):
    """Too many failed log-ins; ``until`` says when the next try is heard."""

    def __init__(self, until: datetime, now: datetime, whom: str) -> None:
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(
            f"Too many failed log-ins {whom}. For your safety, logging in is paused: "
            f"try again in {minutes} {unit}."
        )
        self.until = until


def _normal(email: str) -> str:
    return email.strip().lower()[:254]


def _locked_until(
    where: ColumnElement[bool], most: int, now: datetime, *, success_resets: bool
) -> datetime:
    """When ``most`` failures fell within one window, the lock ends a lockout after the last
    of them. For an account, a log-in that succeeded wipes the slate; for an address it does
    not (one good account must not buy more guesses at the others)."""
    rules = limits()
    since = now - rules.window - rules.lockout
    rows = db.session.execute(
        select(LoginAttempt.at, LoginAttempt.success)
        .where(where, LoginAttempt.at > since)
        .order_by(LoginAttempt.at, LoginAttempt.id)
    ).all()
    failures: list[datetime] = []
    for at, success in rows:
        if not success:
            failures.append(at)
        elif success_resets:
            failures = []
    return _lock_end(failures, most, rules, now)


def _lock_end(failures: Sequence[datetime], most: int, rules: Limits, now: datetime) -> datetime:
    end = now
    for i in range(most - 1, len(failures)):
        if failures[i] - failures[i - most + 1] <= rules.window:
            end = max(end, failures[i] + rules.lockout)
    return end


def check_not_locked(email: str, ip: str, now: datetime | None = None) -> None:
    """Raise LockedOut while the account or the address is locked."""
    now = now or utcnow()
    rules = limits()
    account = _locked_until(
        LoginAttempt.email == _normal(email), rules.per_account, now, success_resets=True
    )
    if account > now:
        raise LockedOut(account, now, "for this account")
    if ip:
        address = _locked_until(
            LoginAttempt.ip == ip[:45], rules.per_address, now, success_resets=False
        )
        if address > now:
            raise LockedOut(address, now, "from your network")


def record_failure(email: str, ip: str) -> None:
    db.session.add(LoginAttempt(email=_normal(email), ip=ip[:45], at=utcnow(), success=False))
    db.session.commit()


def add_success(email: str, ip: str) -> None:
    """A completed log-in, in the caller's transaction: earlier failures no longer count."""
    db.session.add(LoginAttempt(email=_normal(email), ip=ip[:45], at=utcnow(), success=True))
