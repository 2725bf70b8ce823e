"""Provider credentials, chat targets, SMTP passwords, webhook and signing secrets and the
two-factor app keys are stored encrypted; no column of any table holds one of them (or a
password, API key, OAuth client secret or recovery code) in plain text; a new key takes them all
over with ``keys rotate``."""

from __future__ import annotations

import json
from typing import Any

import pyotp
import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import inspect, text

from portal.extensions import db
from portal.models import ApiKey, Business, PaymentAccount, Role, TotpCredential
from portal.secrets_at_rest import ENCRYPTED_COLUMNS, SecretError
from portal.services import (
    api_keys,
    mail_settings,
    notifications,
    oauth,
    payment_accounts,
    two_factor,
    webhooks,
)
from tests.conftest import PASSWORD, Team

STRIPE_KEY = "sk_live_verysecret123"
STRIPE_SIGNING = "whsec_stripe_signing_456"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/slacksecret789"
SLACK_TOKEN = "xoxb-0000-1111-slackbottoken"
SMTP_PASSWORD = "smtp-password-abc"
# One row per encrypted value planted below: credentials, two chat targets, the SMTP password,
# a webhook endpoint's secret and previous secret, the signing secret, the TOTP secret.
ENCRYPTED = 8


@pytest.fixture
def stored(app: Flask, team: Team, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every kind of secret, put in through the services as a person would."""
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    monkeypatch.setitem(app.config, "SMTP_ALLOW_PRIVATE_HOSTS", True)
    owner = team.actor(Role.OWNER)
    payment_accounts.forget_offered()
    payment_accounts.save_account(
        owner,
        "stripe",
        payment_accounts.AccountData(
            credentials={"secret_key": STRIPE_KEY, "webhook_secret": STRIPE_SIGNING},
            payment_methods=("card",),
        ),
    )
    payment_accounts.forget_offered()
    for name, target, channel in (("Team", SLACK_URL, ""), ("Bot", SLACK_TOKEN, "C0123ABC")):
        notifications.add_channel(
            owner,
            notifications.ChannelData(
                provider="slack",
                name=name,
                target=target,
                events=("invoice.paid",),
                slack_channel=channel,
            ),
        )
    mail_settings.save_mail_settings(
        owner,
        mail_settings.MailSettings(
            smtp_host="127.0.0.1", smtp_username="mailer", smtp_password=SMTP_PASSWORD
        ),
    )
    key, raw_key = api_keys.create_key(
        owner,
        api_keys.KeyData(name="Books", scopes=("invoices:read",), require_signature=True),
    )
    endpoint = webhooks.create_endpoint(owner, webhooks.EndpointData(url="http://127.0.0.1:9/in"))
    first_secret = endpoint.secret
    webhooks.rotate_secret(owner, endpoint.public_id, overlap_hours=24)
    _, client_secret = oauth.register_app(
        owner,
        oauth.AppData(
            name="Ledger sync",
            redirect_uris=(),
            confidential=True,
            grant_types=("client_credentials",),
            scopes=("invoices:read",),
        ),
    )
    member = team.users[Role.STAFF]
    totp = two_factor.secret_of(two_factor.begin_enrolment(member))
    recovery = two_factor.confirm_enrolment(member, pyotp.TOTP(totp).now())
    return {
        "signing": key.signing_secret,
        "api_key": raw_key,
        "webhook": endpoint.secret,
        "webhook_previous": first_secret,
        "oauth": client_secret,
        "totp": totp,
        "recovery": recovery[0],
        "password": PASSWORD,
        "stripe": STRIPE_KEY,
        "stripe_signing": STRIPE_SIGNING,
        "slack_url": SLACK_URL,
        "slack_token": SLACK_TOKEN,
        "smtp": SMTP_PASSWORD,
    }


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _every_cell() -> dict[tuple[str, str], list[str]]:
    """Every non-empty value of every column of every table, read raw, as text."""
    cells: dict[tuple[str, str], list[str]] = {}
    inspector = inspect(db.engine)
    for table in inspector.get_table_names():
        columns = [c["name"] for c in inspector.get_columns(table)]
        quoted = ", ".join(f'"{c}"' for c in columns)
        for row in db.session.execute(text(f'SELECT {quoted} FROM "{table}"')):
            for column, value in zip(columns, row, strict=True):
                if value is not None and value != "":
                    cells.setdefault((table, column), []).append(_as_text(value))
    return cells


def _raw_values() -> list[str]:
    values = []
    for table, column in ENCRYPTED_COLUMNS:
        rows = db.session.execute(text(f"SELECT {column} FROM {table}")).scalars()
        values += [str(v) for v in rows if v]
    return values


def test_no_column_of_any_table_holds_a_plaintext_secret(stored: dict[str, Any]) -> None:
    cells = _every_cell()
    assert len(cells) > 100  # the scan reads the whole schema, not a list of known columns
    found = {
        (name, table, column)
        for (table, column), values in cells.items()
        for name, secret in stored.items()
        for value in values
        if secret in value
    }
    assert found == set()


def test_every_encrypted_value_sits_in_a_column_keys_rotate_walks(
    stored: dict[str, Any],
) -> None:
    holding_tokens = {
        place
        for place, values in _every_cell().items()
        if any(value.startswith("gAAAAA") for value in values)
    }
    assert holding_tokens == set(ENCRYPTED_COLUMNS)
    raw = _raw_values()
    assert len(raw) == ENCRYPTED
    assert all(value.startswith("gAAAAA") for value in raw)  # Fernet tokens


def test_the_app_reads_them_back(stored: dict[str, Any], team: Team) -> None:
    db.session.expire_all()
    account = db.session.query(PaymentAccount).one()
    assert STRIPE_KEY in account.credentials
    assert db.session.get_one(Business, team.business.id).smtp_password == SMTP_PASSWORD
    key = db.session.query(ApiKey).one()
    assert key.signing_secret == stored["signing"]
    credential = db.session.query(TotpCredential).one()
    assert two_factor.secret_of(credential) == stored["totp"]


def test_rotation_moves_every_secret_to_the_new_key(
    app: Flask, stored: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.secrets_at_rest import configured_keys

    current = list(configured_keys())
    new = Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "SECRET_KEYS", [new, *current])
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert f"Re-encrypted {ENCRYPTED} secret(s)" in result.output
    # Only the new key is needed now.
    monkeypatch.setitem(app.config, "SECRET_KEYS", [new])
    db.session.expire_all()
    account = db.session.query(PaymentAccount).one()
    assert STRIPE_KEY in account.credentials
    credential = db.session.query(TotpCredential).one()
    assert two_factor.secret_of(credential) == stored["totp"]
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
