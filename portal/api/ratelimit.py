"""Rate limits on API calls, counted in the app's limiter storage (Redis when there is one).

Each call counts against the caller's credential (a short burst and a sustained limit) and
against the client address. An API key counts alone; an OAuth access token counts with the
other tokens of its grant (the app acting for one member of one business): see ``counted_as``.
Every answer carries the IETF draft's ``RateLimit-Limit``, ``RateLimit-Remaining`` and
``RateLimit-Reset`` (seconds until the window resets) for whichever limit is nearest to running
out; a refused call is a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from flask import Response, current_app, g, request
from limits import RateLimitItem, parse

from portal.api import hooks
from portal.api.principal import ApiPrincipal
from portal.api.problems import problem
from portal.extensions import limiter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Standing:
    limit: int
    remaining: int
    reset: int  # seconds

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


def counted_as(principal: ApiPrincipal) -> tuple[str, ...]:
    """Whose calls count together.

    Not each OAuth token alone: tokens are short-lived, a refresh replaces them and the client
    credentials grant hands out a new one on request, so an app could buy calls by asking for
    tokens. Not the app as a whole either: members of other businesses may approve it, and one
    business's calls would use up another's. A token counts for its grant, as a key counts for
    itself.
    """
    if principal.oauth_client_id is None:
        return ("api", principal.credential)
    return (
        "api",
        principal.credential,
        f"business:{principal.business.id}",
        f"user:{principal.user.id}",
    )


def checks(principal: ApiPrincipal | None, ip: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    config = current_app.config
    found: list[tuple[RateLimitItem, tuple[str, ...]]] = []
    if principal is not None:
        for name in ("API_RATE_LIMIT_BURST", "API_RATE_LIMIT_SUSTAINED"):
            found.append((parse(config[name]), counted_as(principal)))
    found.append((parse(config["API_RATE_LIMIT_PER_IP"]), ("api-ip", ip)))
    return found


def reset(principal: ApiPrincipal | None, ip: str) -> None:
    """Forget the counts of a credential and an address (after raising a limit, say)."""
    strategy = limiter.limiter
    for item, identifiers in checks(principal, ip):
        strategy.clear(item, *identifiers)


def _check() -> Response | None:
    principal: ApiPrincipal | None = g.get("api_principal")
    strategy = limiter.limiter
    now = time.time()
    refused: Standing | None = None
    standings: list[Standing] = []
    try:
        for item, identifiers in checks(principal, request.remote_addr or ""):
            allowed = strategy.hit(item, *identifiers)
            stats = strategy.get_window_stats(item, *identifiers)
            standing = Standing(
                limit=item.amount,
                remaining=max(stats.remaining, 0),
                # The store's clock runs a hair behind ours: never more than the window.
                reset=min(max(math.ceil(stats.reset_time - now), 0), item.get_expiry()),
            )
            standings.append(standing)
            if not allowed and refused is None:
                refused = standing
    except Exception:  # the storage is down: serve the call rather than fail it
        log.warning("API rate limits not checked: the limiter storage failed", exc_info=True)
        return None
    g.api_rate_limit = refused or min(standings, key=lambda s: (s.remaining, -s.reset))
    if refused is None:
        return None
    retry = max(refused.reset, 1)
    return problem(
        429,
        "Too many requests",
        f"Slow down: {refused.limit} requests in this window at most; try again in {retry} s.",
        kind="rate-limited",
        headers={**refused.headers(), "Retry-After": str(retry)},
    )


def _headers(response: Response) -> Response:
    standing: Standing | None = g.get("api_rate_limit")
    if standing is not None:
        for name, value in standing.headers().items():
            response.headers.setdefault(name, value)
    return response


hooks.BEFORE.append(_check)
hooks.AFTER.append(_headers)
