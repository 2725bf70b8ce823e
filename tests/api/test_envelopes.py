"""Envelope import refuses every malformed body with a problem, and imports nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Client, Payment
from tests.api.conftest import Api


@pytest.mark.parametrize(
    "body",
    [
        "null",
        "[]",
        "{}",
        "1",
        '"x"',
        '{"type": "batch"}',
        '{"type": "batch", "payload": {"items": [{"type":"payments","payload":1}]}}',
        "\x00",
    ],
)
def test_a_malformed_envelope_is_a_problem_and_imports_nothing(api: Api, body: str) -> None:
    response = api.client.post(
        "/api/v1/envelopes/import",
        data=body,
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
        csrf=False,
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Envelope refused"
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert db.session.scalar(select(func.count()).select_from(Client)) == 0
