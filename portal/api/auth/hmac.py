"""Signed requests: an API key's signing secret proves each request (HMAC-SHA256).

Headers: ``X-Signature-Key-Id`` (the key's prefix), ``X-Signature-Timestamp`` (Unix seconds),
``X-Signature-Nonce`` (16 to 128 of ``A-Z a-z 0-9 - _``) and ``X-Signature`` (lowercase hex of
HMAC-SHA256 with the signing secret over the canonical request). The canonical request is six
lines joined by ``\\n``: the method in capitals, the path percent-encoded, the query sorted, the
sha256 of the body in hex, the timestamp and the nonce (see ``docs/api-auth.md``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import timedelta
from urllib.parse import parse_qsl, quote

from flask import Request, current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from portal.api.auth.keys import presented_key
from portal.api.principal import ApiPrincipal, Unauthorized, authenticator
from portal.extensions import db
from portal.models import ApiNonce
from portal.models.base import utcnow
from portal.services import api_keys

KEY_ID = "X-Signature-Key-Id"
TIMESTAMP = "X-Signature-Timestamp"
NONCE = "X-Signature-Nonce"
SIGNATURE = "X-Signature"
HEADERS = (KEY_ID, TIMESTAMP, NONCE, SIGNATURE)
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def _encode(text: str) -> str:
    # RFC 3986 unreserved characters stay; every other byte of the UTF-8 is %XX.
    return quote(text, safe="-_.~")


def canonical_query(raw: str) -> str:
    pairs = parse_qsl(raw, keep_blank_values=True)
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def canonical_request(
    method: str, path: str, query: str, body: bytes, timestamp: str, nonce: str
) -> str:
    """What is signed; ``path`` and ``query`` as they arrive (decoded path, raw query)."""
    return "\n".join(
        [
            method.upper(),
            quote(path, safe="/-_.~"),
            canonical_query(query),
            hashlib.sha256(body).hexdigest(),
            timestamp,
            nonce,
        ]
    )


def sign(secret: str, canonical: str) -> str:
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


@authenticator
def signed_request(request: Request) -> ApiPrincipal | None:
    present = [name for name in HEADERS if request.headers.get(name)]
    if not present:
        return None
    if len(present) != len(HEADERS):
        missing = ", ".join(name for name in HEADERS if name not in present)
        raise Unauthorized(
            f"The signature is incomplete: send {missing} too.", code="bad_signature"
        )
    prefix = request.headers[KEY_ID]
    key = api_keys.key_by_prefix(prefix)
    if key is None or not key.signing_secret:
        raise Unauthorized("No API key with that key id signs requests.", code="bad_signature")
    window = int(current_app.config["API_SIGNATURE_WINDOW_SECONDS"])
    stamp = request.headers[TIMESTAMP]
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > window:
        raise Unauthorized(
            f"The signature's timestamp is more than {window} seconds from our clock "
            "(send Unix seconds, and keep your clock right).",
            code="bad_signature",
        )
    nonce = request.headers[NONCE]
    if not NONCE_PATTERN.match(nonce):
        raise Unauthorized(
            "The nonce must be 16 to 128 letters, digits, '-' or '_'.", code="bad_signature"
        )
    canonical = canonical_request(
        request.method,
        request.path,
        request.query_string.decode("latin-1"),
        request.get_data(cache=True),
        stamp,
        nonce,
    )
    expected = sign(key.signing_secret, canonical)
    if not hmac.compare_digest(expected, request.headers[SIGNATURE].strip().lower()):
        raise Unauthorized(
            "The signature does not match the request (check the canonical form).",
            code="bad_signature",
        )
    if (raw := presented_key(request)) is not None:
        try:
            also, _ = api_keys.principal_for(raw)
        except api_keys.KeyRefused as refused:
            raise Unauthorized(refused.detail) from refused
        if also.id != key.id:
            raise Unauthorized("The API key sent is not the one that signed.", code="bad_signature")
    try:
        principal = api_keys.principal_of(key)
    except api_keys.KeyRefused as refused:
        raise Unauthorized(refused.detail) from refused
    _spend_nonce(key.id, nonce, window)
    api_keys.touch(key)
    return principal


def _spend_nonce(key_id: int, nonce: str, window: int) -> None:
    """Keep the nonce; one seen before (the table's unique key) is a replay. Nonces older than
    twice the window can no longer come with a valid timestamp, so they go."""
    now = utcnow()
    db.session.execute(
        delete(ApiNonce).where(ApiNonce.seen_at < now - timedelta(seconds=2 * window))
    )
    db.session.add(ApiNonce(key_id=key_id, nonce=nonce, seen_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Unauthorized(
            "This nonce was used before: a replayed request is refused.", code="replayed_nonce"
        ) from None
