"""Fixtures: a migrated database of the suite's own, the app, clients, people in roles, mail."""

from __future__ import annotations

import email
import email.policy
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db as _db
from portal.models import Business, Membership, Role, User
from portal.services.actors import Actor
from portal.services.auth import SignUp, sign_up
from portal.services.passwords import hash_password

PASSWORD = "correct horse battery"


def _database_url(tmp: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp / 'test.sqlite3'}"
    url = url.replace("postgres://", "postgresql+psycopg://", 1)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if xdist_worker():
        # Each pytest-xdist worker has a database of its own.
        parsed = make_url(url)
        url = parsed.set(database=f"{parsed.database}_{xdist_worker()}").render_as_string(
            hide_password=False
        )
    _recreate_postgres_database(url)
    return url


def xdist_worker() -> int:
    """0 outside pytest-xdist and on its first worker (gw0), 1 on the second, and so on."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def redis_test_url(env_name: str, default_db: int) -> str:
    """A test module's Redis URL: ``env_name`` if set, else database ``default_db`` of the local
    server, moved down by 8 on the second pytest-xdist worker so two workers never share one."""
    url = os.environ.get(env_name)
    if url:
        return url
    db_number = default_db - 8 * xdist_worker()
    if not 0 <= db_number <= 15:
        raise RuntimeError(f"no Redis database for worker {xdist_worker()}: run at most 2 workers")
    return f"redis://127.0.0.1:6379/{db_number}"


def _recreate_postgres_database(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    if not name or not ("test" in name or "bench" in name):
        raise RuntimeError(f"refusing to wipe {name!r}: a test database has 'test' in its name")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def is_postgres() -> bool:
    return bool(os.environ.get("DATABASE_URL", "").startswith("postgres"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database_url(tmp_path_factory.mktemp("db"))


def app_config(database_url: str) -> dict[str, Any]:
    """What every test app is made with; API rate limits are left at their defaults."""
    return {
        "ENV_NAME": "testing",
        "TESTING": True,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ARGON2_PROFILE": "CHEAPEST",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "PUBLIC_URL": "http://127.0.0.1",
        "SMTP_HOST": None,
        # Tests make many portal requests from one address; one test checks the limit.
        "PORTAL_RATE_LIMIT": "100000 per minute",
    }


# Tests make many API calls from one address and key; the rate-limit tests set their own.
RAISED_API_LIMITS = {
    "API_RATE_LIMIT_BURST": "100000 per second",
    "API_RATE_LIMIT_SUSTAINED": "1000000 per hour",
    "API_RATE_LIMIT_PER_IP": "100000 per second",
}


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(instance)
    app = create_app(
        {**app_config(database_url), **RAISED_API_LIMITS, "WEBHOOKS_ALLOW_LOOPBACK": True}
    )
    app.test_client_class = CsrfClient
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


def _wipe(app: Flask) -> None:
    from portal.services.payment_accounts import forget_offered

    forget_offered()  # ids are reused once the tables are emptied
    with app.app_context():
        _db.session.remove()
        with _db.engine.begin() as conn:
            # documents and recurring_schedules point at each other: cut that link first.
            conn.execute(text("UPDATE documents SET schedule_id = NULL"))
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """An app context and an empty database, emptied again afterwards."""
    _wipe(app)
    with app.app_context():
        yield _db
        _db.session.remove()
    _wipe(app)


class CsrfClient(FlaskClient):
    """A test client that sends a valid CSRF token with every unsafe request.

    Pass ``csrf=False`` to send none, as a forged cross-site request would.
    """

    def open(self, *args: Any, csrf: bool = True, **kwargs: Any) -> Any:
        # Each request in its own app context, as under a real server: otherwise a test's open
        # context would carry ``g`` (the cached user, the CSRF token) from one request to the next.
        with self.application.app_context():
            response = self._open(*args, csrf=csrf, **kwargs)
        if has_app_context():
            # End the test's own read transaction, so it sees what the request committed
            # (SQLite keeps a snapshot per transaction; PostgreSQL reads committed anyway).
            _db.session.commit()
        return response

    def _open(self, *args: Any, csrf: bool, **kwargs: Any) -> Any:
        method = str(kwargs.get("method", "GET")).upper()
        if csrf and method not in {"GET", "HEAD", "OPTIONS"}:
            raw = secrets.token_hex(20)
            with self.session_transaction() as session:
                raw = session.setdefault("csrf_token", raw)
            app = self.application
            signed = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(
                raw
            )
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", signed)
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask, db: Any) -> FlaskClient:
    return app.test_client()


@dataclass
class Team:
    business: Business
    users: dict[Role, User]

    def actor(self, role: Role = Role.OWNER) -> Actor:
        return Actor(self.users[role], self.business, role)


def make_team(name: str = "Acme Ltd", **overrides: Any) -> Team:
    """A business with one user in each role; emails derive from the business name."""
    slug = name.lower().replace(" ", "-")
    owner, business = sign_up(
        SignUp(
            email=f"owner@{slug}.example",
            password=PASSWORD,
            name="Owner",
            business_name=name,
            **overrides,
        )
    )
    users = {Role.OWNER: owner}
    hashed = hash_password(PASSWORD)
    for role in Role:
        if role is Role.OWNER:
            continue
        user = User(email=f"{role.value}@{slug}.example", name=role.value, password_hash=hashed)
        _db.session.add_all([user, Membership(user=user, business=business, role=role)])
        users[role] = user
    _db.session.commit()
    return Team(business, users)


@pytest.fixture
def team(db: Any) -> Team:
    return make_team()


@pytest.fixture
def login(client: FlaskClient, team: Team) -> Callable[..., FlaskClient]:
    """``login(Role.STAFF)`` logs the client in as that member of ``team``."""

    def do(role: Role = Role.OWNER, who: Team | None = None) -> FlaskClient:
        user = (who or team).users[role]
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return do


@dataclass(frozen=True)
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Inbox:
    """An aiosmtpd handler: every message the server accepts lands in ``deliveries``."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.deliveries.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def inbox(
    app: Flask, smtp_server: tuple[Controller, Inbox], monkeypatch: pytest.MonkeyPatch
) -> Inbox:
    """Point the portal's mailer at the SMTP server for this test; starts empty."""
    controller, inbox = smtp_server
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", controller.port)
    monkeypatch.setitem(app.config, "SMTP_SECURITY", "none")
    inbox.deliveries.clear()
    return inbox
