"""Signatures over the canonical JSON: HMAC-SHA256 (shared secret) or Ed25519 (key pair)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from integrations.envelope.core import Envelope, canonical

Algorithm = Literal["HMAC-SHA256", "Ed25519"]
HMAC: Final = "HMAC-SHA256"
ED25519: Final = "Ed25519"


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """What checks a signature: the shared secret (HMAC) or the raw 32-byte public key."""

    alg: Algorithm
    material: bytes = b""

    def __repr__(self) -> str:
        # Never print a shared secret in a log or a traceback.
        return f"VerifyKey(alg={self.alg!r})"


@dataclass(frozen=True, slots=True)
class SignatureProblem:
    code: str
    message: str


def hmac_key(secret: bytes) -> VerifyKey:
    return VerifyKey(HMAC, secret)


def ed25519_key(public_key: Ed25519PublicKey) -> VerifyKey:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return VerifyKey(ED25519, public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def parse_keys(config: Mapping[str, Any]) -> dict[str, VerifyKey]:
    """Keys from configuration: ``{"key-id": "hmac:<base64 secret>"}`` or
    ``{"key-id": "ed25519:<base64 raw public key>"}``; ``VerifyKey`` values pass through."""
    keys: dict[str, VerifyKey] = {}
    for key_id, value in config.items():
        if isinstance(value, VerifyKey):
            keys[str(key_id)] = value
            continue
        kind, _, encoded = str(value).partition(":")
        try:
            material = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"envelope key {key_id!r} is not base64") from exc
        if kind.lower() == "hmac" and material:
            keys[str(key_id)] = VerifyKey(HMAC, material)
        elif kind.lower() == "ed25519" and len(material) == 32:
            keys[str(key_id)] = VerifyKey(ED25519, material)
        else:
            raise ValueError(
                f"envelope key {key_id!r} must be 'hmac:<base64>' or 'ed25519:<base64 of 32 bytes>'"
            )
    return keys


def _with_signature(envelope: Envelope, alg: Algorithm, key_id: str, value: bytes) -> Envelope:
    signed = dict(envelope)
    signed["signature"] = {
        "alg": alg,
        "key_id": key_id,
        "value": base64.b64encode(value).decode("ascii"),
    }
    return signed


def sign_hmac(envelope: Envelope, key_id: str, secret: bytes) -> Envelope:
    """A copy of ``envelope`` signed with HMAC-SHA256 over its canonical JSON."""
    digest = hmac.new(secret, canonical(envelope), hashlib.sha256).digest()
    return _with_signature(envelope, HMAC, key_id, digest)


def sign_ed25519(envelope: Envelope, key_id: str, private_key: Ed25519PrivateKey) -> Envelope:
    """A copy of ``envelope`` signed with Ed25519 over its canonical JSON."""
    return _with_signature(envelope, ED25519, key_id, private_key.sign(canonical(envelope)))


def verify_signature(
    envelope: Mapping[str, Any], keys: Mapping[str, VerifyKey]
) -> SignatureProblem | None:
    """None when the signature holds; otherwise what is wrong with it."""
    signature = envelope.get("signature")
    if signature is None:
        return SignatureProblem("signature.missing", "the envelope is not signed")
    if not isinstance(signature, Mapping):
        return SignatureProblem("signature.invalid", "signature must be an object or null")
    key_id = signature.get("key_id")
    key = keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        return SignatureProblem("signature.unknown_key", f"no key is known with id {key_id!r}")
    if signature.get("alg") != key.alg:
        return SignatureProblem(
            "signature.invalid",
            f"key {key_id!r} is an {key.alg} key, but the signature says {signature.get('alg')!r}",
        )
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
    except binascii.Error:
        return SignatureProblem("signature.invalid", "the signature value is not base64")
    try:
        message = canonical(envelope)
    except ValueError:
        return SignatureProblem("signature.invalid", "the envelope cannot be made canonical")
    if key.alg == HMAC:
        expected = hmac.new(key.material, message, hashlib.sha256).digest()
        ok = hmac.compare_digest(expected, value)
    else:
        try:
            Ed25519PublicKey.from_public_bytes(key.material).verify(value, message)
            ok = True
        except (InvalidSignature, ValueError):
            ok = False
    if not ok:
        return SignatureProblem(
            "signature.invalid", "the signature does not match the content: it was changed"
        )
    return None


def verify(envelope: Mapping[str, Any], keys: Mapping[str, VerifyKey]) -> bool:
    """Whether the envelope carries a valid signature by one of ``keys``."""
    return verify_signature(envelope, keys) is None
