"""Finding documents: filters, sorting with keyset pagination, counts per status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from portal.billing.status import OPEN_STATUSES
from portal.extensions import db
from portal.models import Client, Document, DocumentKind
from portal.services.actors import Actor
from portal.services.pagination import Page, decode_cursor, encode_cursor
from portal.services.pricing import business_today

FAR_FUTURE = date(9999, 12, 31)
SORTS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "due": "Due date",
    "total_desc": "Largest total",
    "number": "Number",
}


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    kind: DocumentKind = DocumentKind.INVOICE
    status: str = ""
    client_id: str = ""
    currency: str = ""
    date_from: date | None = None
    date_to: date | None = None
    overdue: bool = False
    q: str = ""
    sort: str = "newest"


def _sort(flt: DocumentFilter) -> tuple[Any, bool]:
    """The sort expression and whether it runs descending; ``id`` always breaks ties."""
    if flt.sort == "oldest":
        return Document.id, False
    if flt.sort == "due":
        # Overdue invoices always have a due date: the plain column can use the index.
        if flt.overdue:
            return Document.due_date, False
        return func.coalesce(Document.due_date, FAR_FUTURE), False
    if flt.sort == "total_desc":
        return Document.total_minor, True
    if flt.sort == "number":
        return func.coalesce(Document.number, ""), False
    return Document.id, True


def filtered(actor: Actor, flt: DocumentFilter, *, with_status: bool = True) -> Select[Document]:
    stmt = select(Document).where(
        Document.business_id == actor.business.id, Document.kind == flt.kind
    )
    if with_status and flt.status:
        stmt = stmt.where(Document.status == flt.status)
    if flt.client_id:
        stmt = stmt.join(Client, Client.id == Document.client_id).where(
            Client.public_id == flt.client_id
        )
    if flt.currency:
        stmt = stmt.where(Document.currency == flt.currency.upper())
    if flt.date_from:
        stmt = stmt.where(Document.issue_date >= flt.date_from)
    if flt.date_to:
        stmt = stmt.where(Document.issue_date <= flt.date_to)
    if flt.overdue:
        stmt = stmt.where(
            Document.status.in_([s.value for s in OPEN_STATUSES]),
            Document.due_date < business_today(actor.business),
        )
    if flt.q.strip():
        # "%" and "_" are characters to look for: escaped, not dropped (dropping "%" left a
        # pattern that matched every document).
        term = flt.q.strip().lower()
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                func.lower(Document.number).like(like, escape="\\"),
                func.lower(Document.title).like(like, escape="\\"),
            )
        )
    return stmt


def list_documents(
    actor: Actor, flt: DocumentFilter, cursor: str | None = None, limit: int = 50
) -> Page[Document]:
    expr, descending = _sort(flt)
    stmt = filtered(actor, flt)
    values = decode_cursor(cursor, 2) if cursor else None
    # The sort value's type must be the one this sort writes: the database compares it with
    # the column (PostgreSQL refuses an integer column against text).
    expected: type = str if flt.sort in {"due", "number"} else int
    if (
        values is not None
        and isinstance(values[1], int)
        and isinstance(values[0], expected)
        and not isinstance(values[0], bool)
    ):
        last: Any = values[0]
        if flt.sort == "due":
            try:
                last = date.fromisoformat(str(last))
            except ValueError:
                last = FAR_FUTURE
        after = (
            or_(expr < last, and_(expr == last, Document.id < values[1]))
            if descending
            else or_(expr > last, and_(expr == last, Document.id > values[1]))
        )
        stmt = stmt.where(after)
    order = (expr.desc(), Document.id.desc()) if descending else (expr.asc(), Document.id.asc())
    stmt = stmt.order_by(*order).limit(limit + 1).options(selectinload(Document.client))
    rows = list(db.session.scalars(stmt))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(_cursor_value(rows[-1], flt), rows[-1].id)
    return Page(rows, next_cursor)


def _cursor_value(doc: Document, flt: DocumentFilter) -> Any:
    if flt.sort == "due":
        return (doc.due_date or FAR_FUTURE).isoformat()
    if flt.sort == "total_desc":
        return doc.total_minor
    if flt.sort == "number":
        return doc.number or ""
    return doc.id


def status_counts(actor: Actor, flt: DocumentFilter) -> dict[str, int]:
    """How many documents of each status match the other filters."""
    base = filtered(actor, flt, with_status=False).subquery()
    stmt = select(base.c.status, func.count()).group_by(base.c.status)
    return {status: int(count) for status, count in db.session.execute(stmt)}


def is_overdue(actor: Actor, doc: Document) -> bool:
    from portal.billing.status import is_overdue as rule

    if doc.kind is not DocumentKind.INVOICE or doc.status == "draft":
        return False
    return rule(doc.due_date, business_today(actor.business), doc.status)
