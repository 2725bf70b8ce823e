"""RFC 9457 problem details: every API error is ``application/problem+json``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from flask import Response

MEDIA_TYPE = "application/problem+json"
BASE = "https://invoice-lite.example/problems/"  # a stable identifier, not fetched


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    kind: str | None = None,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem answer. ``kind`` names the problem type (``validation``, ``rate-limited``,
    ...); ``errors`` maps field names (JSON pointers for nested fields) to messages."""
    body: dict[str, object] = {
        "type": BASE + (kind or str(status)),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [{"field": name, "message": message} for name, message in errors.items()]
    response = Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
