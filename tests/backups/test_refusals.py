"""What restore refuses, and that a refusal changes nothing: keys, damage, data present,
another database revision."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from portal.extensions import db as _db
from portal.services import backups
from tests.backups.conftest import build_business, files, rows
from tests.conftest import make_team
from tests.services import factories as f

DAMAGED = re.escape(backups.DAMAGED + " Nothing was changed.")


@pytest.fixture
def archive(app: Flask, db: Any, keys: list[str], tmp_path: Path) -> Path:
    """A backup of one small business, taken with the ring's key."""
    team = make_team("Tiny Tea")
    f.issued_invoice(team.actor(), f.client(team.actor()))
    path = tmp_path / "tiny.ilbk"
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def restore(app: Flask, path: Path, *extra: str) -> Any:
    return app.test_cli_runner().invoke(args=["restore", str(path), *extra])


def test_backup_refuses_without_a_key(app: Flask, db: Any, tmp_path: Path, monkeypatch: Any):
    monkeypatch.setitem(app.config, "BACKUP_KEYS", [])
    out = tmp_path / "none.ilbk"
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(out)])
    assert result.exit_code == 1
    assert "INVOICE_LITE_BACKUP_KEYS is not set: backups are always encrypted." in result.output
    assert "invoice-lite backup --new-key" in result.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_key_that_is_not_a_key_is_named(app: Flask, db: Any, tmp_path: Path, monkeypatch: Any):
    monkeypatch.setitem(app.config, "BACKUP_KEYS", [backups.new_key(), "hunter2"])
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(tmp_path / "b.ilbk")])
    assert result.exit_code == 1
    assert "Key 2 in INVOICE_LITE_BACKUP_KEYS is not 32 bytes of URL-safe base64." in result.output


def test_new_key_prints_a_key_the_ring_accepts(app: Flask):
    result = app.test_cli_runner().invoke(args=["backup", "--new-key"])
    assert result.exit_code == 0
    assert len(backups.key_ring([result.output.strip()])[0]) == 32


def test_an_existing_file_is_not_overwritten(app: Flask, archive: Path):
    before = archive.read_bytes()
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(archive)])
    assert result.exit_code == 1
    assert f"{archive} exists already; choose another --output." in result.output
    assert archive.read_bytes() == before


def test_a_wrong_key_changes_nothing(app: Flask, archive: Path, monkeypatch: Any):
    f.client(make_team("Later Co").actor(), name="Made after the backup")
    before = rows()
    monkeypatch.setitem(app.config, "BACKUP_KEYS", [backups.new_key()])
    result = restore(app, archive, "--yes")
    assert result.exit_code == 1
    assert "No key in INVOICE_LITE_BACKUP_KEYS opens this backup (it was written with key" in (
        result.output
    )
    assert rows() == before


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


def _offset(data: bytes, where: str) -> int:
    body = _body_start(data)
    return {
        "header": data.index(b"AES-256-GCM") + 4,
        "salt": data.index(b'"salt": "') + 12,
        "key id": data.index(b'"key_id": "') + 13,
        "chunk length": body + 2,
        "first chunk": body + 4 + 10,
        "middle": len(data) // 2,
        "last byte": len(data) - 1,
    }[where]


@pytest.mark.parametrize(
    "where", ["header", "salt", "key id", "chunk length", "first chunk", "middle", "last byte"]
)
def test_a_flipped_byte_is_refused(app: Flask, archive: Path, where: str):
    _flip(archive, _offset(archive.read_bytes(), where))
    f.client(make_team("Later Co").actor(), name="Made after the backup")
    before = rows()
    result = restore(app, archive, "--yes")
    assert result.exit_code == 1, where
    if where == "key id":
        assert "No key in INVOICE_LITE_BACKUP_KEYS opens this backup" in result.output
    else:
        assert re.search(DAMAGED, result.output), result.output
    assert rows() == before


def test_the_magic_is_checked(app: Flask, archive: Path):
    _flip(archive, 0)
    result = restore(app, archive, "--yes")
    assert result.exit_code == 1
    assert "This file is not an Invoice Lite backup. Nothing was changed." in result.output


@pytest.mark.parametrize("change", ["cut at a chunk", "cut inside", "bytes appended"])
def test_a_cut_or_lengthened_archive_is_refused(
    app: Flask, db: Any, keys: list[str], tmp_path: Path, change: str, monkeypatch: Any
):
    """Dropping whole chunks from the end, or adding any, fails like a changed byte."""
    build_business()
    monkeypatch.setattr(backups, "CHUNK", 4096)
    path = tmp_path / "chunks.ilbk"
    with app.app_context():
        backups.write_backup(path, keys)
    data = path.read_bytes()
    frame = 4 + 4096 + 16
    if change == "cut at a chunk":
        data = data[: len(data) - (len(data) - _body_start(data)) % frame - frame]
    elif change == "cut inside":
        data = data[:-100]
    else:
        data += data[-frame:]
    path.write_bytes(data)
    before = rows()
    result = restore(app, path, "--yes")
    assert result.exit_code == 1
    assert re.search(DAMAGED, result.output), result.output
    assert rows() == before


def _body_start(data: bytes) -> int:
    return (
        len(backups.MAGIC)
        + 4
        + int.from_bytes(data[len(backups.MAGIC) : len(backups.MAGIC) + 4], "big")
    )


def test_the_ring_opens_backups_of_older_keys(
    app: Flask, archive: Path, key: str, tmp_path: Path, monkeypatch: Any
):
    """Rotation: the new key goes first; backups written with the old one still restore."""
    before = rows()
    newer = backups.new_key()
    monkeypatch.setitem(app.config, "BACKUP_KEYS", [newer, key])
    result = restore(app, archive, "--yes")
    assert result.exit_code == 0, result.output
    assert rows() == before

    fresh = tmp_path / "after-rotation.ilbk"
    assert app.test_cli_runner().invoke(args=["backup", "-o", str(fresh)]).exit_code == 0
    monkeypatch.setitem(app.config, "BACKUP_KEYS", [key])
    refused = restore(app, fresh, "--yes")
    assert refused.exit_code == 1 and "No key in INVOICE_LITE_BACKUP_KEYS" in refused.output
    monkeypatch.setitem(app.config, "BACKUP_KEYS", [newer])
    assert restore(app, fresh, "--yes").exit_code == 0


def test_a_database_with_data_is_replaced_only_when_told(app: Flask, archive: Path):
    at_backup = rows()
    f.client(make_team("Later Co").actor(), name="Made after the backup")
    before = rows()
    result = restore(app, archive)
    assert result.exit_code == 1
    assert "The database already holds data (in " in result.output
    assert "Restore into an empty database, or pass --yes to replace everything in it." in (
        result.output
    )
    assert rows() == before

    result = restore(app, archive, "--yes")
    assert result.exit_code == 0, result.output
    assert rows() == at_backup


@pytest.fixture
def revision(app: Flask) -> Iterator[Any]:
    """Set the database's recorded Alembic revision for a while; put it back afterwards."""
    with app.app_context():
        real = backups.code_revision()

    def set_to(value: str) -> None:
        with _db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": value})

    yield set_to
    set_to(real)


def test_a_backup_of_another_revision_is_refused(
    app: Flask, db: Any, keys: list[str], tmp_path: Path, revision: Any
):
    make_team("Old Times")
    path = tmp_path / "old.ilbk"
    revision("0123456789ab")
    assert app.test_cli_runner().invoke(args=["backup", "-o", str(path)]).exit_code == 0
    revision(backups.code_revision())
    before = rows()
    result = restore(app, path, "--yes")
    assert result.exit_code == 1
    assert (
        f"This backup was taken at database revision 0123456789ab, this code is at "
        f"{backups.code_revision()}. Restore it with the Invoice Lite version that wrote it"
    ) in result.output
    assert rows() == before


def test_a_database_behind_the_code_is_refused(app: Flask, archive: Path, revision: Any):
    before = rows()
    revision("0123456789ab")
    result = restore(app, archive, "--yes")
    assert result.exit_code == 1
    assert "This database is at revision 0123456789ab" in result.output
    assert "run `invoice-lite db upgrade` first." in result.output
    revision(backups.code_revision())
    assert rows() == before


def test_a_failed_restore_leaves_no_file_behind(
    app: Flask, db: Any, keys: list[str], tmp_path: Path
):
    """Files are staged and moved in only after the database has committed."""
    build_business()
    stored = files()
    path = tmp_path / "with-files.ilbk"
    assert app.test_cli_runner().invoke(args=["backup", "-o", str(path)]).exit_code == 0
    for name in stored:
        (Path(app.instance_path) / name).unlink()
    result = restore(app, path)  # refused: the database holds data
    assert result.exit_code == 1
    assert files() == {}
    assert not [p for p in Path(app.instance_path).iterdir() if p.name.startswith(".restore-")]
