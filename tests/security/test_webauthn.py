"""Security keys: registering, logging in, refused answers (challenge, origin, relying party,
counter, removed or foreign keys), naming and removing; and the second step of the log-in.

``SoftKey`` builds what a real authenticator sends, so the library checks real structures: a P-256
key pair, authenticator data with the relying party's hash, flags and counter, "none"
attestation in CBOR, and client data with the challenge and origin.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from webauthn.helpers import bytes_to_base64url, encode_cbor

from portal.extensions import db
from portal.models import AuditEvent, Business, Role, User, UserSession, WebAuthnCredential
from portal.services import two_factor, webauthn_keys
from portal.services.errors import InvalidInput
from tests.conftest import PASSWORD, Team
from tests.security.conftest import Clock, enrol
from tests.web.helpers import heading, text_of

ORIGIN = "http://127.0.0.1"  # PUBLIC_URL in the test app
RP_ID = "127.0.0.1"
UP, UV, AT = 0x01, 0x04, 0x40


@dataclass
class SoftKey:
    """A software authenticator: one credential, a counter that goes up at each use."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    count: int = 0
    counts: bool = True

    def copy(self) -> SoftKey:
        return SoftKey(self.private, self.credential_id, self.count, self.counts)

    def _cose_public_key(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        return encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _auth_data(self, rp_id: str, flags: int, attested: bytes = b"") -> bytes:
        if self.counts:
            self.count += 1
        rp_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.count) + attested

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        return json.dumps(data).encode()

    def create(
        self, options: str, *, origin: str = ORIGIN, rp_id: str | None = None
    ) -> dict[str, Any]:
        """What ``navigator.credentials.create()`` answers, as the browser script posts it."""
        parsed = json.loads(options)
        attested = (
            bytes(16)  # the AAGUID of an authenticator without attestation
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_public_key()
        )
        auth_data = self._auth_data(rp_id or parsed["rp"]["id"], UP | UV | AT, attested)
        client_data = self._client_data("webauthn.create", parsed["challenge"], origin)
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["usb", "nfc"],
            },
        }

    def get(
        self,
        options: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        challenge: str | None = None,
    ) -> dict[str, Any]:
        """What ``navigator.credentials.get()`` answers: a signature over the challenge."""
        parsed = json.loads(options)
        auth_data = self._auth_data(rp_id or parsed["rpId"], UP | UV)
        client_data = self._client_data("webauthn.get", challenge or parsed["challenge"], origin)
        signature = self.private.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
            },
        }


@pytest.fixture
def request_context(app: Flask, db: Any) -> Iterator[None]:
    """One browser's session for the service calls (challenges wait in it)."""
    with app.test_request_context("/"):
        yield


@pytest.fixture
def member(team: Team, request_context: None) -> User:
    return team.users[Role.STAFF]


def register(user: User, key: SoftKey, name: str = "Blue key") -> WebAuthnCredential:
    return webauthn_keys.register_key(
        user, key.create(webauthn_keys.registration_options(user)), name
    )


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def refused(message: str) -> Any:
    return pytest.raises(webauthn_keys.KeyRefused, match=re.escape(message))


# --- registering ----------------------------------------------------------------------------------


def test_register_a_key_and_log_in_with_it(member: User) -> None:
    key = SoftKey()
    options = json.loads(webauthn_keys.registration_options(member))
    assert options["rp"] == {"name": "Invoice Lite", "id": RP_ID}
    assert options["user"]["name"] == member.email
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []

    stored = webauthn_keys.register_key(member, key.create(json.dumps(options)), "  Blue   key  ")
    assert stored.name == "Blue key"
    assert stored.credential_id == bytes_to_base64url(key.credential_id)
    assert stored.sign_count == 1
    assert stored.transports == "usb,nfc"
    assert webauthn_keys.has_keys(member) and webauthn_keys.has_second_factor(member)
    assert not two_factor.is_enrolled(member)
    assert actions()[-1] == "user.security_key_added"

    # The next registration excludes it; the log-in names it.
    again = json.loads(webauthn_keys.registration_options(member))
    assert [c["id"] for c in again["excludeCredentials"]] == [stored.credential_id]
    login = webauthn_keys.authentication_options(member)
    assert [c["id"] for c in json.loads(login)["allowCredentials"]] == [stored.credential_id]
    assert json.loads(login)["rpId"] == RP_ID

    used = webauthn_keys.verify_key(member, key.get(login))
    db.session.commit()
    assert used.id == stored.id
    assert used.sign_count == 2 and used.last_used_at is not None


def test_the_key_name_defaults_and_is_bounded(member: User) -> None:
    stored = register(member, SoftKey(), name="   ")
    assert stored.name == "Security key"
    with pytest.raises(InvalidInput, match=re.escape("Keep the name to 80 characters")):
        register(member, SoftKey(), name="x" * 81)


def test_registration_from_another_origin_is_refused(member: User) -> None:
    key = SoftKey()
    answer = key.create(webauthn_keys.registration_options(member), origin="https://evil.example")
    with refused(webauthn_keys.NOT_REGISTERED):
        webauthn_keys.register_key(member, answer, "Key")
    assert not webauthn_keys.has_keys(member)


def test_registration_for_another_relying_party_is_refused(member: User) -> None:
    answer = SoftKey().create(webauthn_keys.registration_options(member), rp_id="evil.example")
    with refused(webauthn_keys.NOT_REGISTERED):
        webauthn_keys.register_key(member, answer, "Key")
    assert not webauthn_keys.has_keys(member)


def test_a_registration_challenge_is_used_once(member: User) -> None:
    key = SoftKey()
    options = webauthn_keys.registration_options(member)
    webauthn_keys.register_key(member, key.create(options), "Key")
    # The same answer again: its challenge is spent.
    with refused(webauthn_keys.START_AGAIN):
        webauthn_keys.register_key(member, SoftKey().create(options), "Key")
    assert len(webauthn_keys.keys_of(member)) == 1


def test_a_key_registered_once_cannot_be_added_twice(member: User, team: Team) -> None:
    key = SoftKey()
    register(member, key)
    with refused(webauthn_keys.ALREADY_REGISTERED):
        register(team.users[Role.VIEWER], key.copy())


def test_garbage_is_not_a_key(member: User) -> None:
    webauthn_keys.registration_options(member)
    with refused(webauthn_keys.NOT_REGISTERED):
        webauthn_keys.register_key(member, '{"id": "x"}', "Key")


# --- logging in -----------------------------------------------------------------------------------


def test_a_signature_over_another_challenge_is_refused(member: User) -> None:
    key = SoftKey()
    register(member, key)
    options = webauthn_keys.authentication_options(member)
    forged = key.get(options, challenge=bytes_to_base64url(secrets.token_bytes(64)))
    with refused(webauthn_keys.WRONG_KEY):
        webauthn_keys.verify_key(member, forged)


def test_an_answer_from_another_origin_is_refused(member: User) -> None:
    key = SoftKey()
    register(member, key)
    answer = key.get(webauthn_keys.authentication_options(member), origin="https://evil.example")
    with refused(webauthn_keys.WRONG_KEY):
        webauthn_keys.verify_key(member, answer)


def test_an_answer_for_another_relying_party_is_refused(member: User) -> None:
    key = SoftKey()
    register(member, key)
    answer = key.get(webauthn_keys.authentication_options(member), rp_id="evil.example")
    with refused(webauthn_keys.WRONG_KEY):
        webauthn_keys.verify_key(member, answer)


def test_a_signature_by_another_private_key_is_refused(member: User) -> None:
    key = SoftKey()
    register(member, key)
    impostor = SoftKey(credential_id=key.credential_id, count=key.count)
    with refused(webauthn_keys.WRONG_KEY):
        webauthn_keys.verify_key(member, impostor.get(webauthn_keys.authentication_options(member)))


def test_a_replayed_answer_is_refused(member: User) -> None:
    key = SoftKey()
    register(member, key)
    answer = key.get(webauthn_keys.authentication_options(member))
    webauthn_keys.verify_key(member, answer)
    db.session.commit()
    # Its challenge is spent...
    with refused(webauthn_keys.START_AGAIN):
        webauthn_keys.verify_key(member, answer)
    # ...and it does not answer a new one.
    webauthn_keys.authentication_options(member)
    with refused(webauthn_keys.WRONG_KEY):
        webauthn_keys.verify_key(member, answer)


def test_a_copied_key_whose_counter_went_backwards_is_refused(member: User) -> None:
    key = SoftKey()
    register(member, key)
    clone = key.copy()  # copied at count 1
    webauthn_keys.verify_key(member, key.get(webauthn_keys.authentication_options(member)))
    webauthn_keys.verify_key(member, key.get(webauthn_keys.authentication_options(member)))
    db.session.commit()
    stored = webauthn_keys.keys_of(member)[0]
    assert stored.sign_count == 3

    # The copy signs correctly, but its counter (2) is behind what the key already said (3).
    with refused(webauthn_keys.CLONED):
        webauthn_keys.verify_key(member, clone.get(webauthn_keys.authentication_options(member)))
    assert actions()[-1] == "user.security_key_clone_suspected"
    db.session.refresh(stored)
    assert stored.sign_count == 3
    # An equal counter is no better than a lower one.
    clone.count = 2
    with refused(webauthn_keys.CLONED):
        webauthn_keys.verify_key(member, clone.get(webauthn_keys.authentication_options(member)))
    # The real key, counting on, still logs in.
    webauthn_keys.verify_key(member, key.get(webauthn_keys.authentication_options(member)))


def test_a_key_without_a_counter_logs_in_every_time(member: User) -> None:
    key = SoftKey(counts=False)
    register(member, key)
    for _ in range(2):
        webauthn_keys.verify_key(member, key.get(webauthn_keys.authentication_options(member)))
        db.session.commit()
    assert webauthn_keys.keys_of(member)[0].sign_count == 0


def test_a_removed_key_no_longer_logs_in(member: User) -> None:
    key = SoftKey()
    stored = register(member, key)
    options = webauthn_keys.authentication_options(member)
    assert webauthn_keys.remove_key(member, stored.public_id)
    assert actions()[-1] == "user.security_key_removed"
    with refused(webauthn_keys.UNKNOWN_KEY):
        webauthn_keys.verify_key(member, key.get(options))
    assert not webauthn_keys.has_second_factor(member)


def test_another_members_key_does_not_log_in(member: User, team: Team) -> None:
    other = team.users[Role.VIEWER]
    key = SoftKey()
    register(other, key)
    register(member, SoftKey())
    with refused(webauthn_keys.UNKNOWN_KEY):
        webauthn_keys.verify_key(member, key.get(webauthn_keys.authentication_options(member)))


def test_challenges_expire_and_belong_to_their_member(
    member: User, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(webauthn_keys, "utcnow", clock)
    key = SoftKey()
    register(member, key)
    options = webauthn_keys.authentication_options(member)
    clock.advance(seconds=webauthn_keys.CHALLENGE_SECONDS + 1)
    with refused(webauthn_keys.START_AGAIN):
        webauthn_keys.verify_key(member, key.get(options))

    # A challenge made for one member does not serve another.
    other = team.users[Role.VIEWER]
    register(other, SoftKey())
    options = webauthn_keys.authentication_options(other)
    with refused(webauthn_keys.START_AGAIN):
        webauthn_keys.verify_key(member, key.get(options))


# --- naming and removing --------------------------------------------------------------------------


def test_rename_and_remove_only_ones_own_keys(member: User, team: Team) -> None:
    stored = register(member, SoftKey())
    other = team.users[Role.VIEWER]
    assert webauthn_keys.rename_key(other, stored.public_id, "Mine now") is None
    assert not webauthn_keys.remove_key(other, stored.public_id)

    renamed = webauthn_keys.rename_key(member, stored.public_id, "Office key")
    assert renamed is not None and renamed.name == "Office key"
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert event is not None and event.action == "user.security_key_renamed"
    assert event.before == {"name": "Blue key"}


def test_the_last_second_factor_stays_while_a_business_requires_one(
    member: User, team: Team
) -> None:
    first = register(member, SoftKey())
    second = register(member, SoftKey())
    team.business.require_2fa = True
    db.session.commit()
    assert webauthn_keys.remove_key(member, first.public_id)
    with pytest.raises(InvalidInput, match=re.escape(f"{team.business.legal_name} requires")):
        webauthn_keys.remove_key(member, second.public_id)
    # With an authenticator app beside it, the last key may go.
    enrol(member)
    assert webauthn_keys.remove_key(member, second.public_id)


def test_an_owner_with_only_a_key_may_require_two_factor_login(
    team: Team, request_context: None
) -> None:
    owner = team.users[Role.OWNER]
    with pytest.raises(InvalidInput):
        two_factor.set_business_requirement(team.actor(Role.OWNER), True)
    register(owner, SoftKey())
    two_factor.set_business_requirement(team.actor(Role.OWNER), True)
    assert db.session.get_one(Business, team.business.id).require_2fa


# --- the second step of logging in, through the pages ---------------------------------------------


def _key_member(app: Flask, user: User) -> SoftKey:
    key = SoftKey()
    with app.test_request_context("/"):
        register(user, key)
    return key


def _password(client: FlaskClient, user: User) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login/two-factor"


def test_a_member_with_only_a_key_logs_in_with_it(
    app: Flask, client: FlaskClient, team: Team
) -> None:
    user = team.users[Role.STAFF]
    key = _key_member(app, user)
    _password(client, user)
    page = text_of(client.get("/login/two-factor"))
    assert heading(page) == "Two-factor login"
    assert 'data-webauthn="authenticate"' in page and "js/webauthn.js" in page
    assert 'name="code"' not in page  # no app: no code field

    options = client.post("/login/two-factor/key/options")
    assert options.status_code == 200 and options.mimetype == "application/json"
    answer = key.get(options.get_data(as_text=True))
    done = client.post(
        "/login/two-factor/key", data={"key-credential": json.dumps(answer), "key-remember": "y"}
    )
    assert done.status_code == 303, text_of(done)
    assert done.headers["Location"] == "/app/"
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row is not None and row.method == "security_key"
    assert "il_device" in done.headers.get("Set-Cookie", "")
    assert client.get("/app/").status_code == 200


def test_a_wrong_key_answer_is_refused_and_counted(
    app: Flask, client: FlaskClient, team: Team
) -> None:
    user = team.users[Role.STAFF]
    key = _key_member(app, user)
    _password(client, user)
    options = client.post("/login/two-factor/key/options").get_data(as_text=True)
    answer = key.get(options, origin="https://evil.example")
    refused_page = client.post("/login/two-factor/key", data={"key-credential": json.dumps(answer)})
    assert refused_page.status_code == 422
    assert webauthn_keys.WRONG_KEY in text_of(refused_page)
    assert client.get("/app/").status_code == 302  # not logged in
    # A member with an app and a key is offered both.
    with app.test_request_context("/"):
        enrol(user)
    assert 'name="code"' in text_of(client.get("/login/two-factor"))


def test_key_options_need_the_password_first(client: FlaskClient, db: Any) -> None:
    response = client.post("/login/two-factor/key/options")
    assert response.status_code == 400
    assert response.get_json() == {"error": "Log in with your email and password first."}


def test_a_key_satisfies_the_business_requirement(
    app: Flask, client: FlaskClient, team: Team
) -> None:
    user = team.users[Role.STAFF]
    team.business.require_2fa = True
    db.session.commit()
    # Without a second factor the member is held on the set-up page, which offers a key too.
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    held = client.get("/app/clients/")
    assert held.status_code == 302
    assert held.headers["Location"] == "/app/account/security/two-factor"
    setup = text_of(client.get("/app/account/security/two-factor"))
    assert 'data-webauthn="register"' in setup

    key = SoftKey()
    options = client.post("/app/account/security/keys/options")
    assert options.status_code == 200
    added = client.post(
        "/app/account/security/keys",
        data={
            "key-name": "Desk key",
            "key-credential": json.dumps(key.create(options.get_data(as_text=True))),
        },
    )
    assert added.status_code == 303, text_of(added)
    assert client.get("/app/clients/").status_code == 200
    overview = text_of(client.get("/app/account/security/"))
    assert "Desk key" in overview


def test_a_refused_registration_shows_why(client: FlaskClient, login: Any) -> None:
    client = login(Role.STAFF)
    options = client.post("/app/account/security/keys/options").get_data(as_text=True)
    answer = SoftKey().create(options, origin="https://evil.example")
    page = client.post(
        "/app/account/security/keys", data={"key-name": "K", "key-credential": json.dumps(answer)}
    )
    assert page.status_code == 422
    assert webauthn_keys.NOT_REGISTERED in text_of(page)
