"""The audit log as a business reads it: its changes, its members' sign-ins and its API calls,
filtered a page at a time, as CSV, and its hash chain verified."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select

from portal.extensions import db
from portal.models import AuditEvent, LoginAttempt, Membership, Role, User
from portal.services import api_usage, audit
from portal.services.actors import Actor
from portal.services.client_portal import safe_cell
from portal.services.pagination import Page, decode_cursor, encode_cursor

PAGE_SIZE = 50
# A CSV holds at most this many rows: a year of a busy business, and a bounded response.
CSV_LIMIT = 100_000
TABS = ("changes", "sign-ins", "api")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str = ""  # exact ("invoice.sent") or a prefix ending in "." ("invoice.")
    entity_type: str = ""
    entity_id: str = ""
    actor: str = ""  # part of the actor's email
    since: date | None = None
    until: date | None = None  # included


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _events(actor: Actor, wanted: AuditFilter) -> Select[Any]:
    stmt = select(AuditEvent).where(AuditEvent.business_id == actor.business.id)
    action = wanted.action.strip()
    if action.endswith("."):
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    elif action:
        stmt = stmt.where(AuditEvent.action == action)
    if wanted.entity_type.strip():
        stmt = stmt.where(AuditEvent.entity_type == wanted.entity_type.strip())
    if wanted.entity_id.strip():
        stmt = stmt.where(AuditEvent.entity_id == wanted.entity_id.strip())
    if wanted.actor.strip():
        like = f"%{_escape_like(wanted.actor.strip().lower())}%"
        stmt = stmt.where(AuditEvent.actor_label.like(like, escape="\\"))
    if wanted.since is not None:
        stmt = stmt.where(AuditEvent.created_at >= _start(wanted.since))
    if wanted.until is not None:
        stmt = stmt.where(AuditEvent.created_at < _start(wanted.until + timedelta(days=1)))
    return stmt


def search_events(
    actor: Actor, wanted: AuditFilter, cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[AuditEvent]:
    """The business's audit events, newest first; the cursor is the last id seen."""
    actor.require(Role.ACCOUNTANT)
    stmt = _events(actor, wanted)
    if cursor and (values := decode_cursor(cursor, 1)) and isinstance(values[0], int):
        stmt = stmt.where(AuditEvent.id < values[0])
    rows = list(db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more else None)


def actions(actor: Actor) -> list[str]:
    """The actions that occur in the business's log, for the filter's choices."""
    stmt = (
        select(AuditEvent.action)
        .where(AuditEvent.business_id == actor.business.id)
        .distinct()
        .order_by(AuditEvent.action)
    )
    return list(db.session.scalars(stmt))


def entity_types(actor: Actor) -> list[str]:
    stmt = (
        select(AuditEvent.entity_type)
        .where(AuditEvent.business_id == actor.business.id)
        .distinct()
        .order_by(AuditEvent.entity_type)
    )
    return list(db.session.scalars(stmt))


# --- sign-ins -------------------------------------------------------------------------


def _sign_ins(actor: Actor, wanted: AuditFilter) -> Select[Any]:
    """Log-in attempts, successful or not, for the emails of the business's members: an
    attempt at an address that is no member's is nobody's business here."""
    members = (
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.business_id == actor.business.id)
    )
    stmt = select(LoginAttempt).where(LoginAttempt.email.in_(members))
    if wanted.actor.strip():
        like = f"%{_escape_like(wanted.actor.strip().lower())}%"
        stmt = stmt.where(LoginAttempt.email.like(like, escape="\\"))
    if wanted.action.strip() in {"sign_in.succeeded", "sign_in.failed"}:
        stmt = stmt.where(LoginAttempt.success.is_(wanted.action.strip() == "sign_in.succeeded"))
    if wanted.since is not None:
        stmt = stmt.where(LoginAttempt.at >= _start(wanted.since))
    if wanted.until is not None:
        stmt = stmt.where(LoginAttempt.at < _start(wanted.until + timedelta(days=1)))
    return stmt


def search_sign_ins(
    actor: Actor, wanted: AuditFilter, cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[LoginAttempt]:
    actor.require(Role.ACCOUNTANT)
    stmt = _sign_ins(actor, wanted)
    if cursor and (values := decode_cursor(cursor, 1)) and isinstance(values[0], int):
        stmt = stmt.where(LoginAttempt.id < values[0])
    rows = list(db.session.scalars(stmt.order_by(LoginAttempt.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more else None)


# --- API calls ------------------------------------------------------------------------


def api_filter(wanted: AuditFilter, route: str = "", status: str = "") -> api_usage.LogFilter:
    return api_usage.LogFilter(route=route, status=status, since=wanted.since, until=wanted.until)


def search_api_calls(
    actor: Actor, wanted: api_usage.LogFilter, cursor: str | None = None
) -> Page[api_usage.LogEntry]:
    actor.require(Role.ACCOUNTANT)
    return api_usage.search(actor, wanted, cursor)


# --- CSV ------------------------------------------------------------------------------


def _csv(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Rows as CSV text, a line at a time; every cell guarded against spreadsheet formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell("" if v is None else v) for v in row])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def events_csv(actor: Actor, wanted: AuditFilter) -> Iterator[str]:
    actor.require(Role.ACCOUNTANT)
    stmt = _events(actor, wanted).order_by(AuditEvent.id.desc()).limit(CSV_LIMIT)
    rows = (
        (
            _iso(e.created_at),
            e.seq,
            e.actor_label or "system",
            e.action,
            e.entity_type,
            e.entity_id,
            audit_json(e.before),
            audit_json(e.after),
            e.hash,
        )
        for e in db.session.scalars(stmt.execution_options(yield_per=500))
    )
    header = ["time", "seq", "actor", "action", "entity_type", "entity_id", "before", "after"]
    return _csv([*header, "hash"], rows)


def sign_ins_csv(actor: Actor, wanted: AuditFilter) -> Iterator[str]:
    actor.require(Role.ACCOUNTANT)
    stmt = _sign_ins(actor, wanted).order_by(LoginAttempt.id.desc()).limit(CSV_LIMIT)
    rows = (
        (_iso(a.at), a.email, "succeeded" if a.success else "failed", a.ip)
        for a in db.session.scalars(stmt)
    )
    return _csv(["time", "email", "result", "ip"], rows)


def api_calls_csv(actor: Actor, wanted: api_usage.LogFilter) -> Iterator[str]:
    actor.require(Role.ACCOUNTANT)

    def rows() -> Iterator[tuple[Any, ...]]:
        cursor: str | None = None
        written = 0
        while written < CSV_LIMIT:
            page = api_usage.search(actor, wanted, cursor)
            for entry in page.items:
                r = entry.request
                yield (
                    _iso(r.created_at),
                    entry.who,
                    r.method,
                    r.path,
                    r.status,
                    r.latency_ms,
                    r.ip,
                )
            written += len(page.items)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    return _csv(["time", "who", "method", "path", "status", "latency_ms", "ip"], rows())


def audit_json(value: dict[str, Any] | None) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --- verify ---------------------------------------------------------------------------


def verify_business_chain(actor: Actor) -> audit.VerifyReport:
    """Recompute every link of the business's own chain (owners only)."""
    actor.require(Role.OWNER)
    return audit.verify_chains([audit.chain_for(actor.business)])
