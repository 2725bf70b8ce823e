"""Two-factor login: enrolment, the second step with an app code or a recovery code, new
recovery codes, turning it off."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import select, text

from portal.extensions import db
from portal.models import AuditEvent, RecoveryCode, Role, TotpCredential
from portal.secrets_at_rest import decrypt
from portal.services import two_factor
from portal.services.tokens import token_hash
from tests.conftest import PASSWORD, Team
from tests.security.conftest import Enrolled, codes_on, enrol, secret_on, two_step_log_in
from tests.web.helpers import count, errors_beside, heading, log_in, text_of, toasts

SETUP = "/app/account/security/two-factor"


def test_enrol_with_the_qr_code_page(login: Any, team: Team) -> None:
    client = login(Role.STAFF)
    page = client.get(SETUP)
    html = text_of(page)
    assert page.status_code == 200
    assert heading(html) == "Set up two-factor login"
    secret = secret_on(html)

    # The QR code is an SVG image in a data: URI, which the page's policy allows.
    found = re.search(r'<img class="qr" src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert found
    svg = base64.b64decode(found.group(1)).decode()
    assert svg.startswith("<svg") and "<script" not in svg and "style=" not in svg
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]
    assert "style=" not in html and "<script>" not in html

    # The secret is the one the page showed, and it is stored encrypted (a Fernet token of the
    # secrets key ring), not as text.
    credential = db.session.scalar(select(TotpCredential))
    assert credential is not None and credential.confirmed_at is None
    raw = db.session.execute(text("SELECT secret FROM totp_credentials")).scalar_one()
    assert secret not in raw and raw.startswith("gAAAAA")
    assert decrypt(raw) == two_factor.secret_of(credential) == secret
    # Reloading keeps the same secret until it is confirmed.
    assert secret_on(text_of(client.get(SETUP))) == secret

    wrong = client.post(SETUP, data={"code": "000000"})
    assert wrong.status_code == 422
    assert errors_beside(text_of(wrong), "code") == [two_factor.NOT_CONFIRMED]
    assert not two_factor.is_enrolled(team.users[Role.STAFF])

    done = client.post(SETUP, data={"code": pyotp.TOTP(secret).now()})
    html = text_of(done)
    assert done.status_code == 200
    assert heading(html) == "Your recovery codes"
    codes = codes_on(html)
    assert len(codes) == 10 == len(set(codes))
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    # Stored as hashes only.
    stored = set(db.session.scalars(select(RecoveryCode.code_hash)))
    assert stored == {token_hash(c.replace("-", "")) for c in codes}
    assert two_factor.is_enrolled(team.users[Role.STAFF])
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == (
        "user.two_factor_enabled"
    )

    html = text_of(client.get("/app/account/security/"))
    assert "Since" in html and "10 of 10 recovery codes left." in html
    # Set up once: the set-up page now sends back to the overview.
    again = client.get(SETUP)
    assert again.status_code == 302
    assert again.headers["Location"] == "/app/account/security/"


def test_log_in_with_a_code_from_the_app(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    response = log_in(client, who.user.email, PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login/two-factor"
    # The password alone logs nobody in.
    assert client.get("/app/").status_code == 302
    page = client.get("/login/two-factor")
    assert heading(text_of(page)) == "Two-factor login"

    response = client.post("/login/two-factor", data={"code": who.code()})
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/"
    assert client.get("/app/").status_code == 200


def test_a_wrong_code_is_refused(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    wrong = "000000" if who.code() != "000000" else "111111"
    response = two_step_log_in(client, who, wrong)
    assert response.status_code == 422
    assert errors_beside(text_of(response), "code") == [two_factor.WRONG_CODE]
    assert client.get("/app/").status_code == 302
    for attempt in ("not a code", "abcd-efgh-ijkl-mnop"):
        response = client.post("/login/two-factor", data={"code": attempt})
        assert response.status_code == 422
        assert errors_beside(text_of(response), "code") == [two_factor.WRONG_CODE]
    # A right code after wrong ones still works.
    assert client.post("/login/two-factor", data={"code": who.code()}).status_code == 303


def test_a_code_logs_in_once(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    code = who.code(steps_ahead=1)
    assert two_step_log_in(client, who, code).status_code == 303
    client.post("/logout")
    replay = two_step_log_in(client, who, code)
    assert replay.status_code == 422
    assert errors_beside(text_of(replay), "code") == [two_factor.WRONG_CODE]


def test_log_in_with_a_recovery_code_once(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    code = who.codes[3]
    # Spaces and capitals, as people type them, are fine.
    response = two_step_log_in(client, who, f"  {code.upper().replace('-', ' ')} ")
    assert response.status_code == 303
    html = text_of(client.get("/app/"))
    assert toasts(html) == [
        "You logged in with a recovery code; it is now used up. 9 of 10 are left."
    ]
    client.post("/logout")

    again = two_step_log_in(client, who, code)
    assert again.status_code == 422
    assert errors_beside(text_of(again), "code") == [two_factor.WRONG_CODE]
    assert two_factor.recovery_codes_left(who.user) == 9


def test_running_low_on_recovery_codes_says_what_to_do(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    for code in who.codes[:7]:
        assert two_step_log_in(client, who, code).status_code == 303
        client.post("/logout")
    assert two_step_log_in(client, who, who.codes[7]).status_code == 303
    assert toasts(text_of(client.get("/app/"))) == [
        "You logged in with a recovery code; it is now used up. 2 of 10 are left: "
        "make new ones in your account security."
    ]


def test_the_second_step_needs_the_first(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    response = client.post("/login/two-factor", data={"code": who.code()})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert toasts(text_of(client.get("/login"))) == ["Log in with your email and password first."]
    assert client.get("/app/").status_code == 302


def test_the_second_step_waits_five_minutes(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    log_in(client, who.user.email, PASSWORD)
    with client.session_transaction() as session:
        pending = session["pending_2fa"]
        session["pending_2fa"] = {**pending, "at": pending["at"] - 301}
    response = client.post("/login/two-factor", data={"code": who.code()})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/app/").status_code == 302


def test_the_page_asked_for_survives_the_second_step(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    login_url = client.get("/app/clients/?q=blue").headers["Location"]
    assert parse_qs(urlsplit(login_url).query) == {"next": ["/app/clients/?q=blue"]}
    response = client.post(login_url, data={"email": who.user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/login/two-factor"
    response = client.post("/login/two-factor", data={"code": who.code()})
    assert response.headers["Location"] == "/app/clients/?q=blue"


def test_members_without_two_factor_log_in_with_the_password(login: Any) -> None:
    client = login(Role.STAFF)
    assert client.get("/app/").status_code == 200


def test_new_recovery_codes_replace_the_old(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    assert two_step_log_in(client, who, who.code()).status_code == 303
    url = "/app/account/security/two-factor/recovery-codes"

    refused = client.post(url, data={"proof": "not my password"})
    assert refused.status_code == 422
    assert errors_beside(text_of(refused), "proof") == [two_factor.WRONG_PROOF]

    response = client.post(url, data={"proof": PASSWORD})
    assert response.status_code == 200
    fresh = codes_on(text_of(response))
    assert len(fresh) == 10 and not set(fresh) & set(who.codes)
    client.post("/logout")
    assert two_step_log_in(client, who, who.codes[0]).status_code == 422
    assert client.post("/login/two-factor", data={"code": fresh[0]}).status_code == 303


def test_turn_two_factor_off(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    assert two_step_log_in(client, who, who.code()).status_code == 303
    url = "/app/account/security/two-factor/disable"

    refused = client.post(url, data={"off-proof": "123456"})
    assert refused.status_code == 422
    assert errors_beside(text_of(refused), "off-proof") == [two_factor.WRONG_PROOF]
    assert two_factor.is_enrolled(who.user)

    # A current code from the app proves it is the member, as the password does.
    response = client.post(url, data={"off-proof": who.code()})
    assert response.status_code == 303
    assert toasts(text_of(client.get("/app/account/security/"))) == [
        "Two-factor login is off. Your recovery codes no longer work."
    ]
    assert count(TotpCredential) == 0 and count(RecoveryCode) == 0
    client.post("/logout")
    response = log_in(client, who.user.email, PASSWORD)
    assert response.headers["Location"] == "/app/"


@pytest.mark.parametrize("field", ["proof", "off-proof"])
def test_the_proof_fields_are_required(field: str, client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    two_step_log_in(client, who, who.code())
    url = {
        "proof": "/app/account/security/two-factor/recovery-codes",
        "off-proof": "/app/account/security/two-factor/disable",
    }[field]
    response = client.post(url, data={})
    assert response.status_code == 422
    assert errors_beside(text_of(response), field) == ["This field is required."]


def test_confirming_needs_a_started_set_up(team: Team, db: Any) -> None:
    user = team.users[Role.STAFF]
    with pytest.raises(two_factor.InvalidInput, match="no authenticator is waiting"):
        two_factor.confirm_enrolment(user, "123456")
    enrolled: Enrolled = enrol(user)
    with pytest.raises(two_factor.InvalidInput, match="already on"):
        two_factor.begin_enrolment(enrolled.user)


def test_a_secret_the_key_ring_cannot_open_leaves_the_recovery_codes(
    app: Any, client: FlaskClient, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator dropped the key that encrypted the app's secret: app codes prove nothing, a
    recovery code still logs in, and the password turns two-factor login off to set it up again."""
    who = enrol(team.users[Role.STAFF])
    monkeypatch.setitem(app.config, "SECRET_KEYS", [Fernet.generate_key().decode()])
    db.session.expire_all()
    refused = two_step_log_in(client, who, who.code())
    assert refused.status_code == 422
    assert errors_beside(text_of(refused), "code") == [two_factor.WRONG_CODE]
    credential = db.session.scalar(select(TotpCredential))
    assert credential is not None
    with pytest.raises(two_factor.InvalidInput, match=re.escape("must be set up again")):
        two_factor.secret_of(credential)
    assert client.post("/login/two-factor", data={"code": who.codes[0]}).status_code == 303
    off = client.post("/app/account/security/two-factor/disable", data={"off-proof": PASSWORD})
    assert off.status_code == 303
    assert count(TotpCredential) == 0
