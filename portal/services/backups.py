"""Backups: one encrypted archive of the whole database and the instance's stored files.

An archive (``.ilbk``) is sealed in layers, outermost first:

- ``ILBACKUP``, a 4-byte header length and a JSON header (format, cipher, key id, salt); the
  header is authenticated with every chunk, so changing it breaks them all.
- AES-256-GCM chunks of up to 1 MiB (4-byte length + ciphertext and tag). The archive key is
  derived (HKDF-SHA256, random salt) from a key of ``INVOICE_LITE_BACKUP_KEYS``; the nonce is
  the chunk's number and a flag on the last one, so reordered, dropped or appended chunks fail
  like a changed byte does (the STREAM construction).
- Inside: a zstandard stream of a tar with ``database/<nnn>-<table>/<part>.jsonl`` (one JSON
  object per row, tables in dependency order), ``files/<path>`` (the instance folder's stored
  files) and, last, ``manifest.json`` (versions, revision, row counts, sha256 of every member).

Restoring reads the archive twice and never holds it in memory or writes it out in clear: the
first pass proves it authentic and complete; the second writes it in one transaction.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from importlib import metadata as package_metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

import zstandard
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Date,
    DateTime,
    Enum,
    Integer,
    Interval,
    LargeBinary,
    Numeric,
    Table,
    Time,
    TypeDecorator,
    Uuid,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import BINARY, VARBINARY, Float, TypeEngine

from portal.extensions import db
from portal.models.base import utcnow

FORMAT = 1
MAGIC = b"ILBACKUP"
SUFFIX = ".ilbk"
CHUNK = 1024 * 1024
TAG = 16
KEY_BYTES = 32
# Rows are written in parts of about this size, so neither side holds a whole table.
PART_BYTES = 4 * 1024 * 1024
BATCH = 500
HKDF_INFO = b"invoice-lite backup v1"
MANIFEST = "manifest.json"

KEY_HELP = (
    "Make one with `invoice-lite backup --new-key`, keep a copy apart from the backups, and "
    "list keys newest first (separated by spaces or commas) in INVOICE_LITE_BACKUP_KEYS."
)
DAMAGED = (
    "The backup failed its authenticity check: it was changed or damaged after it was "
    "written, or it is incomplete."
)

# What lives in the instance folder but is not stored data: the live SQLite files (the dump
# holds the database), the local development key, backups and files still being written.
SKIPPED_NAMES = frozenset({"dev-secret-key"})
SKIPPED_SUFFIXES = (SUFFIX, ".part", "-wal", "-shm", "-journal")
STAGING_PREFIX = ".restore-"

Progress = Callable[[int], object]


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


class BackupRefused(BackupError):
    """The archive is sound but restoring it here would be wrong (revision, data present)."""


# --- keys ---------------------------------------------------------------------------------


def new_key() -> str:
    """A fresh key for INVOICE_LITE_BACKUP_KEYS: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_ring(entries: Sequence[str]) -> list[bytes]:
    """The keys of INVOICE_LITE_BACKUP_KEYS, newest first; refuses an empty or bad ring."""
    if not entries:
        raise BackupError(
            f"INVOICE_LITE_BACKUP_KEYS is not set: backups are always encrypted. {KEY_HELP}"
        )
    ring = []
    for number, entry in enumerate(entries, start=1):
        try:
            key = base64.urlsafe_b64decode(entry.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            key = b""
        if len(key) != KEY_BYTES:
            raise BackupError(
                f"Key {number} in INVOICE_LITE_BACKUP_KEYS is not 32 bytes of URL-safe base64. "
                + KEY_HELP
            )
        ring.append(key)
    return ring


def key_id(key: bytes) -> str:
    """Names the key in the archive's header without giving anything of it away."""
    return hashlib.sha256(b"invoice-lite backup key id\x00" + key).hexdigest()[:16]


def _archive_key(key: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=HKDF_INFO).derive(key)
    return AESGCM(derived)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


# --- the sealed stream --------------------------------------------------------------------


class _Sealer:
    """A write-only stream that encrypts what it is given in authenticated chunks."""

    def __init__(self, out: IO[bytes], key: bytes) -> None:
        salt = os.urandom(16)
        header = json.dumps(
            {
                "format": FORMAT,
                "cipher": "AES-256-GCM",
                "kdf": "HKDF-SHA256",
                "key_id": key_id(key),
                "salt": base64.b64encode(salt).decode(),
                "chunk": CHUNK,
                "compression": "zstd",
            },
            sort_keys=True,
        ).encode()
        self._aad = MAGIC + len(header).to_bytes(4, "big") + header
        self._out = out
        self._aead = _archive_key(key, salt)
        self._buffer = bytearray()
        self._counter = 0
        self.closed = False
        out.write(self._aad)

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def flush(self) -> None:
        """Nothing to do: chunks are written whole, and the last one on ``close``."""

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True

    def _seal(self, plaintext: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._counter, last), plaintext, self._aad)
        self._out.write(len(sealed).to_bytes(4, "big") + sealed)
        self._counter += 1


class _Opener:
    """A read-only stream of what a sealed archive holds; raises at the first unproven byte."""

    def __init__(self, source: IO[bytes], ring: Sequence[bytes], progress: Progress) -> None:
        self._source = source
        self._progress = progress
        if self._read(len(MAGIC)) != MAGIC:
            raise BackupError("This file is not an Invoice Lite backup.")
        length = int.from_bytes(self._read(4), "big")
        raw = self._read(length) if length <= 4096 else b""
        try:
            header = json.loads(raw)
            salt = base64.b64decode(header["salt"])
            wanted = str(header["key_id"])
        except (ValueError, KeyError, TypeError):
            raise BackupError(DAMAGED) from None
        if header.get("format") != FORMAT:
            raise BackupError(
                f"This backup has format {header.get('format')!r}; this version reads format "
                f"{FORMAT}. Restore it with the Invoice Lite version that wrote it."
            )
        key = next((k for k in ring if key_id(k) == wanted), None)
        if key is None:
            raise BackupError(
                f"No key in INVOICE_LITE_BACKUP_KEYS opens this backup (it was written with key "
                f"{wanted}). Add that key to the ring; old keys stay listed after newer ones."
            )
        self._aad = MAGIC + length.to_bytes(4, "big") + raw
        self._aead = _archive_key(key, salt)
        self._counter = 0
        self._buffer = bytearray()
        self._pending = self._frame()
        self.finished = False

    def _read(self, size: int) -> bytes:
        data = self._source.read(size)
        self._progress(len(data))
        return data

    def _frame(self) -> bytes | None:
        head = self._read(4)
        if not head:
            return None
        length = int.from_bytes(head, "big")
        body = self._read(length) if len(head) == 4 and TAG <= length <= CHUNK + TAG else b""
        if len(body) != length or not body:
            raise BackupError(DAMAGED)
        return body

    def _open_next(self) -> None:
        current = self._pending
        if current is None:
            raise BackupError(DAMAGED)
        self._pending = self._frame()
        last = self._pending is None
        try:
            plaintext = self._aead.decrypt(_nonce(self._counter, last), current, self._aad)
        except InvalidTag:
            raise BackupError(DAMAGED) from None
        self._counter += 1
        self._buffer += plaintext
        self.finished = last

    def read(self, size: int = -1) -> bytes:
        while not self.finished and (size < 0 or len(self._buffer) < size):
            self._open_next()
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def drain(self) -> None:
        """Read (and so authenticate) to the end, whatever the layers above have left."""
        while not self.finished:
            self._open_next()
        if self._buffer.strip(b"\x00"):
            # zstd and tar stop at their own ends; anything after them was not written by us.
            raise BackupError(DAMAGED)
        self._buffer.clear()


# --- columns and values -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    """How one column's values travel: read and written as ``storage``, in JSON as ``kind``."""

    name: str
    kind: str
    storage: TypeEngine[Any]
    bind: TypeEngine[Any]
    enum_class: type[enum.Enum] | None = None


def _storage_type(column_type: TypeEngine[Any]) -> TypeEngine[Any]:
    """A column's own type decorators are skipped: the stored value is what is kept, as is."""
    kind = column_type
    while isinstance(kind, TypeDecorator) and not isinstance(kind, Interval):
        kind = kind.impl_instance
    return kind


def _column(name: str, column_type: TypeEngine[Any]) -> _Column:
    storage = _storage_type(column_type)
    if isinstance(storage, JSON):
        # None binds as SQL NULL; JSON's own null is sent as JSON.NULL.
        bind: TypeEngine[Any] = type(storage)(none_as_null=True)
        return _Column(name, "json", storage, bind)
    if isinstance(storage, Enum) and storage.enum_class is not None:
        return _Column(name, "enum", storage, storage, storage.enum_class)
    kinds: list[tuple[type[TypeEngine[Any]] | tuple[type[TypeEngine[Any]], ...], str]] = [
        ((LargeBinary, BINARY, VARBINARY), "bytes"),
        (DateTime, "datetime"),
        (Date, "date"),
        (Time, "time"),
        (Interval, "interval"),
        (Uuid, "uuid"),
        (Float, "plain"),
    ]
    for types, kind in kinds:
        if isinstance(storage, types):
            return _Column(name, kind, storage, storage)
    if isinstance(storage, Numeric) and storage.asdecimal:
        return _Column(name, "decimal", storage, storage)
    return _Column(name, "plain", storage, storage)


def _columns(table: Table) -> list[_Column]:
    return [_column(c.name, c.type) for c in table.columns]


def _encode(column: _Column, value: Any, sql_null: bool = False) -> Any:
    kind = column.kind
    if kind == "json":
        return None if sql_null else json.dumps(value, sort_keys=True, ensure_ascii=False)
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind in {"datetime", "date", "time"}:
        return value.isoformat()
    if kind == "decimal":
        return str(value)
    if kind == "interval":
        return [value.days, value.seconds, value.microseconds]
    if kind == "uuid":
        return str(value)
    if kind == "enum":
        return value.name
    if isinstance(value, str | int | float | bool | list | dict):
        return value
    raise BackupError(
        f"Column {column.name} holds a {type(value).__name__}, which backups cannot write yet."
    )


def _decode(column: _Column, value: Any) -> Any:
    kind = column.kind
    if kind == "json":
        if value is None:
            return None
        loaded = json.loads(value)
        return JSON.NULL if loaded is None else loaded
    if value is None:
        return None
    decoders: dict[str, Callable[[Any], Any]] = {
        "bytes": base64.b64decode,
        "datetime": datetime.fromisoformat,
        "date": date.fromisoformat,
        "time": time.fromisoformat,
        "decimal": Decimal,
        "interval": lambda parts: timedelta(*parts),
        "uuid": uuid.UUID,
    }
    if kind == "enum" and column.enum_class is not None:
        return column.enum_class[value]
    decoder = decoders.get(kind)
    return decoder(value) if decoder is not None else value


# --- what is backed up --------------------------------------------------------------------


def code_revision() -> str:
    """The Alembic head this code's migrations end at."""
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    return ",".join(sorted(script.get_heads()))


def database_revision(conn: Connection) -> str:
    return ",".join(sorted(MigrationContext.configure(conn).get_current_heads()))


def app_version() -> str:
    try:
        return package_metadata.version("invoice-lite")
    except package_metadata.PackageNotFoundError:
        return "unknown"


def _instance() -> Path:
    return Path(current_app.instance_path).resolve()


def _live_database_files() -> set[Path]:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return set()
    path = Path(url.database).resolve()
    return {path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))}


def _is_stored_file(relative: PurePosixPath, instance: Path, live: set[Path]) -> bool:
    name = relative.name
    if relative.parts[0].startswith(STAGING_PREFIX) or name in SKIPPED_NAMES:
        return False
    if name.endswith(SKIPPED_SUFFIXES):
        return False
    return instance.joinpath(*relative.parts).resolve() not in live


def stored_files() -> Iterator[tuple[PurePosixPath, Path]]:
    """Every regular file of the instance folder that is data, in a stable order."""
    instance = _instance()
    live = _live_database_files()
    for folder, dirs, files in os.walk(instance):
        dirs.sort()
        here = Path(folder)
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            relative = PurePosixPath(path.relative_to(instance).as_posix())
            if _is_stored_file(relative, instance, live):
                yield relative, path


# --- writing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    tables: int
    rows: int
    files: int
    size: int


class _Members:
    """Adds members to the tar, remembering each one's size and sha256 for the manifest."""

    def __init__(self, tar: tarfile.TarFile, mtime: float) -> None:
        self.tar = tar
        self.mtime = mtime
        self.listed: dict[str, dict[str, Any]] = {}

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), int(self.mtime), 0o600
        self.tar.addfile(info, io.BytesIO(data))
        self.listed[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def add_file(self, name: str, path: Path) -> None:
        stat = path.stat()
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
        digest = hashlib.sha256()
        with path.open("rb") as source:
            self.tar.addfile(info, _Hashing(source, digest))
        self.listed[name] = {"size": stat.st_size, "sha256": digest.hexdigest()}


class _Hashing:
    def __init__(self, source: IO[bytes], digest: Any) -> None:
        self._source, self._digest = source, digest

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._digest.update(data)
        return data


def _ordered(conn: Connection, table: Table, columns: list[_Column]) -> Any:
    exprs: list[Any] = [
        type_coerce(table.c[c.name], c.storage).label(f"c{i}") for i, c in enumerate(columns)
    ]
    exprs += [
        table.c[c.name].is_(None).label(f"n{i}") for i, c in enumerate(columns) if c.kind == "json"
    ]
    stmt = select(*exprs)
    if table.primary_key.columns:
        stmt = stmt.order_by(*table.primary_key.columns)
    return conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)


def _dump_table(
    conn: Connection, index: int, table: Table, members: _Members, progress: Progress
) -> dict[str, Any]:
    columns = _columns(table)
    json_at = {i: n for n, i in enumerate(i for i, c in enumerate(columns) if c.kind == "json")}
    width = len(columns)
    part, parts, rows = io.BytesIO(), 0, 0

    def flush() -> None:
        nonlocal part, parts
        parts += 1
        members.add_bytes(f"database/{index:03d}-{table.name}/{parts:05d}.jsonl", part.getvalue())
        part = io.BytesIO()

    with closing(_ordered(conn, table, columns)) as result:
        for row in result:
            record = {
                c.name: _encode(c, row[i], bool(row[width + json_at[i]]) if i in json_at else False)
                for i, c in enumerate(columns)
            }
            part.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
            part.write(b"\n")
            rows += 1
            if part.tell() >= PART_BYTES:
                flush()
            if rows % BATCH == 0:
                progress(BATCH)
    if part.tell():
        flush()
    progress(rows % BATCH)
    return {"name": table.name, "rows": rows, "parts": parts, "columns": [c.name for c in columns]}


@contextmanager
def _snapshot() -> Iterator[Connection]:
    """One read transaction for the whole dump, so the tables agree with each other."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with conn.begin():
            yield conn


def write_backup(
    output: Path,
    keys: Sequence[str],
    *,
    progress: Progress = lambda n: None,
    planned: Progress = lambda total: None,
) -> BackupReport:
    """Write the database and the stored files to one sealed archive at ``output``.

    The archive appears under its name only when complete; it is readable by its owner alone.
    """
    key = key_ring(keys)[0]
    if output.exists():
        raise BackupError(f"{output} exists already; choose another --output.")
    tables = list(db.metadata.sorted_tables)
    files = list(stored_files())
    partial = output.with_name(output.name + ".part")
    created = utcnow()
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out, _snapshot() as conn:
            planned(
                sum(conn.scalar(select(func.count()).select_from(t)) or 0 for t in tables)
                + len(files)
            )
            revision = database_revision(conn)
            sealer = _Sealer(out, key)
            compressor = zstandard.ZstdCompressor(level=3)
            with (
                compressor.stream_writer(cast(IO[bytes], sealer), closefd=False) as packed,
                tarfile.open(fileobj=packed, mode="w|", format=tarfile.PAX_FORMAT) as tar,
            ):
                members = _Members(tar, created.timestamp())
                counts = [
                    _dump_table(conn, i, t, members, progress)
                    for i, t in enumerate(tables, start=1)
                ]
                for relative, path in files:
                    members.add_file(f"files/{relative}", path)
                    progress(1)
                manifest = {
                    "format": FORMAT,
                    "app": "invoice-lite",
                    "app_version": app_version(),
                    "alembic_revision": revision,
                    "created_at": created.isoformat(),
                    "database": conn.dialect.name,
                    "tables": counts,
                    "files": [str(relative) for relative, _ in files],
                    "members": members.listed,
                }
                members.add_bytes(MANIFEST, json.dumps(manifest, indent=1).encode())
            sealer.close()
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(
        output,
        len(tables),
        sum(c["rows"] for c in counts),
        len(files),
        output.stat().st_size,
    )


# --- reading ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Seen:
    """What a pass over the archive found: member digests and the manifest at the end."""

    digests: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(p in {"", ".", ".."} for p in path.parts):
        raise BackupError(DAMAGED)
    return path


def _table_of(name: PurePosixPath) -> str:
    if len(name.parts) != 3 or not name.name.endswith(".jsonl"):
        raise BackupError(DAMAGED)
    return name.parts[1].split("-", 1)[1]


def _walk(
    path: Path,
    ring: Sequence[bytes],
    progress: Progress,
    on_member: Callable[[str, IO[bytes]], dict[str, Any]],
) -> _Seen:
    """Open the archive and hand each member to ``on_member``; prove the whole file sound."""
    seen = _Seen()
    try:
        with path.open("rb") as raw:
            opener = _Opener(raw, ring, progress)
            reader = zstandard.ZstdDecompressor().stream_reader(
                cast(IO[bytes], opener), closefd=False
            )
            with reader, tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    if not member.isreg() or member.name in seen.digests:
                        raise BackupError(DAMAGED)
                    content = tar.extractfile(member)
                    if content is None:
                        raise BackupError(DAMAGED)
                    if member.name == MANIFEST:
                        seen.manifest = json.loads(content.read())
                        continue
                    if seen.manifest is not None:
                        raise BackupError(DAMAGED)
                    _safe_name(member.name)
                    seen.digests[member.name] = on_member(member.name, content)
                reader.read()
            opener.drain()
    except (tarfile.TarError, zstandard.ZstdError, ValueError, KeyError):
        raise BackupError(DAMAGED) from None
    manifest = seen.manifest
    if manifest is None or manifest.get("members") != seen.digests:
        raise BackupError(DAMAGED)
    return seen


def _digest_of(content: IO[bytes], sink: Callable[[bytes], object] | None = None) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    while block := content.read(CHUNK):
        digest.update(block)
        size += len(block)
        if sink is not None:
            sink(block)
    return {"size": size, "sha256": digest.hexdigest()}


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    app_version: str
    alembic_revision: str
    created_at: str
    database: str
    rows: dict[str, int]
    files: list[str]
    raw: dict[str, Any]


def verify_backup(
    path: Path, keys: Sequence[str], *, progress: Progress = lambda n: None
) -> Manifest:
    """Read the whole archive; its manifest if every byte is authentic and every member whole."""
    ring = key_ring(keys)
    lines: dict[str, int] = {}

    def check(name: str, content: IO[bytes]) -> dict[str, Any]:
        if name.startswith("database/"):
            table = _table_of(_safe_name(name))
            count = 0

            def count_lines(block: bytes) -> None:
                nonlocal count
                count += block.count(b"\n")

            digest = _digest_of(content, count_lines)
            lines[table] = lines.get(table, 0) + count
            return digest
        if not name.startswith("files/"):
            raise BackupError(DAMAGED)
        return _digest_of(content)

    manifest = _walk(path, ring, progress, check).manifest
    if manifest is None:
        raise BackupError(DAMAGED)
    rows = {t["name"]: int(t["rows"]) for t in manifest["tables"]}
    if any(lines.get(name, 0) != count for name, count in rows.items()) or set(lines) - set(rows):
        raise BackupError(DAMAGED)
    return Manifest(
        format=int(manifest["format"]),
        app_version=str(manifest["app_version"]),
        alembic_revision=str(manifest["alembic_revision"]),
        created_at=str(manifest["created_at"]),
        database=str(manifest["database"]),
        rows=rows,
        files=list(manifest["files"]),
        raw=manifest,
    )


# --- restoring ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestoreReport:
    manifest: Manifest
    tables: int
    rows: int
    files: int
    replaced: bool


def _check_tables(manifest: Manifest) -> list[Table]:
    """The archive's tables, in its order, must be exactly the tables the code knows."""
    known = {t.name: t for t in db.metadata.sorted_tables}
    listed = [t["name"] for t in manifest.raw["tables"]]
    if sorted(listed) != sorted(known):
        missing = sorted(set(known) - set(listed))
        extra = sorted(set(listed) - set(known))
        raise BackupRefused(
            "This backup's tables differ from this code's "
            f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(extra) or 'none'}). "
            f"Restore it with Invoice Lite {manifest.app_version}."
        )
    for entry in manifest.raw["tables"]:
        if sorted(entry["columns"]) != sorted(c.name for c in known[entry["name"]].columns):
            raise BackupRefused(
                f"This backup's columns of {entry['name']} differ from this code's. "
                f"Restore it with Invoice Lite {manifest.app_version}."
            )
    return [known[name] for name in listed]


def _late_columns(order: list[Table]) -> dict[str, list[str]]:
    """Foreign keys to a table not yet written (a cycle, or the table itself): written NULL
    first and set once every row is in, so the database checks each key as usual."""
    position = {t.name: i for i, t in enumerate(order)}
    late: dict[str, list[str]] = {}
    for i, table in enumerate(order):
        for fk in table.foreign_keys:
            target = fk.column.table.name
            if position.get(target, i) >= i and fk.parent.nullable:
                late.setdefault(table.name, [])
                if fk.parent.name not in late[table.name]:
                    late[table.name].append(fk.parent.name)
    return late


def _has_data(conn: Connection, tables: Sequence[Table]) -> list[str]:
    return [
        t.name
        for t in tables
        if conn.scalar(select(literal(1)).select_from(t).limit(1)) is not None
    ]


def _clear(conn: Connection, order: list[Table], late: dict[str, list[str]]) -> None:
    for table in order:
        for name in late.get(table.name, []):
            column = table.c[name]
            conn.execute(update(table).where(column.is_not(None)).values({column: None}))
    for table in reversed(order):
        conn.execute(table.delete())


class _TableWriter:
    """Inserts one table's rows in batches; keeps the late foreign keys for the end."""

    def __init__(self, conn: Connection, table: Table, late: list[str]) -> None:
        self.conn, self.table, self.late = conn, table, late
        self.columns = {c.name: c for c in _columns(table)}
        self.insert = insert(table).values(
            {
                name: bindparam(f"p{i}", type_=column.bind)
                for i, (name, column) in enumerate(self.columns.items())
            }
        )
        self.params = {name: f"p{i}" for i, name in enumerate(self.columns)}
        self.keys = [c.name for c in table.primary_key.columns]
        self.batch: list[dict[str, Any]] = []
        # (primary key, late foreign keys) of each row that has any.
        self.pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.rows = 0
        if late and not self.keys:
            raise BackupError(f"Table {table.name} has no primary key to set its links by.")

    def add(self, record: dict[str, Any]) -> None:
        values = {name: _decode(column, record.get(name)) for name, column in self.columns.items()}
        later = {name: values[name] for name in self.late if values[name] is not None}
        if later:
            self.pending.append(({f"k{i}": values[k] for i, k in enumerate(self.keys)}, later))
            values.update(dict.fromkeys(later))
        self.batch.append({self.params[name]: value for name, value in values.items()})
        self.rows += 1
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            _execute(self.conn, self.table, self.insert, self.batch)
            self.batch = []

    def link(self) -> None:
        """Set the late foreign keys, leaving timestamps as they were stored."""
        for name in self.late:
            rows = [{**key, "late": later[name]} for key, later in self.pending if name in later]
            if not rows:
                continue
            where = and_(
                *(
                    self.table.c[k] == bindparam(f"k{i}", type_=self.columns[k].bind)
                    for i, k in enumerate(self.keys)
                )
            )
            keep = {c: c for c in self.table.columns if c.onupdate is not None}
            stmt = (
                update(self.table)
                .where(where)
                .values(
                    {self.table.c[name]: bindparam("late", type_=self.columns[name].bind), **keep}
                )
            )
            for start in range(0, len(rows), BATCH):
                _execute(self.conn, self.table, stmt, rows[start : start + BATCH])


def _execute(conn: Connection, table: Table, stmt: Any, rows: list[dict[str, Any]]) -> None:
    try:
        conn.execute(stmt, rows)
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise BackupError(f"The rows of {table.name} could not be written: {reason}") from None


def _reset_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    """PostgreSQL hands out ids from sequences, which explicit ids do not move: move them."""
    if conn.dialect.name != "postgresql":
        return
    preparer = conn.dialect.identifier_preparer
    for table in tables:
        column = table.autoincrement_column
        if column is None or not isinstance(column.type, Integer | BigInteger):
            continue
        sequence = conn.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": preparer.format_table(table), "column": column.name},
        )
        if sequence is None:
            continue
        highest = conn.scalar(select(func.max(column)))
        conn.execute(
            text("SELECT setval(CAST(:sequence AS regclass), :value, :called)"),
            {"sequence": sequence, "value": highest or 1, "called": highest is not None},
        )


def _destination(instance: Path, relative: PurePosixPath) -> Path:
    target = instance.joinpath(*relative.parts).resolve()
    if instance not in target.parents:
        raise BackupError(DAMAGED)
    return target


def restore_backup(
    path: Path,
    keys: Sequence[str],
    *,
    replace: bool = False,
    progress: Progress = lambda n: None,
    planned: Progress = lambda total: None,
) -> RestoreReport:
    """Bring the database and the stored files back from an archive, all or nothing.

    The archive is read once to prove it sound before anything changes; then every row is
    written in one transaction, and the files are moved into place once it has committed.
    """
    ring = key_ring(keys)
    planned(2 * path.stat().st_size)
    manifest = verify_backup(path, keys, progress=progress)
    order = _check_tables(manifest)
    instance = _instance()
    live = _live_database_files()
    files = {name: _destination(instance, _safe_name(name)) for name in manifest.files}
    if not all(_is_stored_file(PurePosixPath(name), instance, live) for name in files):
        raise BackupRefused("This backup holds a file where the live database is kept.")
    late = _late_columns(order)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=instance))
    try:
        with db.engine.connect() as conn, conn.begin():
            revision = code_revision()
            if manifest.alembic_revision != revision:
                raise BackupRefused(
                    f"This backup was taken at database revision {manifest.alembic_revision}, "
                    f"this code is at {revision}. Restore it with the Invoice Lite version that "
                    f"wrote it ({manifest.app_version}), then upgrade."
                )
            if database_revision(conn) != revision:
                raise BackupRefused(
                    f"This database is at revision {database_revision(conn) or 'none'}, the "
                    f"code at {revision}: run `invoice-lite db upgrade` first."
                )
            present = _has_data(conn, order)
            if present and not replace:
                raise BackupRefused(
                    f"The database already holds data (in {len(present)} tables, such as "
                    f"{', '.join(present[:3])}). Restore into an empty database, or pass --yes "
                    "to replace everything in it."
                )
            if present:
                _clear(conn, order, late)
            writers: dict[str, _TableWriter] = {}

            def write(name: str, content: IO[bytes]) -> dict[str, Any]:
                if name.startswith("files/"):
                    target = staging.joinpath(*_safe_name(name).parts[1:])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with target.open("wb") as out:
                        return _digest_of(content, out.write)
                table = _table_of(_safe_name(name))
                data = content.read()
                writer = writers.get(table)
                if writer is None:
                    for done in writers.values():
                        done.flush()
                    position = [t.name for t in order].index(table)
                    writer = writers[table] = _TableWriter(
                        conn, order[position], late.get(table, [])
                    )
                for line in data.split(b"\n"):
                    if line:
                        writer.add(json.loads(line))
                return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

            seen = _walk(path, ring, progress, write)
            if seen.manifest != manifest.raw:
                raise BackupError(DAMAGED)
            for writer in writers.values():
                writer.flush()
            if any(w.rows != manifest.rows[name] for name, w in writers.items()):
                raise BackupError(DAMAGED)
            for writer in writers.values():
                writer.link()
            _reset_sequences(conn, order)
        for name, target in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging.joinpath(*PurePosixPath(name).parts), target)
    finally:
        with suppress(OSError):
            shutil.rmtree(staging)
    return RestoreReport(
        manifest,
        len(order),
        sum(manifest.rows.values()),
        len(files),
        replaced=bool(present),
    )
