"""Custom fields: a business's own fields on clients and invoices, and checking their values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import Client, CustomField, Document, Role
from portal.models.base import utcnow
from portal.services import audit
from portal.services.actors import Actor
from portal.services.clients import get_client
from portal.services.documents import DRAFT, get_document
from portal.services.errors import InvalidInput, NotFound

ENTITIES = {"client": "client", "invoice": "invoice"}
KINDS = {"text": "Text", "number": "Number", "date": "Date", "choice": "Choice"}
MAX_KEY = 40
MAX_LABEL = 80
MAX_CHOICE = 80
MAX_TEXT = 500
_KEY = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class FieldData:
    entity: str  # "client" or "invoice" (invoice fields apply to every kind of document)
    key: str  # slug: what forms and the API call the field
    label: str
    kind: str  # text, number, date, choice
    choices: tuple[str, ...] = ()  # for kind "choice"
    required: bool = False


def snapshot(field: CustomField) -> dict[str, Any]:
    return {
        "entity": field.entity,
        "key": field.key,
        "label": field.label,
        "kind": field.kind,
        "choices": list(field.choices),
        "required": field.required,
        "archived": field.archived_at is not None,
    }


def list_fields(actor: Actor, entity: str, *, archived: bool = False) -> list[CustomField]:
    """The fields in the order they were defined, the order forms show them in."""
    stmt = select(CustomField).where(
        CustomField.business_id == actor.business.id, CustomField.entity == entity
    )
    stmt = stmt.where(
        CustomField.archived_at.is_not(None) if archived else CustomField.archived_at.is_(None)
    )
    return list(db.session.scalars(stmt.order_by(CustomField.id)))


def get_field(actor: Actor, public_id: str) -> CustomField:
    field = db.session.scalar(
        select(CustomField).where(
            CustomField.public_id == public_id, CustomField.business_id == actor.business.id
        )
    )
    if field is None:
        raise NotFound("No such custom field.")
    return field


def _check(actor: Actor, data: FieldData) -> dict[str, str]:
    errors: dict[str, str] = {}
    if data.entity not in ENTITIES:
        errors["entity"] = "Choose client or invoice."
    key = data.key.strip()
    if not _KEY.fullmatch(key) or len(key) > MAX_KEY:
        errors["key"] = (
            f"Use up to {MAX_KEY} lower-case letters, digits and single hyphens, "
            "starting with a letter."
        )
    elif "entity" not in errors:
        clash = db.session.scalar(
            select(CustomField).where(
                CustomField.business_id == actor.business.id,
                CustomField.entity == data.entity,
                CustomField.key == key,
            )
        )
        if clash is not None:
            errors["key"] = _clash_message(data.entity, clash)
    label = data.label.strip()
    if not label:
        errors["label"] = "A field needs a label."
    elif len(label) > MAX_LABEL:
        errors["label"] = f"Keep the label under {MAX_LABEL + 1} characters."
    if data.kind not in KINDS:
        errors["kind"] = "Choose text, number, date or choice."
    elif data.kind == "choice":
        choices = [c.strip() for c in data.choices]
        if not any(choices):
            errors["choices"] = "Give at least one choice."
        elif not all(choices):
            errors["choices"] = "A choice cannot be empty."
        elif len(set(choices)) != len(choices):
            errors["choices"] = "Each choice must be different."
        elif any(len(c) > MAX_CHOICE for c in choices):
            errors["choices"] = f"Keep each choice under {MAX_CHOICE + 1} characters."
    return errors


def _clash_message(entity: str, clash: CustomField) -> str:
    if clash.archived_at is not None:
        return f"An archived {entity} field uses this key; choose another."
    return f"Another {entity} field already uses this key."


def define_field(actor: Actor, data: FieldData) -> CustomField:
    actor.require(Role.ADMIN)
    if errors := _check(actor, data):
        raise InvalidInput(errors)
    field = CustomField(
        business_id=actor.business.id,
        entity=data.entity,
        key=data.key.strip(),
        label=data.label.strip(),
        kind=data.kind,
        choices=[c.strip() for c in data.choices] if data.kind == "choice" else [],
        required=data.required,
    )
    db.session.add(field)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="custom_field.created",
        entity_type="custom_field",
        entity_id=field.public_id,
        after=snapshot(field),
    )
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        # Two admins defined the same key at the same moment; the unique constraint decided.
        raise InvalidInput({"key": f"Another {data.entity} field already uses this key."}) from exc
    return field


def archive_field(actor: Actor, public_id: str) -> CustomField:
    """Archived fields leave forms and stop being required; values already stored stay."""
    actor.require(Role.ADMIN)
    field = get_field(actor, public_id)
    if field.archived_at is not None:
        return field
    field.archived_at = utcnow()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="custom_field.archived",
        entity_type="custom_field",
        entity_id=field.public_id,
        before={"archived": False},
        after={"archived": True},
    )
    db.session.commit()
    return field


def _clean(field: CustomField, raw: str) -> tuple[Any, str | None]:
    """The value as stored (JSON-safe) or the message saying what is wrong with it."""
    if field.kind == "number":
        # Plain digits only: Decimal would also read "1e3", "1_000" and "Infinity".
        if not _NUMBER.fullmatch(raw):
            return None, "Enter a number, such as 1250 or -12.50."
        return format(Decimal(raw), "f"), None
    if field.kind == "date":
        try:
            day = date.fromisoformat(raw) if _ISO_DATE.fullmatch(raw) else None
        except ValueError:
            day = None
        if day is None:
            return None, "Enter a date as YYYY-MM-DD, such as 2026-03-31."
        return day.isoformat(), None
    if field.kind == "choice":
        if raw not in field.choices:
            return None, f"Choose one of: {', '.join(field.choices)}."
        return raw, None
    if len(raw) > MAX_TEXT:
        return None, f"Keep it under {MAX_TEXT + 1} characters."
    return raw, None


def validate_values(actor: Actor, entity: str, values: dict[str, str]) -> dict[str, Any]:
    """Check the values typed for ``entity``'s fields; blank ones are left out.

    Numbers come back as decimal strings ("12.50"), dates as ISO dates. Errors are keyed
    ``custom-<key>``, the name of the form input.
    """
    actor.require(Role.STAFF)
    if entity not in ENTITIES:
        raise InvalidInput({"entity": "Choose client or invoice."})
    fields = {f.key: f for f in list_fields(actor, entity)}
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key in values:
        if key not in fields:
            errors[f"custom-{key}"] = f"There is no {entity} field {key!r}."
    for key, field in fields.items():
        raw = str(values.get(key, "")).strip()
        if not raw:
            if field.required:
                errors[f"custom-{key}"] = f"{field.label} is required."
            continue
        value, message = _clean(field, raw)
        if message is not None:
            errors[f"custom-{key}"] = message
        else:
            cleaned[key] = value
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _merge(
    actor: Actor, entity: str, stored: dict[str, Any], cleaned: dict[str, Any]
) -> dict[str, Any]:
    """The new values, keeping those of archived fields: archiving loses no data."""
    archived = {f.key for f in list_fields(actor, entity, archived=True)}
    return {**{k: v for k, v in stored.items() if k in archived}, **cleaned}


def set_client_custom_fields(actor: Actor, client_id: str, values: dict[str, str]) -> Client:
    """Replace the client's custom field values with ``values`` (every field of the form)."""
    actor.require(Role.STAFF)
    client = get_client(actor, client_id)
    cleaned = validate_values(actor, "client", values)
    before = dict(client.custom_fields)
    client.custom_fields = _merge(actor, "client", before, cleaned)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.custom_fields_updated",
        entity_type="client",
        entity_id=client.public_id,
        before={"custom_fields": before},
        after={"custom_fields": client.custom_fields},
    )
    db.session.commit()
    return client


def set_document_custom_fields(actor: Actor, document_id: str, values: dict[str, str]) -> Document:
    """Replace a draft's custom field values; an issued document is frozen like its lines."""
    actor.require(Role.STAFF)
    doc = get_document(actor, document_id)
    if doc.status != DRAFT:
        raise InvalidInput(
            {
                "document": f"Custom fields of an issued {doc.kind.value.replace('_', ' ')} "
                "cannot change."
            }
        )
    cleaned = validate_values(actor, "invoice", values)
    before = dict(doc.custom_fields)
    doc.custom_fields = _merge(actor, "invoice", before, cleaned)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=f"{doc.kind.value}.custom_fields_updated",
        entity_type=doc.kind.value,
        entity_id=doc.public_id,
        before={"custom_fields": before},
        after={"custom_fields": doc.custom_fields},
    )
    db.session.commit()
    return doc
