"""The migration that introduced encryption encrypts the secrets already stored, and its
downgrade gives them back in plain text."""

from __future__ import annotations

from typing import Any

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from portal.secrets_at_rest import decrypt
from tests.conftest import Team

BEFORE = "a1136fcd7576"


def test_stored_secrets_are_encrypted_by_the_upgrade(app: Any, db: Any, team: Team) -> None:
    business_id = team.business.id
    db.session.remove()
    downgrade(revision=BEFORE)
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE businesses SET smtp_password = 'plain-smtp-secret' WHERE id = :id"),
            {"id": business_id},
        )
    upgrade()
    with db.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT smtp_password FROM businesses WHERE id = :id"), {"id": business_id}
        ).scalar_one()
    assert raw != "plain-smtp-secret" and decrypt(raw) == "plain-smtp-secret"
    downgrade(revision=BEFORE)
    with db.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT smtp_password FROM businesses WHERE id = :id"), {"id": business_id}
        ).scalar_one()
    assert raw == "plain-smtp-secret"
    upgrade()
