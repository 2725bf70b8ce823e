"""Enrolled members, a clock the tests move, and reading codes and secrets off the pages."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.models import User
from portal.services import login_attempts, sessions, two_factor
from tests.conftest import PASSWORD


@dataclass
class Enrolled:
    user: User
    secret: str
    codes: list[str]

    def code(self, steps_ahead: int = 0) -> str:
        """The app's code now, or one step later (a code logs in once only)."""
        totp = pyotp.TOTP(self.secret)
        return totp.at(time.time() + steps_ahead * totp.interval)


def enrol(user: User) -> Enrolled:
    credential = two_factor.begin_enrolment(user)
    secret = two_factor.secret_of(credential)
    codes = two_factor.confirm_enrolment(user, pyotp.TOTP(secret).now())
    return Enrolled(user, secret, codes)


def two_step_log_in(
    client: FlaskClient,
    who: Enrolled,
    code: str,
    *,
    remember: bool = False,
    headers: dict[str, str] | None = None,
) -> Any:
    response = client.post(
        "/login", data={"email": who.user.email, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == "/login/two-factor"
    data = {"code": code, **({"remember": "y"} if remember else {})}
    return client.post("/login/two-factor", data=data, headers=headers)


class Clock:
    """What ``utcnow`` says in the session and throttling services."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sessions, "utcnow", clock)
    monkeypatch.setattr(login_attempts, "utcnow", clock)
    return clock


@pytest.fixture
def new_client(app: Flask, db: Any) -> Callable[[], FlaskClient]:
    """Another browser."""
    return app.test_client


def secret_on(html: str) -> str:
    found = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html)
    assert found, html
    return found.group(1)


def codes_on(html: str) -> list[str]:
    block = re.search(r'<ul class="recovery-codes" id="recovery-codes">(.*?)</ul>', html, re.S)
    assert block, html
    return re.findall(r"<code>([a-z2-7-]+)</code>", block.group(1))
