"""A sound invoice envelope built without the portal, to break in one place per test."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations import envelope as env

SECRET = b"partner secret"
ENVELOPE_ID = "01JQ0Z8D5W3H2K9V7X4Y6T1R0M"


def sound_invoice() -> dict[str, Any]:
    payload = {
        "currency": "EUR",
        "client": {"name": "Fjord AS", "currency": "EUR", "email": "ap@fjord.example"},
        "lines": [
            {
                "description": "Design",
                "quantity": "2",
                "unit_price": "50",
                "taxes": [],
                "net": {"minor": 10000, "currency": "EUR"},
                "total": {"minor": 10000, "currency": "EUR"},
            }
        ],
        "totals": {
            "net": {"minor": 10000, "currency": "EUR"},
            "tax": {"minor": 0, "currency": "EUR"},
            "total": {"minor": 10000, "currency": "EUR"},
            "amount_due": {"minor": 10000, "currency": "EUR"},
        },
    }
    return env.build_envelope(
        "invoice",
        payload,
        system="tests",
        business_id="b-1",
        id=ENVELOPE_ID,
        created_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        attachments=[env.encode_attachment("note.txt", "text/plain", b"hello")],
    )


@pytest.fixture
def sound() -> dict[str, Any]:
    return copy.deepcopy(sound_invoice())
