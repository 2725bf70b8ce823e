"""Back up, wipe, restore: every row and every file comes back as it was."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import JSON, func, select

from portal.extensions import db as _db
from portal.models import Business, Client, Document, Membership, Role, User
from portal.services import audit, backups
from portal.services.actors import Actor
from tests.backups.conftest import build_business, files, remove_files, rows, wipe
from tests.services import factories as f


def sql_nulls() -> dict[str, int]:
    """How many JSON values are SQL NULL rather than JSON null, per column."""
    counts = {}
    with _db.engine.connect() as conn:
        for table in _db.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, JSON):
                    stmt = select(func.count()).select_from(table).where(column.is_(None))
                    counts[f"{table.name}.{column.name}"] = conn.scalar(stmt)
    return counts


def owner_of(slug: str) -> Actor:
    user = _db.session.scalars(select(User).where(User.email == f"owner@{slug}.example")).one()
    member = _db.session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
    business = _db.session.get(Business, member.business_id)
    assert business is not None
    return Actor(user, business, Role.OWNER)


def test_every_row_and_file_comes_back(app: Flask, db: Any, keys: list[str], tmp_path: Path):
    built = build_business()
    before, stored, nulls = rows(), files(), sql_nulls()
    assert built.invoices >= 3
    # Invoices made by a schedule point at it, and it at the last one: a cycle of keys.
    assert (
        _db.session.scalar(select(func.count(Document.id)).where(Document.schedule_id.is_not(None)))
        == 3
    )
    assert before["rendered_files"] and before["audit_events"] and before["payments"]
    assert f"exports/{built.export.parent.name}/{built.export.name}" in stored
    assert stored[f"exports/{built.export.parent.name}/{built.export.name}"].startswith(b"PK")
    archive = tmp_path / "nightly.ilbk"

    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", "--output", str(archive)])
    assert result.exit_code == 0, result.output
    total = sum(len(r) for r in before.values())
    tables = len(_db.metadata.sorted_tables)
    assert f"Backed up {total} rows of {tables} tables and {len(stored)} files to {archive}" in (
        result.output
    )
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert b"Corner Shop" not in archive.read_bytes()

    wipe()
    remove_files()
    assert not any(rows().values()) and not files()

    result = runner.invoke(args=["restore", str(archive)])
    assert result.exit_code == 0, result.output
    assert f"Restored {total} rows of {tables} tables and {len(stored)} files" in result.output
    after = rows()
    for table, table_rows in before.items():
        assert after[table] == table_rows, table
    assert files() == stored
    assert sql_nulls() == nulls

    report = audit.verify_chains()
    assert report.ok and report.events == len(before["audit_events"])
    # New rows take ids after the restored ones.
    client = f.client(owner_of("backup-bakery"), name="After the restore")
    assert client.id > max(r[0] for r in before["clients"])
    assert _db.session.scalar(select(func.count(Client.id))) == len(before["clients"]) + 1


def test_the_manifest_counts_rows_and_hashes_every_member(
    app: Flask, db: Any, keys: list[str], tmp_path: Path
):
    build_business()
    before, stored = rows(), files()
    archive = tmp_path / "b.ilbk"
    with app.app_context():
        backups.write_backup(archive, keys)
        manifest = backups.verify_backup(archive, keys)
        assert manifest.alembic_revision == backups.code_revision()
    assert manifest.format == 1
    assert manifest.database == _db.engine.dialect.name
    assert manifest.rows == {table: len(r) for table, r in before.items()}
    assert [t["name"] for t in manifest.raw["tables"]] == [
        t.name for t in _db.metadata.sorted_tables
    ]
    assert manifest.files == sorted(stored)
    members = manifest.raw["members"]
    assert {name for name in members if name.startswith("files/")} == {
        f"files/{name}" for name in stored
    }
    assert all(len(m["sha256"]) == 64 for m in members.values())


def test_a_large_table_is_written_in_parts(
    app: Flask, db: Any, keys: list[str], tmp_path: Path, monkeypatch: Any
):
    """Rows travel in parts of bounded size, so neither side holds a whole table."""
    actor = build_business() and owner_of("backup-bakery")
    for n in range(30):
        f.client(actor, name=f"Client {n:02d}", notes="x" * 200)
    before = rows()
    monkeypatch.setattr(backups, "PART_BYTES", 1024)
    archive = tmp_path / "parts.ilbk"
    with app.app_context():
        backups.write_backup(archive, keys)
        manifest = backups.verify_backup(archive, keys)
    clients = next(t for t in manifest.raw["tables"] if t["name"] == "clients")
    assert clients["parts"] > 3
    wipe()
    result = app.test_cli_runner().invoke(args=["restore", str(archive)])
    assert result.exit_code == 0, result.output
    assert rows() == before
