"""The migration that introduced encryption encrypts the secrets already stored, and its
downgrade gives them back in plain text; the one that moved TOTP secrets into the key ring
re-encrypts them, and its downgrade puts them back under their old key."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from portal.models import Role, TotpCredential
from portal.secrets_at_rest import decrypt
from portal.services import two_factor
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


# Just before the TOTP move, and before the key ring itself (both revisions run on the way up).
TOTP_BEFORE = ("1d27de5bb4a2", BEFORE)


def _own_totp_key(app: Any) -> Fernet:
    """The key TOTP secrets had before they joined the key ring (HKDF from SECRET_KEY)."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"invoice-lite totp secrets"
    ).derive(str(app.config["SECRET_KEY"]).encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _raw_totp(db: Any) -> str:
    with db.engine.connect() as conn:
        return str(conn.execute(text("SELECT secret FROM totp_credentials")).scalar_one())


@pytest.mark.parametrize("start", TOTP_BEFORE)
def test_totp_secrets_move_into_the_key_ring_and_back(
    start: str, app: Any, db: Any, team: Team
) -> None:
    user_id = team.users[Role.STAFF].id
    old_token = _own_totp_key(app).encrypt(b"JBSWY3DPEHPK3PXP").decode()
    db.session.remove()
    downgrade(revision=start)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO totp_credentials (user_id, secret, created_at)"
                " VALUES (:user, :secret, CURRENT_TIMESTAMP)"
            ),
            {"user": user_id, "secret": old_token},
        )
    upgrade()
    raw = _raw_totp(db)
    assert raw != old_token and decrypt(raw) == "JBSWY3DPEHPK3PXP"
    credential = db.session.scalar(select(TotpCredential))
    assert credential is not None and two_factor.secret_of(credential) == "JBSWY3DPEHPK3PXP"
    db.session.remove()
    downgrade(revision=start)
    assert _own_totp_key(app).decrypt(_raw_totp(db).encode()) == b"JBSWY3DPEHPK3PXP"
    upgrade()
    assert decrypt(_raw_totp(db)) == "JBSWY3DPEHPK3PXP"
