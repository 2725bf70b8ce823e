"""Settings → notifications: the team's Slack, Teams and Discord channels, and a test button."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

# Imported for its side effect: registering the outbox handler in every process that runs the
# app (web for inline jobs, workers through create_app).
import portal.jobs.notifications  # noqa: F401
from portal.models import Role
from portal.services import notifications as service
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors
from portal.web.htmx import render

bp = Blueprint("notifications", __name__)


class ChannelForm(FlaskForm):
    provider = SelectField("Provider", choices=dict(service.PROVIDER_NAMES))
    name = StringField("Name", validators=[InputRequired(), Length(max=80)])
    target = StringField(
        "Webhook URL or Slack bot token",
        validators=[Length(max=2000)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    slack_channel = StringField(
        "Slack channel id",
        validators=[Length(max=40)],
        description="Only with a Slack bot token: the channel to post in, like C0123ABCD.",
    )
    events = SelectMultipleField(
        "Events",
        choices=dict(service.EVENTS),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    active = BooleanField("Active", default=True)

    def data_for_service(self) -> service.ChannelData:
        return service.ChannelData(
            provider=self.provider.data or "",
            name=self.name.data or "",
            target=self.target.data or "",
            events=tuple(self.events.data or ()),
            slack_channel=self.slack_channel.data or "",
            active=bool(self.active.data),
        )


def _index(form: ChannelForm, status: int = 200) -> ResponseReturnValue:
    actor = current_actor()
    return render_template(
        "notifications/index.html",
        form=form,
        channels=service.channels(actor),
        masked=service.masked_target,
        events=service.EVENTS,
        providers=service.PROVIDER_NAMES,
    ), status


@bp.get("/app/settings/notifications")
@require_role(Role.ADMIN)
def index() -> ResponseReturnValue:
    return _index(ChannelForm())


@bp.post("/app/settings/notifications")
@require_role(Role.ADMIN)
def add() -> ResponseReturnValue:
    form = ChannelForm()
    if form.validate_on_submit():
        try:
            channel = service.add_channel(current_actor(), form.data_for_service())
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"Channel {channel.name} added.", "success")
            return redirect(url_for("notifications.index"), 303)
    return _index(form, 422)


@bp.route("/app/settings/notifications/<public_id>/edit", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def edit(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    channel = service.get_channel(actor, public_id)
    form = ChannelForm(obj=channel, slack_channel=(channel.settings or {}).get("channel", ""))
    form.target.data = form.target.data if form.is_submitted() else ""
    form.provider.render_kw = {"disabled": True}
    form.provider.data = channel.provider
    if form.validate_on_submit():
        try:
            service.update_channel(actor, public_id, form.data_for_service())
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"Channel {channel.name} saved.", "success")
            return redirect(url_for("notifications.index"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "notifications/edit.html", form=form, channel=channel, masked=service.masked_target
    ), status


@bp.post("/app/settings/notifications/<public_id>/remove")
@require_role(Role.ADMIN)
def remove(public_id: str) -> ResponseReturnValue:
    service.remove_channel(current_actor(), public_id)
    flash("Channel removed.", "success")
    return redirect(url_for("notifications.index"), 303)


@bp.post("/app/settings/notifications/<public_id>/test")
@require_role(Role.ADMIN)
def send_test(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    outcome = service.send_test(actor, public_id)
    channel = service.get_channel(actor, public_id)
    return render(
        "notifications/_test_result.html",
        "result",
        channel=channel,
        outcome=outcome,
        back=url_for("notifications.index"),
    )
