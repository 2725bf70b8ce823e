"""Every API operation, with a key of each role holding every scope that role may grant."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.api.principal import SCOPES, grantable
from portal.extensions import db
from portal.models import Membership, Role
from portal.services import api_keys
from portal.services.actors import Actor
from portal.services.errors import Forbidden, InvalidInput
from tests.attacks.api import (
    Operation,
    add_api_objects,
    body_for,
    call,
    fresh_ids,
    operations,
    url_for,
)
from tests.conftest import Team
from tests.web.test_roles import ROLES

OPERATIONS = operations()

# Operations whose service asks for more than the least role of their scope: the scope lets the
# call in, the member's role still decides (as on the web). docs/permissions.md lists them.
ROLE_FLOOR: dict[str, Role] = {
    "POST /api/v1/invoices/{public_id}/void": Role.ACCOUNTANT,
    "POST /api/v1/credit-notes": Role.ACCOUNTANT,
    "POST /api/v1/credit-notes/{public_id}/issue": Role.ACCOUNTANT,
}


def test_every_operation_names_a_known_scope() -> None:
    assert len(OPERATIONS) > 50
    assert {op.scope for op in OPERATIONS} <= set(SCOPES)
    # Every scope guards something: none is granted for nothing.
    assert {op.scope for op in OPERATIONS} == set(SCOPES)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_each_role_reaches_what_its_scopes_allow(
    operation: Operation, ids: dict[str, str], team: Team, client: FlaskClient
) -> None:
    ids = add_api_objects(team, ids)
    keys = {role: key_of(team, role) for role in ROLES}
    floor = ROLE_FLOOR.get(operation.label)
    for role in ROLES:
        # Each role its own objects where the call uses them up (a draft issued, a quote
        # accepted): a 404 or 422 then means what it says, not that a role before got there.
        mine = fresh_ids(operation, team, ids)
        url = url_for(operation, mine)
        extra = {"json": body_for(operation, mine)} if operation.method != "GET" else {}
        response = call(client, operation.method, url, keys[role], **extra)
        said = f"{role.value}: {response.get_data()[:300]!r}"
        if operation.scope not in grantable(role):
            assert response.status_code == 403, said
            assert response.mimetype == "application/problem+json"
            assert operation.scope in response.get_json()["detail"]
        elif floor is not None and not role.at_least(floor):
            assert response.status_code == 403, said
            assert f"the {floor.value} role" in response.get_json()["detail"]
        else:
            assert response.status_code == operation.success, said


def test_the_floors_are_above_their_scopes() -> None:
    """A floor at or below the scope's own least role would say nothing."""
    by_label = {op.label: op for op in OPERATIONS}
    for label, floor in ROLE_FLOOR.items():
        scope = by_label[label].scope
        assert not SCOPES[scope][1].at_least(floor), label


def _membership(team: Team, role: Role) -> Membership:
    found = db.session.scalar(
        select(Membership).where(
            Membership.business_id == team.business.id,
            Membership.user_id == team.users[role].id,
        )
    )
    assert found is not None
    return found


def key_of(team: Team, role: Role) -> str:
    """A key acting as the member in ``role``, with every scope that role may grant.

    Only admins make keys (an app can act for any member): the member makes it while an admin
    and holds ``role`` when it is used, so the key is bounded by the role it acts as now.
    """
    membership = _membership(team, role)
    if role.at_least(Role.ADMIN):
        actor = team.actor(role)
    else:
        membership.role = Role.ADMIN
        actor = Actor(team.users[role], team.business, Role.ADMIN)
    _, raw = api_keys.create_key(
        actor, api_keys.KeyData(name=role.value, scopes=tuple(grantable(role)))
    )
    membership.role = role
    db.session.commit()
    return raw


def test_a_key_cannot_be_given_more_than_its_maker_may(team: Team) -> None:
    for role in (Role.OWNER, Role.ADMIN):
        beyond = sorted(set(SCOPES) - set(grantable(role)))
        for scope in beyond:
            with pytest.raises(InvalidInput):
                api_keys.create_key(
                    team.actor(role), api_keys.KeyData(name="too much", scopes=(scope,))
                )
    for role in (Role.ACCOUNTANT, Role.STAFF, Role.VIEWER):
        with pytest.raises(Forbidden):
            api_keys.create_key(
                team.actor(role), api_keys.KeyData(name="mine", scopes=("clients:read",))
            )


def test_a_demoted_maker_takes_the_keys_power_down_too(team: Team, client: FlaskClient) -> None:
    _, key = api_keys.create_key(
        team.actor(Role.ADMIN), api_keys.KeyData(name="admin", scopes=tuple(grantable(Role.ADMIN)))
    )
    assert call(client, "GET", "/api/v1/webhook-endpoints", key).status_code == 200
    membership = _membership(team, Role.ADMIN)
    membership.role = Role.VIEWER
    db.session.commit()
    assert call(client, "GET", "/api/v1/webhook-endpoints", key).status_code == 403
    assert call(client, "GET", "/api/v1/clients", key).status_code == 200
