"""The sealed stream on its own, and how column values travel through JSON."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Interval,
    LargeBinary,
    Numeric,
    String,
    Time,
    Uuid,
)

from portal.models import DocumentKind
from portal.models.base import UTCDateTime
from portal.services import backups
from portal.services.backups import _column, _decode, _encode, _Opener, _Sealer

KEY = backups.key_ring([backups.new_key()])[0]
FRAME = 4 + backups.CHUNK + backups.TAG


def seal(data: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    sealer = _Sealer(out, key)
    for start in range(0, len(data), 70_000):
        sealer.write(data[start : start + 70_000])
    sealer.close()
    return out.getvalue()


def open_all(sealed: bytes, ring: list[bytes] | None = None) -> bytes:
    opener = _Opener(io.BytesIO(sealed), ring or [KEY], lambda n: None)
    data = opener.read()
    opener.drain()
    return data


def body(sealed: bytes) -> int:
    header = int.from_bytes(sealed[len(backups.MAGIC) : len(backups.MAGIC) + 4], "big")
    return len(backups.MAGIC) + 4 + header


@pytest.mark.parametrize("size", [0, 1, backups.CHUNK, backups.CHUNK + 1, 3 * backups.CHUNK + 5])
def test_what_is_sealed_opens_the_same(size: int):
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    sealed = seal(data)
    assert open_all(sealed) == data
    assert size < 64 or data[:64] not in sealed[body(sealed) :]


def test_each_archive_has_its_own_salt():
    assert seal(b"same")[body(seal(b"same")) :] != seal(b"same")[body(seal(b"same")) :]


@pytest.mark.parametrize(
    "change", ["drop the last chunk", "drop a middle chunk", "swap two chunks", "repeat a chunk"]
)
def test_whole_chunks_cannot_be_dropped_moved_or_added(change: str):
    sealed = seal(b"a" * backups.CHUNK * 3 + b"tail")
    start = body(sealed)
    head = sealed[:start]
    frames = [sealed[start + i * FRAME : start + (i + 1) * FRAME] for i in range(4)]
    assert len(frames[3]) < FRAME
    changed = {
        "drop the last chunk": frames[:3],
        "drop a middle chunk": [frames[0], frames[2], frames[3]],
        "swap two chunks": [frames[1], frames[0], frames[2], frames[3]],
        "repeat a chunk": [*frames, frames[3]],
    }[change]
    with pytest.raises(backups.BackupError, match=re.escape(backups.DAMAGED)):
        open_all(head + b"".join(changed))


def test_only_the_key_that_wrote_it_opens_it():
    other = backups.key_ring([backups.new_key()])[0]
    sealed = seal(b"secret ledger")
    with pytest.raises(backups.BackupError, match="No key in INVOICE_LITE_BACKUP_KEYS opens"):
        open_all(sealed, [other])
    assert open_all(sealed, [other, KEY]) == b"secret ledger"


def test_an_empty_ring_is_refused():
    with pytest.raises(backups.BackupError, match="INVOICE_LITE_BACKUP_KEYS is not set"):
        backups.key_ring([])


AWARE = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("column_type", "value", "written"),
    [
        (Numeric(20, 6), Decimal("1234567890.123456"), "1234567890.123456"),
        (Numeric(7, 4), Decimal("-0.0001"), "-0.0001"),
        (Float(), 0.1, 0.1),
        (Integer(), 2**62, 2**62),
        (Boolean(), True, True),
        (String(20), "Søn & Café ✓", "Søn & Café ✓"),
        (Date(), date(2026, 2, 28), "2026-02-28"),
        (DateTime(), datetime(2026, 3, 1, 12, 30), "2026-03-01T12:30:00"),
        (DateTime(timezone=True), AWARE, "2026-03-01T12:30:15.123456+00:00"),
        (Time(), time(23, 59, 1), "23:59:01"),
        (Interval(), timedelta(days=2, seconds=5, microseconds=7), [2, 5, 7]),
        (LargeBinary(), b"\x00\xffPDF", "AP9QREY="),
        (Uuid(), uuid.UUID(int=7), "00000000-0000-0000-0000-000000000007"),
        (Enum(DocumentKind), DocumentKind.CREDIT_NOTE, "CREDIT_NOTE"),
        (JSON(), {"b": [1, "2", None], "a": {"x": 1.5}}, '{"a": {"x": 1.5}, "b": [1, "2", null]}'),
    ],
)
def test_values_keep_their_type(column_type: Any, value: Any, written: Any):
    column = _column("c", column_type)
    assert _encode(column, value) == written
    assert _decode(column, written) == value
    assert type(_decode(column, written)) is type(value)
    assert _encode(column, None, sql_null=True) is None and _decode(column, None) is None


def test_json_null_and_sql_null_stay_apart():
    column = _column("c", JSON())
    assert _encode(column, None) == "null"
    assert _decode(column, "null") is JSON.NULL
    assert _encode(column, None, sql_null=True) is None
    assert _decode(column, None) is None


def test_a_decorated_column_keeps_what_is_stored():
    """UTCDateTime hands out aware datetimes; the archive keeps the stored naive UTC."""
    column = _column("created_at", UTCDateTime())
    assert column.kind == "datetime"
    stored = datetime(2026, 3, 1, 12, 30)
    assert _decode(column, _encode(column, stored)) == stored
