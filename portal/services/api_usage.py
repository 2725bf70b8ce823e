"""What the API access log says: requests and errors per day for a key, and the log searched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import plotly.graph_objects as go
from sqlalchemy import ColumnElement, Date, case, cast, func, select

from portal.extensions import db
from portal.models import ApiKey, ApiRequest, OAuthClient
from portal.models.base import utcnow
from portal.services.actors import Actor
from portal.services.pagination import Page, decode_cursor, encode_cursor

DAYS = 30
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class DailyUsage:
    day: date
    requests: int
    errors: int  # answers with status 400 or above


def _day(column: Any) -> ColumnElement[Any]:
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(column, Date)
    return func.strftime("%Y-%m-%d", column)


def daily_usage(key: ApiKey, days: int = DAYS, today: date | None = None) -> list[DailyUsage]:
    """One entry per day of the last ``days`` (UTC), days without calls included."""
    last = today or utcnow().date()
    first = last - timedelta(days=days - 1)
    day = _day(ApiRequest.created_at)
    rows = db.session.execute(
        select(
            day,
            func.count(),
            func.sum(case((ApiRequest.status >= 400, 1), else_=0)),
        )
        .where(
            ApiRequest.key_id == key.id,
            ApiRequest.created_at >= datetime.combine(first, time(), UTC),
        )
        .group_by(day)
    ).all()
    counts = {str(d)[:10]: (int(n), int(e or 0)) for d, n, e in rows}
    out = []
    for offset in range(days):
        when = first + timedelta(days=offset)
        n, e = counts.get(when.isoformat(), (0, 0))
        out.append(DailyUsage(when, n, e))
    return out


def usage_figure(usage: list[DailyUsage]) -> str:
    """Requests per day as bars, errors beside them, as Plotly JSON for ``static/js/charts.js``."""
    days = [u.day.isoformat() for u in usage]
    figure = go.Figure(
        [
            go.Bar(x=days, y=[u.requests - u.errors for u in usage], name="Succeeded"),
            go.Bar(x=days, y=[u.errors for u in usage], name="Errors (4xx, 5xx)"),
        ],
        layout={
            "title": {"text": f"Requests per day, last {len(usage)} days (UTC)"},
            "barmode": "stack",
            "yaxis": {"title": {"text": "requests"}, "rangemode": "tozero"},
            "margin": {"t": 50, "r": 20, "b": 40, "l": 50},
            "height": 300,
        },
    )
    return json.dumps(figure.to_plotly_json(), default=str)


@dataclass(frozen=True, slots=True)
class LogFilter:
    who: str = ""  # "key:<public id>" or "app:<public id>"
    route: str = ""  # part of the path
    status: str = ""  # "200", "4xx", "5xx"
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    request: ApiRequest
    who: str  # the key's or app's name, "" for an anonymous call


def search(actor: Actor, wanted: LogFilter, cursor: str | None = None) -> Page[LogEntry]:
    """The business's API calls, newest first, a page at a time."""
    query = (
        select(ApiRequest, ApiKey.name, ApiKey.prefix, OAuthClient.name)
        .outerjoin(ApiKey, ApiKey.id == ApiRequest.key_id)
        .outerjoin(OAuthClient, OAuthClient.id == ApiRequest.oauth_client_id)
        .where(ApiRequest.business_id == actor.business.id)
    )
    kind, _, public_id = wanted.who.partition(":")
    if kind == "key" and public_id:
        query = query.where(ApiKey.public_id == public_id)
    elif kind == "app" and public_id:
        query = query.where(OAuthClient.public_id == public_id)
    if wanted.route:
        query = query.where(ApiRequest.path.contains(wanted.route, autoescape=True))
    status = wanted.status.strip().lower()
    if len(status) == 3 and status.endswith("xx") and status[0] in "12345":
        low = int(status[0]) * 100
        query = query.where(ApiRequest.status >= low, ApiRequest.status < low + 100)
    elif status.isascii() and status.isdigit() and len(status) <= 3:
        query = query.where(ApiRequest.status == int(status))
    if wanted.since is not None:
        query = query.where(ApiRequest.created_at >= datetime.combine(wanted.since, time(), UTC))
    if wanted.until is not None:
        end = datetime.combine(wanted.until + timedelta(days=1), time(), UTC)
        query = query.where(ApiRequest.created_at < end)
    if cursor and (values := decode_cursor(cursor, 1)) and isinstance(values[0], int):
        query = query.where(ApiRequest.id < values[0])
    rows = db.session.execute(query.order_by(ApiRequest.id.desc()).limit(PAGE_SIZE + 1)).all()
    entries = [
        LogEntry(row, f"{key_name} (il_{prefix}…)" if key_name else (app_name or ""))
        for row, key_name, prefix, app_name in rows[:PAGE_SIZE]
    ]
    more = len(rows) > PAGE_SIZE
    return Page(entries, encode_cursor(entries[-1].request.id) if more else None)
