"""``/clients``: list, read, create, change, archive and restore clients; their contacts."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy.orm import selectinload

from portal.api.pagination import SortKey
from portal.api.principal import require_scope
from portal.api.resources.common import actor, page, timestamps
from portal.api.schemas.clients import (
    ClientGetQuery,
    ClientQuery,
    ClientSchema,
    ClientUpdateSchema,
    ContactSchema,
    dump_client,
    dump_contact,
)
from portal.api.schemas.common import csv_list, page_schema
from portal.models import Client
from portal.services import clients
from portal.services.clients import ClientData, ClientFilter, ContactData

bp = Blueprint("api_clients", __name__, url_prefix="/api/v1/clients", description="Clients")
SORT_KEYS = {"name": SortKey(Client.sort_name, "sort_name", "str"), **timestamps(Client)}
ClientPage = page_schema(ClientSchema, "ClientPage")
EXPANDABLE = {"contacts"}


def _data(body: dict[str, Any]) -> ClientData:
    billing = body.get("billing_address") or {}
    shipping = body.get("shipping_address") or {}
    return ClientData(
        name=body["name"],
        currency=body["currency"],
        email=body.get("email") or "",
        phone=body.get("phone", ""),
        tax_id=body.get("tax_id", ""),
        payment_terms_days=body.get("payment_terms_days", 30),
        language=body.get("language", "en"),
        notes=body.get("notes", ""),
        **{f"billing_{k}": v for k, v in billing.items()},
        **{f"shipping_{k}": v for k, v in shipping.items()},
        tags=tuple(body.get("tags", ())),
        contacts=tuple(
            ContactData(
                name=c["name"],
                email=c.get("email", ""),
                phone=c.get("phone", ""),
                is_primary=c.get("is_primary", False),
            )
            for c in body.get("contacts", ())
        ),
    )


@bp.get("")
@require_scope("clients:read")
@bp.arguments(ClientQuery, location="query")
@bp.response(200, ClientPage)
def list_clients(args: dict[str, Any]) -> dict[str, Any]:
    """List clients (active by default), by name or time, a page at a time; ``expand=contacts``
    embeds each client's contacts."""
    contacts = "contacts" in csv_list(args.get("expand"), EXPANDABLE, "expand")
    flt = ClientFilter(q=args["q"], tag=args["tag"], archived=args["archived"])
    stmt = clients.search_statement(actor().business.id, flt).options(selectinload(Client.tags))
    if contacts:
        stmt = stmt.options(selectinload(Client.contacts))
    return page(
        stmt, Client.id, SORT_KEYS, args, lambda c: dump_client(c, contacts), Client.updated_at
    )


@bp.post("")
@require_scope("clients:write")
@bp.arguments(ClientSchema)
@bp.response(201, ClientSchema)
def create_client(body: dict[str, Any]) -> dict[str, Any]:
    """Create a client."""
    return dump_client(clients.create_client(actor(), _data(body)))


@bp.get("/<pid:public_id>")
@require_scope("clients:read")
@bp.arguments(ClientGetQuery, location="query")
@bp.response(200, ClientSchema)
def get_client(args: dict[str, Any], public_id: str) -> dict[str, Any]:
    """One client with its contacts (always: ``expand=contacts`` is taken but not needed)."""
    csv_list(args.get("expand"), EXPANDABLE, "expand")
    return dump_client(clients.get_client(actor(), public_id))


@bp.patch("/<pid:public_id>")
@require_scope("clients:write")
@bp.arguments(ClientUpdateSchema)
@bp.response(200, ClientSchema)
def update_client(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Change a client: the fields sent replace the stored ones (contacts as a whole list)."""
    who = actor()
    current = dump_client(clients.get_client(who, public_id))
    merged = {**current, **body}
    return dump_client(clients.update_client(who, public_id, _data(merged)))


@bp.post("/<pid:public_id>/archive")
@require_scope("clients:write")
@bp.response(200, ClientSchema)
def archive_client(public_id: str) -> dict[str, Any]:
    """Hide a client from lists; its documents stay."""
    return dump_client(clients.archive_client(actor(), public_id))


@bp.post("/<pid:public_id>/restore")
@require_scope("clients:write")
@bp.response(200, ClientSchema)
def restore_client(public_id: str) -> dict[str, Any]:
    """Bring an archived client back."""
    return dump_client(clients.restore_client(actor(), public_id))


@bp.get("/<pid:public_id>/contacts")
@require_scope("clients:read")
@bp.response(200, ContactSchema(many=True))
def list_contacts(public_id: str) -> list[dict[str, Any]]:
    """The client's contacts, the primary billing contact first."""
    return [dump_contact(c) for c in clients.get_client(actor(), public_id).contacts]
