"""Provider credentials, chat targets, SMTP passwords, webhook and signing secrets are stored
encrypted; the raw rows hold no plaintext; a new key takes them all over with ``keys rotate``."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import text

from portal.extensions import db
from portal.models import ApiKey, Business, NotificationChannel, PaymentAccount, Role
from portal.secrets_at_rest import ENCRYPTED_COLUMNS, SecretError
from portal.services import api_keys, webhooks
from tests.conftest import Team

SECRETS = {
    "sk_live_verysecret123",
    "whsec_stripe_signing_456",
    "https://hooks.slack.com/services/T000/B000/slacksecret789",
    "smtp-password-abc",
}


@pytest.fixture
def stored(team: Team) -> dict[str, Any]:
    business = db.session.get_one(Business, team.business.id)
    business.smtp_password = "smtp-password-abc"
    db.session.add(
        PaymentAccount(
            business_id=business.id,
            provider="stripe",
            credentials='{"secret_key": "sk_live_verysecret123", '
            '"webhook_secret": "whsec_stripe_signing_456"}',
        )
    )
    db.session.add(
        NotificationChannel(
            business_id=business.id,
            provider="slack",
            name="Team",
            target="https://hooks.slack.com/services/T000/B000/slacksecret789",
            events=["invoice.paid"],
        )
    )
    db.session.commit()
    key, _ = api_keys.create_key(
        team.actor(Role.OWNER),
        api_keys.KeyData(name="Books", scopes=("invoices:read",), require_signature=True),
    )
    endpoint = webhooks.create_endpoint(
        team.actor(Role.OWNER), webhooks.EndpointData(url="http://127.0.0.1:9/in")
    )
    return {"signing": key.signing_secret, "webhook": endpoint.secret}


def _raw_values() -> list[str]:
    values = []
    for table, column in ENCRYPTED_COLUMNS:
        rows = db.session.execute(text(f"SELECT {column} FROM {table}")).scalars()
        values += [str(v) for v in rows if v]
    return values


def test_the_raw_rows_hold_no_plaintext_secret(stored: dict[str, Any]) -> None:
    raw = _raw_values()
    assert len(raw) == 5  # credentials, chat target, SMTP password, webhook and signing secrets
    blob = "\n".join(raw)
    for secret in [*SECRETS, stored["signing"], stored["webhook"]]:
        assert secret not in blob
    assert all(value.startswith("gAAAAA") for value in raw)  # Fernet tokens


def test_the_app_reads_them_back(stored: dict[str, Any], team: Team) -> None:
    db.session.expire_all()
    account = db.session.query(PaymentAccount).one()
    assert "sk_live_verysecret123" in account.credentials
    assert db.session.get_one(Business, team.business.id).smtp_password == "smtp-password-abc"
    key = db.session.query(ApiKey).one()
    assert key.signing_secret == stored["signing"]


def test_rotation_moves_every_secret_to_the_new_key(
    app: Flask, stored: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.secrets_at_rest import configured_keys

    current = list(configured_keys())
    new = Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "SECRET_KEYS", [new, *current])
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 5 secret(s)" in result.output
    # Only the new key is needed now.
    monkeypatch.setitem(app.config, "SECRET_KEYS", [new])
    db.session.expire_all()
    account = db.session.query(PaymentAccount).one()
    assert "sk_live_verysecret123" in account.credentials
    for value in _raw_values():
        assert Fernet(new.encode()).decrypt(value.encode())


def test_without_the_right_key_nothing_is_read_or_changed(
    app: Flask, stored: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _raw_values()
    monkeypatch.setitem(app.config, "SECRET_KEYS", [Fernet.generate_key().decode()])
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code != 0
    assert "Nothing was changed" in result.output
    assert _raw_values() == before
    db.session.expire_all()
    with pytest.raises(SecretError):
        db.session.query(PaymentAccount).one().credentials  # noqa: B018


def test_keys_new_prints_a_fernet_key(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "new"])
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())
