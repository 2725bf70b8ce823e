"""Clients and contacts, as the API shows and takes them."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from portal.api.schemas.common import EXPAND, Count, ListQuery, Text
from portal.models import Client, Contact

SORTS = ["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]


class AddressSchema(ma.Schema):
    line1 = Text(max_length=200, load_default="")
    line2 = Text(max_length=200, load_default="")
    city = Text(max_length=100, load_default="")
    postal_code = Text(max_length=20, load_default="")
    country = Text(
        max_length=2,
        load_default="",
        metadata={"description": "ISO 3166-1 alpha-2 code, or empty."},
        validate=[validate.Regexp(r"^([A-Za-z]{2})?$", error="Two letters, e.g. DE.")],
    )


class ContactSchema(ma.Schema):
    id = fields.String(dump_only=True)
    name = Text(required=True, max_length=120, validate=[validate.Length(min=1)])
    email = Text(max_length=254, load_default="")
    phone = Text(max_length=40, load_default="")
    is_primary = fields.Boolean(load_default=False)


class ClientSchema(ma.Schema):
    id = fields.String(dump_only=True, metadata={"description": "The client's public id."})
    name = Text(required=True, max_length=200, validate=[validate.Length(min=1)])
    email = Text(max_length=254, load_default="", allow_none=True)
    phone = Text(max_length=40, load_default="")
    tax_id = Text(max_length=50, load_default="")
    currency = Text(
        required=True,
        max_length=3,
        validate=[validate.Regexp(r"^[A-Za-z]{3}$", error="An ISO 4217 code, e.g. EUR.")],
    )
    payment_terms_days = Count(0, 365, load_default=30)
    language = Text(max_length=16, load_default="en")
    notes = Text(max_length=5000, load_default="")
    billing_address = fields.Nested(AddressSchema, load_default=dict)
    shipping_address = fields.Nested(AddressSchema, load_default=dict)
    tags = fields.List(Text(max_length=40), load_default=list, validate=validate.Length(max=50))
    contacts = fields.List(
        fields.Nested(ContactSchema),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "On one client, or in a list with expand=contacts."},
    )
    archived = fields.Boolean(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class ClientUpdateSchema(ClientSchema):
    """Every field optional: what is sent replaces what is stored."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


class ClientQuery(ListQuery):
    q = Text(max_length=100, load_default="", metadata={"description": "Name or email contains."})
    tag = Text(max_length=40, load_default="")
    archived = fields.Boolean(load_default=False)
    sort = fields.String(load_default="name", validate=validate.OneOf(SORTS))
    expand = EXPAND


class ClientSummarySchema(ma.Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(allow_none=True)
    currency = fields.String(required=True)


class ClientGetQuery(ma.Schema):
    expand = EXPAND


def dump_contact(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.public_id,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "is_primary": contact.is_primary,
    }


def _address(client: Client, prefix: str) -> dict[str, str]:
    return {
        part: getattr(client, f"{prefix}_{part}")
        for part in ("line1", "line2", "city", "postal_code", "country")
    }


def dump_client(client: Client, contacts: bool = True) -> dict[str, Any]:
    """The client; a list leaves out the contacts unless asked (``expand=contacts``)."""
    found: dict[str, Any] = {
        "id": client.public_id,
        "name": client.name,
        "email": client.email,
        "phone": client.phone,
        "tax_id": client.tax_id,
        "currency": client.currency,
        "payment_terms_days": client.payment_terms_days,
        "language": client.language,
        "notes": client.notes,
        "billing_address": _address(client, "billing"),
        "shipping_address": _address(client, "shipping"),
        "tags": [t.name for t in client.tags],
        "archived": client.archived_at is not None,
        "created_at": client.created_at,
        "updated_at": client.updated_at,
    }
    if contacts:
        found["contacts"] = [dump_contact(c) for c in client.contacts]
    return found


def summary(client: Client) -> dict[str, Any]:
    return {
        "id": client.public_id,
        "name": client.name,
        "email": client.email,
        "currency": client.currency,
    }
