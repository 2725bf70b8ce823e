"""A backup taken on SQLite restores into PostgreSQL, and the other way round."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from portal import create_app
from portal.extensions import db as _db
from portal.models import Client
from portal.services import audit
from tests.backups.conftest import build_business, files, rows, wipe
from tests.conftest import is_postgres, make_team, xdist_worker

PG_NAME = f"invoice_lite_test_backups_pg_{xdist_worker()}"


def _postgres_url() -> str:
    url = os.environ.get("DATABASE_URL") if is_postgres() else None
    base = make_url(
        (url or "postgresql://postgres@127.0.0.1:5432/postgres").replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    )
    return base.set(database=PG_NAME).render_as_string(hide_password=False)


def _admin(url: str) -> Any:
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture
def other(
    app: Flask, keys: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """An empty, migrated database on the engine the suite is not using, with its own
    instance folder and the same key ring."""
    postgres = None
    if is_postgres():
        url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    else:
        url = postgres = _postgres_url()
        admin = _admin(url)
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
        except OperationalError:
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        finally:
            admin.dispose()
    monkeypatch.setenv("INVOICE_LITE_INSTANCE_PATH", str(tmp_path / "other-instance"))
    second = create_app(
        {
            "ENV_NAME": "testing",
            "TESTING": True,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "SQLALCHEMY_DATABASE_URI": url,
            "ARGON2_PROFILE": "CHEAPEST",
            "PUBLIC_URL": "http://127.0.0.1",
            "SMTP_HOST": None,
            "BACKUP_KEYS": keys,
        }
    )
    with second.app_context():
        upgrade()
    yield second
    with second.app_context():
        _db.session.remove()
        _db.engine.dispose()
    if postgres is not None:
        admin = _admin(postgres)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        admin.dispose()


def test_a_backup_crosses_engines_both_ways(app: Flask, db: Any, other: Flask, tmp_path: Path):
    build_business()
    here, here_files = rows(), files()
    there = tmp_path / "here.ilbk"
    assert app.test_cli_runner().invoke(args=["backup", "-o", str(there)]).exit_code == 0

    # A command runs against the app whose context is current.
    with other.app_context():
        result = other.test_cli_runner().invoke(args=["restore", str(there)])
        assert result.exit_code == 0, result.output
        assert rows() == here
        assert files() == here_files
        assert audit.verify_chains().ok
        back = tmp_path / "there.ilbk"
        assert other.test_cli_runner().invoke(args=["backup", "-o", str(back)]).exit_code == 0
        _db.session.remove()

    wipe()
    for name in here_files:
        (Path(app.instance_path) / name).unlink()
    result = app.test_cli_runner().invoke(args=["restore", str(back)])
    assert result.exit_code == 0, result.output
    assert rows() == here
    assert files() == here_files
    assert audit.verify_chains().ok


def test_a_row_postgresql_cannot_hold_leaves_it_unchanged(
    app: Flask, db: Any, other: Flask, tmp_path: Path
):
    """SQLite does not enforce lengths; PostgreSQL refuses the row, and the whole restore."""
    sqlite, postgres = (other, app) if is_postgres() else (app, other)
    path = tmp_path / "long.ilbk"
    with sqlite.app_context():
        build_business()
        _db.session.execute(text("UPDATE clients SET name = :name"), {"name": "N" * 300})
        _db.session.commit()
        _db.session.remove()
        assert sqlite.test_cli_runner().invoke(args=["backup", "-o", str(path)]).exit_code == 0
        if sqlite is app:
            wipe()
    with postgres.app_context():
        make_team("Already Here")
        before = rows()
        result = postgres.test_cli_runner().invoke(args=["restore", str(path), "--yes"])
        assert result.exit_code == 1
        assert "The rows of clients could not be written: value too long for type " in (
            result.output
        )
        assert "Nothing was changed." in result.output
        assert rows() == before
        assert _db.session.scalar(select(func.count(Client.id))) == 0
        _db.session.remove()
