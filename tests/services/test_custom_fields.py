import re
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import AuditEvent, CustomField, Role
from portal.services import custom_fields, documents
from portal.services.custom_fields import FieldData
from portal.services.errors import Forbidden, InvalidInput, NotFound
from tests.conftest import make_team
from tests.services import factories as f


def field(
    team: Any, key: str, kind: str = "text", entity: str = "client", **kw: Any
) -> CustomField:
    data = FieldData(entity=entity, key=key, label=kw.pop("label", key.title()), kind=kind, **kw)
    return custom_fields.define_field(team.actor(Role.ADMIN), data)


@pytest.fixture
def client_fields(team):
    return [
        field(team, "account-no", label="Account number", required=True),
        field(team, "credit-limit", "number", label="Credit limit"),
        field(team, "contract-end", "date", label="Contract end"),
        field(team, "tier", "choice", label="Tier", choices=("Gold", "Silver", "Bronze")),
    ]


def test_values_come_back_clean_and_blank_ones_are_left_out(team, db, client_fields):
    values = {
        "account-no": "  A-1001 ",
        "credit-limit": "-12500.50",
        "contract-end": "2026-02-28",
        "tier": "",
    }
    assert custom_fields.validate_values(team.actor(Role.STAFF), "client", values) == {
        "account-no": "A-1001",
        "credit-limit": "-12500.50",
        "contract-end": "2026-02-28",
    }


def test_every_bad_value_is_named_with_its_reason(team, db, client_fields):
    values = {
        "credit-limit": "12,5",
        "contract-end": "2026-02-30",
        "tier": "Platinum",
        "colour": "blue",
    }
    with pytest.raises(InvalidInput) as info:
        custom_fields.validate_values(team.actor(Role.STAFF), "client", values)
    assert info.value.errors == {
        "custom-colour": "There is no client field 'colour'.",
        "custom-account-no": "Account number is required.",
        "custom-credit-limit": "Enter a number, such as 1250 or -12.50.",
        "custom-contract-end": "Enter a date as YYYY-MM-DD, such as 2026-03-31.",
        "custom-tier": "Choose one of: Gold, Silver, Bronze.",
    }


@pytest.mark.parametrize("number", ["1e3", "1_000", "Infinity", "NaN", ".5", "5."])
def test_only_plain_numbers_are_numbers(team, db, client_fields, number):
    with pytest.raises(InvalidInput) as info:
        custom_fields.validate_values(
            team.actor(), "client", {"account-no": "A", "credit-limit": number}
        )
    assert info.value.errors == {"custom-credit-limit": "Enter a number, such as 1250 or -12.50."}


@pytest.mark.parametrize("day", ["31/03/2026", "20260331", "2026-W13-2", "2026-3-31"])
def test_only_iso_dates_are_dates(team, db, client_fields, day):
    with pytest.raises(InvalidInput) as info:
        custom_fields.validate_values(
            team.actor(), "client", {"account-no": "A", "contract-end": day}
        )
    assert info.value.errors == {
        "custom-contract-end": "Enter a date as YYYY-MM-DD, such as 2026-03-31."
    }


def test_client_values_are_stored_and_audited(team, db, client_fields):
    actor = team.actor(Role.STAFF)
    client = f.client(actor)
    saved = custom_fields.set_client_custom_fields(
        actor, client.public_id, {"account-no": "A-1", "tier": "Gold"}
    )
    assert saved.custom_fields == {"account-no": "A-1", "tier": "Gold"}
    (event,) = _db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "client.custom_fields_updated")
    )
    assert (event.entity_id, event.before, event.after) == (
        client.public_id,
        {"custom_fields": {}},
        {"custom_fields": {"account-no": "A-1", "tier": "Gold"}},
    )


def test_a_bad_value_writes_nothing(team, db, client_fields):
    actor = team.actor(Role.STAFF)
    client = f.client(actor)
    with pytest.raises(InvalidInput):
        custom_fields.set_client_custom_fields(actor, client.public_id, {"tier": "Gold"})
    _db.session.refresh(client)
    assert client.custom_fields == {}
    assert (
        _db.session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action == "client.custom_fields_updated"
            )
        )
        == 0
    )


def test_archiving_a_field_keeps_its_values_and_drops_the_requirement(team, db, client_fields):
    actor = team.actor(Role.STAFF)
    client = f.client(actor)
    custom_fields.set_client_custom_fields(
        actor, client.public_id, {"account-no": "A-1", "credit-limit": "500"}
    )
    custom_fields.archive_field(team.actor(Role.ADMIN), client_fields[0].public_id)
    assert [x.key for x in custom_fields.list_fields(actor, "client")] == [
        "credit-limit",
        "contract-end",
        "tier",
    ]
    saved = custom_fields.set_client_custom_fields(actor, client.public_id, {"credit-limit": ""})
    assert saved.custom_fields == {"account-no": "A-1"}
    with pytest.raises(InvalidInput) as info:
        custom_fields.validate_values(actor, "client", {"account-no": "A-2"})
    assert info.value.errors == {"custom-account-no": "There is no client field 'account-no'."}


def test_document_values_only_change_on_a_draft(team, db):
    field(team, "project", entity="invoice", label="Project")
    actor = team.actor(Role.STAFF)
    doc = f.draft(actor, f.client(actor))
    saved = custom_fields.set_document_custom_fields(actor, doc.public_id, {"project": "Atlas"})
    assert saved.custom_fields == {"project": "Atlas"}
    documents.issue_invoice(team.actor(), doc.public_id)
    with pytest.raises(InvalidInput) as info:
        custom_fields.set_document_custom_fields(actor, doc.public_id, {"project": "Zeus"})
    assert info.value.errors == {"document": "Custom fields of an issued invoice cannot change."}


def test_fields_of_one_entity_do_not_apply_to_the_other(team, db):
    field(team, "project", entity="invoice")
    with pytest.raises(InvalidInput) as info:
        custom_fields.validate_values(team.actor(), "client", {"project": "Atlas"})
    assert info.value.errors == {"custom-project": "There is no client field 'project'."}


def test_other_businesses_are_not_found(team, db, client_fields):
    other = make_team("Other Co")
    client = f.client(team.actor())
    with pytest.raises(NotFound):
        custom_fields.set_client_custom_fields(other.actor(), client.public_id, {})
    doc = f.draft(team.actor(), client)
    with pytest.raises(NotFound):
        custom_fields.set_document_custom_fields(other.actor(), doc.public_id, {})
    with pytest.raises(NotFound):
        custom_fields.archive_field(other.actor(), client_fields[0].public_id)
    # The other business has no fields: a key of this one is unknown there.
    with pytest.raises(InvalidInput) as info:
        custom_fields.validate_values(other.actor(), "client", {"tier": "Gold"})
    assert info.value.errors == {"custom-tier": "There is no client field 'tier'."}


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            FieldData(entity="product", key="size", label="Size", kind="text"),
            {"entity": "Choose client or invoice."},
        ),
        (
            FieldData(entity="client", key="Account No", label="Account", kind="text"),
            {
                "key": (
                    "Use up to 40 lower-case letters, digits and single hyphens, "
                    "starting with a letter."
                )
            },
        ),
        (
            FieldData(entity="client", key="a" * 41, label="Long", kind="text"),
            {
                "key": (
                    "Use up to 40 lower-case letters, digits and single hyphens, "
                    "starting with a letter."
                )
            },
        ),
        (
            FieldData(entity="client", key="vat", label=" ", kind="text"),
            {"label": "A field needs a label."},
        ),
        (
            FieldData(entity="client", key="vat", label="VAT", kind="money"),
            {"kind": "Choose text, number, date or choice."},
        ),
        (
            FieldData(entity="client", key="tier", label="Tier", kind="choice"),
            {"choices": "Give at least one choice."},
        ),
        (
            FieldData(entity="client", key="tier", label="Tier", kind="choice", choices=("A", "A")),
            {"choices": "Each choice must be different."},
        ),
        (
            FieldData(entity="client", key="tier", label="Tier", kind="choice", choices=("A", " ")),
            {"choices": "A choice cannot be empty."},
        ),
    ],
)
def test_bad_definitions_write_nothing(team, db, data, errors):
    with pytest.raises(InvalidInput) as info:
        custom_fields.define_field(team.actor(Role.ADMIN), data)
    assert info.value.errors == errors
    assert _db.session.scalar(select(func.count(CustomField.id))) == 0


def test_keys_are_unique_per_entity_archived_ones_included(team, db):
    first = field(team, "project")
    field(team, "project", entity="invoice")  # the same key on the other entity is fine
    with pytest.raises(InvalidInput) as info:
        field(team, "project")
    assert info.value.errors == {"key": "Another client field already uses this key."}
    custom_fields.archive_field(team.actor(Role.ADMIN), first.public_id)
    with pytest.raises(InvalidInput) as info:
        field(team, "project")
    assert info.value.errors == {"key": "An archived client field uses this key; choose another."}


def test_definitions_need_an_admin_and_are_audited(team, db):
    data = FieldData(entity="client", key="vat", label="VAT", kind="text")
    with pytest.raises(Forbidden, match=re.escape("This needs the admin role or higher.")):
        custom_fields.define_field(team.actor(Role.ACCOUNTANT), data)
    made = custom_fields.define_field(team.actor(Role.ADMIN), data)
    custom_fields.archive_field(team.actor(Role.ADMIN), made.public_id)
    actions = _db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_id == made.public_id)
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == ["custom_field.created", "custom_field.archived"]
    with pytest.raises(Forbidden):
        custom_fields.validate_values(team.actor(Role.VIEWER), "client", {})
