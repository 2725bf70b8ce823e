"""Listing and reading documents of one kind: shared by invoices, quotes and credit notes."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response
from sqlalchemy import Date, func, literal, select
from sqlalchemy.orm import selectinload

from portal.api.pagination import SortKey
from portal.api.resources.common import actor, as_json, page, timestamps
from portal.api.schemas.common import csv_list
from portal.api.schemas.documents import EXPANDABLE, dump_document
from portal.extensions import db
from portal.models import Client, Document, DocumentKind
from portal.services import documents

FAR_PAST = date(1, 1, 1)  # stands in for "no date yet" (drafts)
SORT_KEYS = {
    **timestamps(Document),
    "issue_date": SortKey(
        func.coalesce(Document.issue_date, literal(FAR_PAST, Date)),
        "issue_date",
        "date",
        default=FAR_PAST,
    ),
    "due_date": SortKey(
        func.coalesce(Document.due_date, literal(FAR_PAST, Date)), "due_date", "date", FAR_PAST
    ),
    "number": SortKey(func.coalesce(Document.number, ""), "number", "str", ""),
    "total": SortKey(Document.total_minor, "total_minor"),
}


def _credited_ids(docs: list[Document]) -> dict[int, str]:
    wanted = {d.credited_invoice_id for d in docs if d.credited_invoice_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(Document.id, Document.public_id).where(Document.id.in_(wanted))
    )
    return {row.id: row.public_id for row in rows}


def list_documents(kind: DocumentKind, args: dict[str, Any]) -> Response:
    who = actor()
    expand = csv_list(args.get("expand"), EXPANDABLE, "expand")
    stmt = (
        select(Document)
        .where(Document.business_id == who.business.id, Document.kind == kind)
        .options(selectinload(Document.client))
    )
    if "lines" in expand:
        stmt = stmt.options(selectinload(Document.lines))
    if args.get("status"):
        stmt = stmt.where(Document.status == args["status"])
    if args.get("client_id"):
        client = select(Client.id).where(
            Client.business_id == who.business.id, Client.public_id == args["client_id"]
        )
        stmt = stmt.where(Document.client_id == client.scalar_subquery())
    if args.get("currency"):
        stmt = stmt.where(Document.currency == args["currency"].upper())
    if args.get("issued_from"):
        stmt = stmt.where(Document.issue_date >= args["issued_from"])
    if args.get("issued_to"):
        stmt = stmt.where(Document.issue_date <= args["issued_to"])
    result = page(stmt, Document.id, SORT_KEYS, args, lambda d: d, Document.updated_at)
    docs: list[Document] = result["data"]
    ids = _credited_ids(docs)
    result["data"] = [dump_document(d, who.business, expand, ids) for d in docs]
    return as_json(result)


def dump_one(doc: Document, expand: str | None = None) -> dict[str, Any]:
    wanted = csv_list(expand, EXPANDABLE, "expand") | {"lines"}
    return dump_document(doc, actor().business, wanted, _credited_ids([doc]))


def get_one(kind: DocumentKind, public_id: str, expand: str | None = None) -> dict[str, Any]:
    return dump_one(documents.get_document(actor(), public_id, kind), expand)
