"""API keys sent as ``Authorization: Bearer il_…`` (or ``X-Api-Key``)."""

from __future__ import annotations

from flask import Request

from portal.api.principal import ApiPrincipal, Unauthorized, authenticator
from portal.services import api_keys


def presented_key(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip().startswith(api_keys.KEY_PREFIX):
        return header[7:].strip()
    return request.headers.get("X-Api-Key") or None


@authenticator
def api_key(request: Request) -> ApiPrincipal | None:
    raw = presented_key(request)
    if raw is None or request.headers.get("X-Signature"):
        return None  # none, or a signed request: the signature authenticator checks it
    try:
        key, principal = api_keys.principal_for(raw)
    except api_keys.KeyRefused as refused:
        raise Unauthorized(refused.detail) from refused
    if key.require_signature:
        raise Unauthorized(
            "This API key accepts signed requests only: send the X-Signature-Key-Id, "
            "X-Signature-Timestamp, X-Signature-Nonce and X-Signature headers.",
            code="signature_required",
        )
    api_keys.touch(key)
    return principal
