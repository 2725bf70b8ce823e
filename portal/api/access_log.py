"""The API access log: one row per call (who, route, status, latency), written after the
answer is made with a single INSERT."""

from __future__ import annotations

import logging
import time

from flask import Request, Response, g, request
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from portal.api import hooks
from portal.api.principal import ApiPrincipal, authenticator
from portal.extensions import db
from portal.models import ApiRequest
from portal.models.base import utcnow

log = logging.getLogger(__name__)


@authenticator
def start_clock(request: Request) -> None:
    """Registered before the real authenticators, so the latency counts authentication too;
    it never authenticates anyone."""
    g.api_started = time.perf_counter()
    return None


def record(
    *,
    status: int,
    business_id: int | None,
    key_id: int | None = None,
    oauth_client_id: int | None = None,
    route: str | None = None,
) -> None:
    """Add one row for the current request; a failure to log never fails the call."""
    started = g.get("api_started")
    latency = round((time.perf_counter() - started) * 1000) if started is not None else 0
    rule = request.url_rule.rule if request.url_rule is not None else ""
    try:
        db.session.execute(
            insert(ApiRequest).values(
                business_id=business_id,
                key_id=key_id,
                oauth_client_id=oauth_client_id,
                method=request.method[:8],
                path=request.path[:300],
                route=(route or rule)[:200],
                status=status,
                latency_ms=latency,
                ip=(request.remote_addr or "")[:45],
                created_at=utcnow(),
            )
        )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("API call not logged", exc_info=True)


def _log_call(response: Response) -> Response:
    principal: ApiPrincipal | None = g.get("api_principal")
    record(
        status=response.status_code,
        business_id=principal.business.id if principal else None,
        key_id=principal.key_id if principal else None,
        oauth_client_id=principal.oauth_client_id if principal else None,
    )
    return response


hooks.AFTER.append(_log_call)
