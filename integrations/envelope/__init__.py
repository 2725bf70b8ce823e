"""ShareEnvelope 1.0: the neutral, versioned document every adapter consumes and produces.

An envelope is plain JSON data (``dict``): build one with :func:`build_envelope`, attach files
with :func:`encode_attachment`, sign with :func:`sign_hmac` or :func:`sign_ed25519`, and read
one with :func:`check` (every problem, each with its JSON pointer) and :func:`repair` (the few
certain fixes). The JSON Schema is ``integrations/schemas/share-envelope-v1.json``.
"""

from integrations.envelope.check import (
    SCHEMA_PATH,
    Problem,
    check,
    check_document,
    parse,
    schema,
)
from integrations.envelope.core import (
    ENVELOPE_VERSION,
    MONEY_PATHS,
    AttachmentError,
    Envelope,
    EnvelopeType,
    build_envelope,
    canonical,
    decode_attachment,
    dumps,
    encode_attachment,
    money,
    pointer,
    timestamp,
)
from integrations.envelope.repair import Change, repair
from integrations.envelope.signing import (
    VerifyKey,
    ed25519_key,
    hmac_key,
    parse_keys,
    sign_ed25519,
    sign_hmac,
    verify,
    verify_signature,
)

__all__ = [
    "ENVELOPE_VERSION",
    "MONEY_PATHS",
    "SCHEMA_PATH",
    "AttachmentError",
    "Change",
    "Envelope",
    "EnvelopeType",
    "Problem",
    "VerifyKey",
    "build_envelope",
    "canonical",
    "check",
    "check_document",
    "decode_attachment",
    "dumps",
    "ed25519_key",
    "encode_attachment",
    "hmac_key",
    "money",
    "parse",
    "parse_keys",
    "pointer",
    "repair",
    "schema",
    "sign_ed25519",
    "sign_hmac",
    "timestamp",
    "verify",
    "verify_signature",
]
