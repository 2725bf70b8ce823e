"""Invoices, quotes and credit notes with their lines, as the API shows and takes them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from portal.api.schemas.clients import ClientSummarySchema, summary
from portal.api.schemas.common import (
    EXPAND,
    Day,
    DecimalString,
    ListQuery,
    Money,
    PublicId,
    Text,
    money,
)
from portal.models import Business, Document, DocumentLine
from portal.services.documents import DraftData, LineData

# Bounds that keep any document's totals far inside a 64-bit count of minor units.
MAX_QUANTITY = Decimal(1_000_000)
MAX_PRICE = Decimal(10_000_000)
MAX_LINES = 100
SORTS = [
    p + n
    for n in ("created_at", "updated_at", "issue_date", "due_date", "number", "total")
    for p in ("", "-")
]
EXPANDABLE = {"client", "lines"}


def _bounded(limit: Decimal, low: Decimal | None = None) -> list[Any]:
    return [
        validate.Range(
            min=-limit if low is None else low,
            max=limit,
            error=f"Must be between {-limit if low is None else low} and {limit}.",
        )
    ]


class LineInSchema(ma.Schema):
    description = Text(required=True, max_length=2000)
    quantity = DecimalString(required=True, validate=_bounded(MAX_QUANTITY))
    unit_price = DecimalString(
        required=True,
        validate=_bounded(MAX_PRICE),
        metadata={"description": 'Major units as a decimal string, e.g. "12.50".'},
    )
    unit = Text(max_length=20, load_default="")
    product_id = PublicId(load_default=None, allow_none=True)
    discount_percent = DecimalString(
        load_default=None, allow_none=True, validate=_bounded(Decimal(100), Decimal(0))
    )
    tax_rate_ids = fields.List(PublicId(), load_default=list, validate=validate.Length(max=5))


class LineSchema(ma.Schema):
    position = fields.Integer(required=True)
    description = fields.String(required=True)
    quantity = DecimalString(required=True)
    unit_price = DecimalString(required=True)
    unit = fields.String(required=True)
    discount_percent = DecimalString(allow_none=True)
    taxes = fields.List(fields.String(), required=True, metadata={"description": "Tax names."})
    net = Money()
    total = Money()


class DocumentInSchema(ma.Schema):
    client_id = PublicId(required=True)
    lines = fields.List(
        fields.Nested(LineInSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_LINES),
    )
    currency = Text(
        max_length=3,
        load_default=None,
        allow_none=True,
        validate=[validate.Regexp(r"^[A-Za-z]{3}$", error="An ISO 4217 code, e.g. EUR.")],
    )
    title = Text(max_length=200, load_default="")
    notes = Text(max_length=5000, load_default="")
    footer = Text(max_length=5000, load_default="")
    po_number = Text(max_length=60, load_default="")
    terms_code = Text(max_length=16, load_default=None, allow_none=True)
    issue_date = Day(load_default=None, allow_none=True)


class QuoteInSchema(DocumentInSchema):
    valid_until = Day(load_default=None, allow_none=True)


class DocumentSchema(ma.Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    number = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    client_id = fields.String(required=True)
    client = fields.Nested(ClientSummarySchema, metadata={"description": "With expand=client."})
    currency = fields.String(required=True)
    title = fields.String(required=True)
    issue_date = fields.Date(required=True, allow_none=True)
    due_date = fields.Date(required=True, allow_none=True)
    valid_until = fields.Date(allow_none=True)
    terms_code = fields.String(required=True)
    po_number = fields.String(required=True)
    notes = fields.String(required=True)
    net = Money()
    tax = Money()
    total = Money()
    amount_due = Money()
    balance = Money()
    credited_invoice_id = fields.String(allow_none=True)
    lines = fields.List(
        fields.Nested(LineSchema), metadata={"description": "On one document, or expand=lines."}
    )
    issued_at = fields.AwareDateTime(required=True, allow_none=True)
    sent_at = fields.AwareDateTime(required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class DocumentQuery(ListQuery):
    status = Text(max_length=20, load_default="")
    client_id = PublicId(load_default=None)
    issued_from = Day(load_default=None)
    issued_to = Day(load_default=None)
    currency = Text(max_length=3, load_default="")
    sort = fields.String(load_default="-created_at", validate=validate.OneOf(SORTS))
    expand = EXPAND


class ExpandQuery(ma.Schema):
    expand = EXPAND


class IssueSchema(ma.Schema):
    issue_date = Day(load_default=None, allow_none=True)


class SendSchema(ma.Schema):
    to = fields.List(
        Text(max_length=254, validate=[validate.Email(error="Not an email address.")]),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "Instead of the client's billing address."},
    )
    message = Text(max_length=5000, load_default=None, allow_none=True)


def dump_line(line: DocumentLine, currency: str, business: Business) -> dict[str, Any]:
    return {
        "position": line.position,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "unit": line.unit,
        "discount_percent": line.discount_percent,
        "taxes": [str(t.get("name") or t.get("category") or "") for t in line.taxes],
        "net": money(line.net_minor, currency, business),
        "total": money(line.total_minor, currency, business),
    }


def dump_document(
    doc: Document, business: Business, expand: set[str], public_ids: dict[int, str] | None = None
) -> dict[str, Any]:
    """``public_ids`` maps the database ids of credited invoices to their public ids."""
    c = doc.currency
    data: dict[str, Any] = {
        "id": doc.public_id,
        "kind": doc.kind.value,
        "number": doc.number,
        "status": doc.status,
        "client_id": doc.client.public_id,
        "currency": c,
        "title": doc.title,
        "issue_date": doc.issue_date,
        "due_date": doc.due_date,
        "valid_until": doc.valid_until,
        "terms_code": doc.terms_code,
        "po_number": doc.po_number,
        "notes": doc.notes,
        "net": money(doc.net_minor, c, business),
        "tax": money(doc.tax_minor, c, business),
        "total": money(doc.total_minor, c, business),
        "amount_due": money(doc.amount_due_minor, c, business),
        "balance": money(doc.balance_minor, c, business),
        "issued_at": doc.issued_at,
        "sent_at": doc.sent_at,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
    }
    if doc.credited_invoice_id is not None:
        data["credited_invoice_id"] = (public_ids or {}).get(doc.credited_invoice_id)
    if "client" in expand:
        data["client"] = summary(doc.client)
    if "lines" in expand:
        data["lines"] = [dump_line(line, c, business) for line in doc.lines]
    return data


def draft_data(body: dict[str, Any]) -> DraftData:
    lines = tuple(
        LineData(
            description=line["description"],
            quantity=line["quantity"],
            unit_price=line["unit_price"],
            unit=line.get("unit", ""),
            product_id=line.get("product_id"),
            discount_percent=line.get("discount_percent"),
            tax_rate_ids=tuple(line.get("tax_rate_ids", ())),
        )
        for line in body["lines"]
    )
    return DraftData(
        client_id=body["client_id"],
        lines=lines,
        currency=(body.get("currency") or None) and body["currency"].upper(),
        title=body.get("title", ""),
        notes=body.get("notes", ""),
        footer=body.get("footer", ""),
        po_number=body.get("po_number", ""),
        terms_code=body.get("terms_code"),
        issue_date=body.get("issue_date"),
        valid_until=body.get("valid_until"),
    )
