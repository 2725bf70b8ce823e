"""Malformed envelopes: each problem with its exact pointer and message, and nothing written."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from integrations import envelope as env
from portal.models import AuditEvent, Client, Document
from portal.services import envelopes
from portal.services.envelopes import EnvelopeRefused
from tests.envelope.conftest import SECRET, sound_invoice

KEYS = {"partner": env.hmac_key(SECRET)}
HELLO_SHA = hashlib.sha256(b"hello").hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.strip("/").split("/")]
        node: Any = doc
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()


def _signed_then(change: Callable[[dict[str, Any]], None], key_id: str = "partner"):
    def make() -> str:
        doc = env.sign_hmac(sound_invoice(), key_id, SECRET)
        change(doc)
        return json.dumps(doc)

    return make


def _mutated(*changes: Callable[[dict[str, Any]], None]):
    def make() -> str:
        doc = sound_invoice()
        for change in changes:
            change(doc)
        return json.dumps(doc)

    return make


def _raw(text: str):
    return lambda: text


CASES: dict[str, tuple[Callable[[], str], list[tuple[str, str]]]] = {
    "invalid JSON": (
        _raw('{"envelope_version": "1.0",\n  "id": }'),
        [("", "not valid JSON: Expecting value at line 2, column 9")],
    ),
    "not UTF-8": (
        lambda: b'{"id": "\xff"}',  # type: ignore[return-value, dict-item]
        [("", "the file is not UTF-8 text (byte 8 is invalid)")],
    ),
    "not an object": (_raw("[1, 2]"), [("", "an envelope must be a JSON object")]),
    "unknown version": (
        _mutated(_set("/envelope_version", "2.0")),
        [("/envelope_version", "unknown envelope version '2.0'; this reader knows 1.0")],
    ),
    "missing id": (_mutated(_set("/id", _DELETE)), [("/id", "id is required")]),
    "bad ULID": (
        _mutated(_set("/id", "01JQ0Z8D5W3H2K9V7X4Y6T1R0U")),  # U is not Crockford base32
        [("/id", "id must be a ULID: 26 characters of Crockford base32")],
    ),
    "truncated base64": (
        _mutated(_set("/attachments/0/data", _b64(b"hello")[:-2])),
        [("/attachments/0/data", "data is truncated: 6 base64 characters is not a multiple of 4")],
    ),
    "invalid base64": (
        _mutated(_set("/attachments/0/data", "aGVs*G8=")),
        [("/attachments/0/data", "data is not base64: it holds other characters")],
    ),
    "wrong checksum": (
        _mutated(_set("/attachments/0/sha256", "0" * 64)),
        [("/attachments/0/sha256", f"sha256 does not match the data (the data's is {HELLO_SHA})")],
    ),
    "wrong size": (
        _mutated(_set("/attachments/0/size", 6)),
        [("/attachments/0/size", "size says 6 bytes but the data holds 5")],
    ),
    "bad gzip": (
        _mutated(
            _set("/attachments/0/encoding", "gzip"),
            _set("/attachments/0/data", _b64(b"plain, not gzip")),
        ),
        [
            (
                "/attachments/0/data",
                "data is not valid gzip: Error -3 while decompressing data: incorrect header check",
            )
        ],
    ),
    "truncated gzip": (
        _mutated(
            _set("/attachments/0/encoding", "gzip"),
            _set("/attachments/0/data", _b64(gzip.compress(b"hello", mtime=0)[:-6])),
        ),
        [("/attachments/0/data", "data is not valid gzip: it ends early")],
    ),
    "bad zstd": (
        _mutated(
            _set("/attachments/0/encoding", "zstd"),
            _set("/attachments/0/data", _b64(b"plain, not zstd")),
        ),
        [
            (
                "/attachments/0/data",
                "data is not valid zstd: zstd decompress error: Unknown frame descriptor",
            )
        ],
    ),
    "unknown encoding": (
        _mutated(_set("/attachments/0/encoding", "brotli")),
        [("/attachments/0/encoding", "unknown encoding 'brotli'; use one of: none, gzip, zstd")],
    ),
    "lowercase currency": (
        _mutated(_set("/payload/currency", "eur")),
        [("/payload/currency", "currency code 'eur' must be upper case: 'EUR'")],
    ),
    "amount as float": (
        _mutated(_set("/payload/totals/total", 100.0)),
        [
            (
                "/payload/totals/total",
                "amount is the bare number 100.0; write money as "
                '{"minor": 1250, "currency": "EUR"}',
            )
        ],
    ),
    "minor as float": (
        _mutated(_set("/payload/totals/total/minor", 10000.5)),
        [
            (
                "/payload/totals/total/minor",
                "minor must be a whole number of minor units, not the float 10000.5",
            )
        ],
    ),
    "amount as string": (
        _mutated(_set("/payload/totals/total", "100.00")),
        [
            (
                "/payload/totals/total",
                'amount is the string \'100.00\'; write {"minor": 10000, "currency": "EUR"} '
                "(check --repair does this)",
            )
        ],
    ),
    "unknown currency": (
        _mutated(_set("/payload/totals/total/currency", "QQQ")),
        [("/payload/totals/total/currency", "'QQQ' is not an ISO 4217 currency code")],
    ),
    "money in another currency": (
        _mutated(_set("/payload/totals/total/currency", "USD")),
        [("/payload/totals/total/currency", "amount is in USD, but the invoice is in EUR")],
    ),
    "unknown type": (
        _mutated(_set("/type", "order")),
        [("/type", "type must be one of: invoice, client, payments, batch")],
    ),
    "line without quantity": (
        _mutated(_set("/payload/lines/0/quantity", _DELETE)),
        [("/payload/lines/0/quantity", "quantity is required")],
    ),
    "quantity as a number": (
        _mutated(_set("/payload/lines/0/quantity", 2)),
        [
            (
                "/payload/lines/0/quantity",
                'quantity must be a decimal number written as a string, like "12.50"',
            )
        ],
    ),
    "unexpected field": (
        _mutated(_set("/payload/lines/0/colour", "red")),
        [("/payload/lines/0/colour", "colour is not a field of this object")],
    ),
    "impossible date": (
        _mutated(_set("/created_at", "2026-02-30T09:30:00Z")),
        [("/created_at", "'2026-02-30T09:30:00Z' is not a real time")],
    ),
    "tampered signed envelope": (
        _signed_then(_set("/payload/lines/0/unit_price", "5")),
        [("/signature/value", "the signature does not match the content: it was changed")],
    ),
    "unknown key id": (
        _signed_then(lambda doc: None, key_id="nobody"),
        [("/signature/key_id", "no key is known with id 'nobody'")],
    ),
    "unsigned where a signature is required": (
        lambda: "REQUIRE",
        [("/signature", "the envelope is not signed")],
    ),
}


def _problems(make: Callable[[], str]) -> list[tuple[str, str]]:
    raw = make()
    if raw == "REQUIRE":
        found = env.check(json.dumps(sound_invoice()), KEYS, require_signature=True)
    else:
        found = env.check(raw, KEYS)
    return [(p.pointer, p.message) for p in found]


@pytest.mark.parametrize("name", CASES)
def test_each_problem_has_its_pointer_and_message(name: str) -> None:
    make, expected = CASES[name]
    assert _problems(make) == expected


def _count(db) -> tuple[int, int, int]:
    db.session.expire_all()
    return tuple(
        db.session.scalar(select(func.count()).select_from(m))
        for m in (Client, Document, AuditEvent)
    )


def test_nothing_is_written_for_any_malformed_envelope(team, db, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "ENVELOPE_KEYS", {"partner": "hmac:" + _b64(SECRET)})
    actor = team.actor()
    before = _count(db)
    for name, (make, expected) in CASES.items():
        raw = make()
        require = raw == "REQUIRE"
        raw = json.dumps(sound_invoice()) if require else raw
        with pytest.raises(EnvelopeRefused) as refused:
            envelopes.import_envelope(actor, raw, allow_unsigned=not require)
        assert [(p.pointer, p.message) for p in refused.value.problems] == expected, name
    assert _count(db) == before


def test_the_sound_envelope_has_no_problems_and_imports(team, db) -> None:
    assert env.check(json.dumps(sound_invoice())) == []
    result = envelopes.import_envelope(
        team.actor(), json.dumps(sound_invoice()), allow_unsigned=True
    )
    assert [i.kind for i in result.items] == ["client", "invoice"]


def test_problems_print_as_pointer_and_message() -> None:
    assert str(env.Problem("/id", "schema.required", "id is required")) == "/id: id is required"
    assert str(env.Problem("", "json.invalid", "not valid JSON")) == "/: not valid JSON"
