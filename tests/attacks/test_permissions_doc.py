"""docs/permissions.md says what the code does: its tables are read and compared with the code."""

from __future__ import annotations

import re
from pathlib import Path

from portal.api.principal import SCOPES
from portal.models import Role
from tests.attacks.api import operations
from tests.attacks.test_api_roles import ROLE_FLOOR
from tests.web.test_roles import ACCESS, LOGIN_ONLY, PUBLIC

DOC = Path(__file__).parents[2] / "docs" / "permissions.md"
COLUMNS = [Role.OWNER, Role.ADMIN, Role.ACCOUNTANT, Role.STAFF, Role.VIEWER]


def _table(first_header: str) -> list[list[str]]:
    """The rows of the page's table whose first column is headed so (header and rule dropped)."""
    tables: list[list[list[str]]] = [[]]
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            tables[-1].append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif tables[-1]:
            tables.append([])
    (found,) = [t for t in tables if t and t[0][0] == first_header]
    return found[2:]


def _ticks(row: list[str]) -> set[Role]:
    return {role for role, cell in zip(COLUMNS, row[2:7], strict=True) if cell == "✓"}


def _need(endpoint: str) -> Role:
    needs = {
        Role.VIEWER if access.need == LOGIN_ONLY else Role(access.need)
        for access in ACCESS.values()
        if access.endpoint == endpoint and access.need != PUBLIC
    }
    assert len(needs) == 1, f"{endpoint}: one row per need, found {needs}"
    return needs.pop()


def _matrix() -> list[list[str]]:
    return [row for row in _table("capability") if row[1]]


def test_each_row_ticks_exactly_the_roles_the_routes_let_in() -> None:
    assert len(_matrix()) > 30
    for row in _matrix():
        endpoints = re.findall(r"`([a-z_]+\.[a-z_]+)`", row[1])
        assert endpoints, row
        for endpoint in endpoints:
            need = _need(endpoint)
            expected = {role for role in COLUMNS if role.at_least(need)}
            assert _ticks(row) == expected, f"{row[0]}: {endpoint} needs {need.value}"


def test_every_page_behind_a_role_has_a_row() -> None:
    documented = {e for row in _matrix() for e in re.findall(r"`([a-z_]+\.[a-z_]+)`", row[1])}
    gated = {
        access.endpoint
        for (_, rule), access in ACCESS.items()
        if isinstance(access.need, Role) and not rule.startswith("/api/")
    }
    assert sorted(gated - documented) == [], "add these to docs/permissions.md"
    assert sorted(documented - {a.endpoint for a in ACCESS.values()}) == [], "no such endpoint"


def test_the_scope_column_names_real_scopes() -> None:
    named = {s for row in _matrix() for s in re.findall(r"`([a-z]+:[a-z]+)`", row[7])}
    assert named <= set(SCOPES)
    assert named == set(SCOPES), "every scope belongs to some capability"


def test_the_scope_table_is_the_code_s() -> None:
    rows = _table("scope")
    table = {re.sub(r"`", "", row[0]): (row[1], row[2]) for row in rows}
    code = {name: (text, least.value) for name, (text, least) in SCOPES.items()}
    assert table == code


def test_the_role_floors_are_the_tests() -> None:
    rows = _table("operation")
    table = {re.sub(r"`", "", row[0]): (row[1].strip("`"), row[2]) for row in rows}
    by_label = {op.label: op for op in operations()}
    expected = {label: (by_label[label].scope, floor.value) for label, floor in ROLE_FLOOR.items()}
    assert table == expected


def test_the_page_is_linked() -> None:
    root = Path(__file__).parents[2]
    assert "permissions.md" in (root / "docs" / "team-and-roles.md").read_text(encoding="utf-8")
    assert "docs/permissions.md" in (root / "README.md").read_text(encoding="utf-8")
