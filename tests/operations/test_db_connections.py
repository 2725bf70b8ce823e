"""Pooled database connections: checked before use once idle, not between quick transactions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from portal import extensions
from portal.extensions import ping_when_idle
from tests.conftest import is_postgres

needs_postgres = pytest.mark.skipif(
    not is_postgres(), reason="ending a server's connection needs PostgreSQL"
)


@pytest.fixture
def engine(db: Any) -> Iterator[Engine]:
    """An engine of one pooled connection to the test database, pinged as the app's is."""
    engine = create_engine(db.engine.url, pool_size=1, max_overflow=0)
    ping_when_idle(engine)
    yield engine
    engine.dispose()


def _pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.pg_backend_pid())))


def _end(pid: int, url: Any) -> None:
    """End a server connection as a restart or a dropped network would, and wait until the
    server has let it go."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, f"connection {pid} still open"


@needs_postgres
def test_a_connection_lost_while_idle_is_replaced_before_use(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _pid(engine)
    _end(before, engine.url)
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 0.0)
    after = _pid(engine)
    assert after != before


@needs_postgres
def test_a_connection_lost_a_moment_after_use_fails_once_then_the_pool_recovers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The price of skipping the ping between quick transactions: one failure, then a new
    # connection.
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 3600.0)
    before = _pid(engine)
    _end(before, engine.url)
    with pytest.raises(OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert _pid(engine) != before


def test_a_connection_given_back_a_moment_ago_is_handed_out_without_a_ping(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    do_ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return do_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 3600.0)
    for _ in range(3):
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
    assert len(pings) == 1  # the new connection's first checkout only
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 0.0)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT 1")) == 1
    assert len(pings) == 2
