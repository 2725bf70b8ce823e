"""The notifications settings page: admins manage channels and send a test; staff cannot."""

from __future__ import annotations

import pytest

from portal.extensions import db as _db
from portal.models import NotificationChannel, Role
from tests.notify.conftest import make_channel
from tests.notify.fakes import SlackWebhook, TeamsWebhook

URL = "/app/settings/notifications"


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.STAFF, Role.VIEWER])
def test_below_admin_cannot_open_or_change_channels(login, team, role):
    channel = make_channel(team.business)
    client = login(role)
    assert client.get(URL).status_code == 403
    assert client.post(URL, data={"provider": "slack", "name": "x"}).status_code == 403
    for action in ("edit", "remove", "test"):
        assert client.post(f"{URL}/{channel.public_id}/{action}").status_code == 403
    assert _db.session.get(NotificationChannel, channel.id).name == "#billing"


def test_admin_adds_edits_tests_and_removes_a_channel(
    login, team, any_host, slack_webhook: SlackWebhook
):
    client = login(Role.ADMIN)
    assert client.get(URL).status_code == 200
    response = client.post(
        URL,
        data={
            "provider": "slack",
            "name": "#billing",
            "target": slack_webhook.url,
            "events": ["invoice.paid", "payment.failed"],
            "active": "y",
        },
    )
    assert response.status_code == 303
    channel = _db.session.query(NotificationChannel).one()
    assert channel.events == ["invoice.paid", "payment.failed"]
    page = client.get(URL).get_data(as_text=True)
    assert slack_webhook.url not in page  # the webhook URL is a secret: shown masked

    response = client.post(f"{URL}/{channel.public_id}/test", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Sent" in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)
    assert slack_webhook.received[0]["blocks"][0]["text"]["text"] == "Test from Invoice Lite"

    # Editing without a new URL keeps the stored one.
    response = client.post(
        f"{URL}/{channel.public_id}/edit",
        data={"name": "#money", "target": "", "events": ["quote.accepted"]},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    _db.session.expire_all()
    channel = _db.session.get(NotificationChannel, channel.id)
    assert (channel.name, channel.target, channel.events, channel.active) == (
        "#money",
        slack_webhook.url,
        ["quote.accepted"],
        False,
    )
    assert client.post(f"{URL}/{channel.public_id}/remove").status_code == 303
    assert _db.session.query(NotificationChannel).count() == 0


def test_a_failed_test_shows_the_reason(login, team, any_host, teams: TeamsWebhook):
    channel = make_channel(team.business, provider="teams", target=teams.url)
    teams.answers.append("bad_request")
    response = login(Role.OWNER).post(
        f"{URL}/{channel.public_id}/test", headers={"HX-Request": "true"}
    )
    assert "Not sent: Teams answered 400" in response.get_data(as_text=True)
    _db.session.expire_all()
    assert "400" in _db.session.get(NotificationChannel, channel.id).last_error


def test_a_bad_form_is_shown_again_with_messages(login, team):
    response = login(Role.ADMIN).post(
        URL, data={"provider": "discord", "name": "ops", "target": "http://10.0.0.1/x"}
    )
    assert response.status_code == 422
    assert "A Discord webhook URL starts with https://discord.com" in response.get_data(
        as_text=True
    )
    assert _db.session.query(NotificationChannel).count() == 0


def test_a_foreign_channel_is_404(login, team):
    from tests.conftest import make_team

    other = make_channel(make_team("Other Co").business)
    assert login(Role.OWNER).post(f"{URL}/{other.public_id}/test").status_code == 404
