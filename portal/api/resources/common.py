"""What every resource module uses: the caller, scopes, pages and filters."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Response
from sqlalchemy import Select

from portal.api import principal
from portal.api.pagination import SortKey, paginate
from portal.services.actors import Actor


def actor() -> Actor:
    return principal.current().actor


def page(
    stmt: Select[Any],
    id_column: Any,
    keys: dict[str, SortKey],
    args: dict[str, Any],
    dump: Any,
    updated_column: Any = None,
) -> dict[str, Any]:
    """A page of ``stmt`` by ``args`` (sort, cursor, limit, updated_since), each row dumped."""
    since: datetime | None = args.get("updated_since")
    if since is not None and updated_column is not None:
        stmt = stmt.where(updated_column >= since)
    rows, next_cursor = paginate(
        stmt, id_column, keys, args.get("sort") or "-created_at", args.get("cursor"), args["limit"]
    )
    return {"data": [dump(row) for row in rows], "next_cursor": next_cursor}


def timestamps(model: Any) -> dict[str, SortKey]:
    """Sorting by creation (the id's order) and by last change, every model has."""
    return {
        "created_at": SortKey(model.id, "id"),
        "updated_at": SortKey(model.updated_at, "updated_at", "datetime"),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON")


def as_json(body: dict[str, Any]) -> Response:
    """A page already shaped as its schema says, sent without a second pass through
    marshmallow (a page of 50 invoices holds some 2,000 values); the schema tests hold the
    shapes to the document."""
    return Response(json.dumps(body, default=_plain), mimetype="application/json")
