"""The envelope as plain JSON data: building it, its attachments, its canonical bytes."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

import zstandard
from babel.numbers import get_currency_precision, list_currencies
from ulid import ULID

ENVELOPE_VERSION = "1.0"
KNOWN_VERSIONS = frozenset({ENVELOPE_VERSION})
TYPES = ("invoice", "client", "payments", "batch")
ENCODINGS = ("none", "gzip", "zstd")
# Decompressed attachments larger than this are refused: a few KB of zstd can expand to GBs.
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024

EnvelopeType = Literal["invoice", "client", "payments", "batch"]
Encoding = Literal["none", "gzip", "zstd"]
Envelope = dict[str, Any]

# Where a payload of each type holds money objects; "*" matches any key or index. The schema
# says the same with ``$ref: money``; a test keeps the two in step.
MONEY_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "invoice": (
        ("lines", "*", "net"),
        ("lines", "*", "total"),
        ("taxes", "*", "base"),
        ("taxes", "*", "tax"),
        ("totals", "*"),
    ),
    "client": (),
    "payments": (
        ("payments", "*", "amount"),
        ("payments", "*", "allocations", "*", "amount"),
    ),
    "batch": (),
}


class AttachmentError(ValueError):
    """An attachment cannot be decoded; ``field`` names the member at fault."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


def pointer(*parts: str | int) -> str:
    """An RFC 6901 JSON pointer to ``parts`` ("" is the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def join(base: str, *parts: str | int) -> str:
    return base + pointer(*parts)


@cache
def currencies() -> frozenset[str]:
    return frozenset(str(c) for c in list_currencies())


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in currencies()


def currency_exponent(code: str) -> int:
    """Minor digits of a known currency (JPY 0, EUR 2, KWD 3)."""
    if not is_currency(code):
        raise ValueError(f"unknown currency code: {code!r}")
    return int(get_currency_precision(code))


def money(minor: int, currency: str) -> dict[str, Any]:
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"money needs integer minor units, not {type(minor).__name__}")
    if not is_currency(currency):
        raise ValueError(f"unknown currency code: {currency!r}")
    return {"minor": minor, "currency": currency}


def timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 in UTC with a ``Z``, seconds precision unless microseconds are set."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def build_envelope(
    type: EnvelopeType,
    payload: Mapping[str, Any],
    *,
    system: str,
    business_id: str,
    source_extra: Mapping[str, Any] | None = None,
    attachments: Sequence[Mapping[str, Any]] = (),
    id: str | None = None,
    created_at: datetime | None = None,
) -> Envelope:
    """A new unsigned envelope; the payload is copied through JSON, so it must be JSON data."""
    if type not in TYPES:
        raise ValueError(f"unknown envelope type: {type!r}")
    source: dict[str, Any] = {"system": system, "business_id": business_id}
    source.update(source_extra or {})
    return {
        "envelope_version": ENVELOPE_VERSION,
        "id": id or str(ULID()),
        "type": type,
        "created_at": timestamp(created_at),
        "source": source,
        "payload": json.loads(json.dumps(payload)),
        "attachments": [dict(a) for a in attachments],
        "signature": None,
    }


def encode_attachment(
    name: str, media_type: str, data: bytes, encoding: Encoding = "none"
) -> dict[str, Any]:
    """An attachment member: ``size`` and ``sha256`` describe ``data`` itself, before encoding."""
    if encoding == "none":
        packed = data
    elif encoding == "gzip":
        # mtime=0: the same content always gives the same bytes, so signatures are repeatable.
        packed = gzip.compress(data, mtime=0)
    elif encoding == "zstd":
        packed = zstandard.ZstdCompressor(write_content_size=True).compress(data)
    else:
        raise ValueError(f"unknown attachment encoding: {encoding!r}")
    return {
        "name": name,
        "media_type": media_type,
        "encoding": encoding,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": base64.b64encode(packed).decode("ascii"),
    }


def _b64(text: object) -> bytes:
    if not isinstance(text, str):
        raise AttachmentError("data", "attachment.base64_invalid", "data must be a base64 string")
    compact = "".join(text.split())
    try:
        raw = compact.encode("ascii")
    except UnicodeEncodeError:
        raise AttachmentError(
            "data", "attachment.base64_invalid", "data is not base64: it holds non-ASCII text"
        ) from None
    stripped = raw.rstrip(b"=")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    if stripped.translate(None, alphabet):
        raise AttachmentError(
            "data", "attachment.base64_invalid", "data is not base64: it holds other characters"
        )
    if len(raw) % 4 or len(stripped) % 4 == 1:
        raise AttachmentError(
            "data",
            "attachment.base64_truncated",
            f"data is truncated: {len(raw)} base64 characters is not a multiple of 4",
        )
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as exc:
        raise AttachmentError(
            "data", "attachment.base64_invalid", f"data is not base64: {exc}"
        ) from None


def _gunzip(packed: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(packed, MAX_ATTACHMENT_BYTES + 1)
    except zlib.error as exc:
        raise AttachmentError(
            "data", "attachment.decompress", f"data is not valid gzip: {exc}"
        ) from None
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentError(
            "data", "attachment.too_large", f"data expands beyond {MAX_ATTACHMENT_BYTES} bytes"
        )
    if not inflater.eof:
        raise AttachmentError(
            "data", "attachment.decompress", "data is not valid gzip: it ends early"
        )
    return data


def _unzstd(packed: bytes) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(packed))
    try:
        data = reader.read(MAX_ATTACHMENT_BYTES + 1)
    except zstandard.ZstdError as exc:
        raise AttachmentError(
            "data", "attachment.decompress", f"data is not valid zstd: {exc}"
        ) from None
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentError(
            "data", "attachment.too_large", f"data expands beyond {MAX_ATTACHMENT_BYTES} bytes"
        )
    if not data and packed:
        # An incomplete frame reads as empty rather than raising.
        try:
            zstandard.ZstdDecompressor().decompress(packed)
        except zstandard.ZstdError as exc:
            raise AttachmentError(
                "data", "attachment.decompress", f"data is not valid zstd: {exc}"
            ) from None
    return data


def unpack_attachment(attachment: Mapping[str, Any]) -> bytes:
    """The content of an attachment, decoded and decompressed, without checking size or sha256."""
    encoding = attachment.get("encoding")
    if encoding not in ENCODINGS:
        raise AttachmentError(
            "encoding",
            "attachment.encoding",
            f"unknown encoding {encoding!r}; use one of: {', '.join(ENCODINGS)}",
        )
    packed = _b64(attachment.get("data"))
    if encoding == "gzip":
        return _gunzip(packed)
    if encoding == "zstd":
        return _unzstd(packed)
    return packed


def decode_attachment(attachment: Mapping[str, Any]) -> bytes:
    """The content of an attachment, after checking it against its size and sha256."""
    data = unpack_attachment(attachment)
    size = attachment.get("size")
    if size != len(data):
        raise AttachmentError(
            "size", "attachment.size", f"size says {size} bytes but the data holds {len(data)}"
        )
    digest = hashlib.sha256(data).hexdigest()
    if attachment.get("sha256") != digest:
        raise AttachmentError(
            "sha256",
            "attachment.sha256",
            f"sha256 does not match the data (the data's is {digest})",
        )
    return data


def canonical(envelope: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: no signature field, sorted keys, no whitespace, UTF-8."""
    unsigned = {k: v for k, v in envelope.items() if k != "signature"}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def dumps(envelope: Mapping[str, Any]) -> bytes:
    """The envelope as a file: indented for people, with a final newline."""
    return (json.dumps(envelope, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def walk_paths(
    node: Any, pattern: Sequence[str], prefix: tuple[str | int, ...] = ()
) -> Iterable[tuple[tuple[str | int, ...], Any, str | int, Any]]:
    """Yield ``(path, parent, key, value)`` for each place in ``node`` matching ``pattern``."""
    if not pattern:
        return
    head, rest = pattern[0], pattern[1:]
    items: list[tuple[str | int, Any]]
    if isinstance(node, dict):
        items = [(k, v) for k, v in node.items() if head in ("*", k)]
    elif isinstance(node, list) and head == "*":
        items = list(enumerate(node))
    else:
        return
    for key, value in items:
        if rest:
            yield from walk_paths(value, rest, (*prefix, key))
        else:
            yield (*prefix, key), node, key, value


def resolve(node: Any, path: Sequence[str | int]) -> Any:
    """The value at ``path`` inside ``node``, or None when the path leads nowhere."""
    for part in path:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def payloads(doc: Mapping[str, Any]) -> list[tuple[str, tuple[str | int, ...], Any]]:
    """``(type, path, payload)`` for the envelope's payload, or each item of a batch."""
    kind, payload = doc.get("type"), doc.get("payload")
    if kind == "batch":
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            return []
        return [
            (item["type"], ("payload", "items", i, "payload"), item["payload"])
            for i, item in enumerate(items)
            if isinstance(item, dict) and isinstance(item.get("type"), str) and "payload" in item
        ]
    if isinstance(kind, str):
        return [(kind, ("payload",), payload)]
    return []
