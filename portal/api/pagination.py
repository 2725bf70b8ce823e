"""Cursor pagination for API lists: keyset on (sort key, id), so a page never repeats or skips a
row when rows are added meanwhile. The cursor is opaque to callers: base64 of the sort name,
the last row's sort value and its id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, or_

from portal.extensions import db
from portal.services.errors import InvalidInput
from portal.services.pagination import decode_cursor, encode_cursor


@dataclass(frozen=True, slots=True)
class SortKey:
    """A column to sort on; ``kind`` says how its value travels in the cursor."""

    expr: Any
    attr: str  # the attribute of a row holding the value
    kind: str = "int"  # int, str, date or datetime
    default: Any = None  # stands in for NULL (the expression must coalesce to it too)


def sort_names(keys: Mapping[str, SortKey]) -> list[str]:
    """Every accepted ``sort`` value: the name ascending, ``-name`` descending."""
    return [p + name for name in keys for p in ("", "-")]


def _to_cursor(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _from_cursor(key: SortKey, value: Any) -> Any:
    try:
        if (
            key.kind == "int"
            and isinstance(value, int)
            and not isinstance(value, bool)
            and abs(value) < 2**62
        ):
            return value
        if key.kind == "str" and isinstance(value, str):
            return value
        if key.kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
        if key.kind == "datetime" and isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return moment
    except ValueError:
        pass
    raise InvalidInput({"cursor": "This cursor is not valid: start again from the first page."})


def paginate(
    stmt: Select[Any],
    id_column: Any,
    keys: Mapping[str, SortKey],
    sort: str,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt``'s rows and the cursor of the next page (None on the last)."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    key = keys.get(name)
    if key is None:
        raise InvalidInput({"sort": f"Sort by one of: {', '.join(sort_names(keys))}."})
    if cursor:
        values = decode_cursor(cursor, 3)
        if (
            values is None
            or values[0] != sort
            or not isinstance(values[2], int)
            or abs(values[2]) >= 2**62
        ):
            raise InvalidInput(
                {"cursor": "This cursor is not valid: start again from the first page."}
            )
        last = _from_cursor(key, values[1])
        last_id = values[2]
        if descending:
            stmt = stmt.where(or_(key.expr < last, and_(key.expr == last, id_column < last_id)))
        else:
            stmt = stmt.where(or_(key.expr > last, and_(key.expr == last, id_column > last_id)))
    order = (key.expr.desc(), id_column.desc()) if descending else (key.expr.asc(), id_column.asc())
    rows = list(db.session.scalars(stmt.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        value = getattr(rows[-1], key.attr)
        if value is None:
            value = key.default
        next_cursor = encode_cursor(sort, _to_cursor(value), rows[-1].id)
    return rows, next_cursor
