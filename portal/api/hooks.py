"""Extension points of every API call, filled by the modules that need them (rate limits,
request signatures, the access log): the API blueprint calls them for each ``/api/v1`` request.

``BEFORE`` hooks run after the caller is authenticated (``principal.current()`` works, or the
call is anonymous where allowed) and may answer instead of the view (a 429 problem).
``AFTER`` hooks see every answer, errors included, and may add headers.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response

BEFORE: list[Callable[[], Response | None]] = []
AFTER: list[Callable[[Response], Response]] = []
