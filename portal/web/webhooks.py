"""Settings → webhooks: endpoints, their secret, a test event, and the delivery log."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.models import Role, WebhookEndpoint
from portal.services import webhooks as service
from portal.services.errors import InvalidInput, NotFound
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors
from portal.web.htmx import is_htmx, render

bp = Blueprint("webhooks", __name__)


@bp.after_app_request
def dispatch_webhooks(response: Response) -> Response:
    """What this request published goes to the workers (or, without Redis, out now)."""
    service.dispatch_committed()
    return response


class EndpointForm(FlaskForm):
    url = StringField(
        "URL",
        validators=[InputRequired(), Length(max=2000)],
        description="Where we POST each event; https:// on a public address.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"},
    )
    description = StringField("Description", validators=[Length(max=200)])
    events = SelectMultipleField(
        "Events",
        choices={k: f"{k} — {v}" for k, v in service.EVENT_TYPES.items()},
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description="None ticked: every event, including those added later.",
    )

    def data_for_service(self) -> service.EndpointData:
        return service.EndpointData(
            url=self.url.data or "",
            description=self.description.data or "",
            events=tuple(self.events.data or ()),
        )


class RotateForm(FlaskForm):
    overlap_hours = IntegerField(
        "Hours the old secret keeps signing",
        default=24,
        validators=[Optional(), NumberRange(min=0, max=service.MAX_OVERLAP_HOURS)],
    )


def _index(form: EndpointForm, status: int = 200) -> ResponseReturnValue:
    actor = current_actor()
    endpoints = service.list_endpoints(actor)
    return render_template(
        "webhooks/index.html",
        form=form,
        endpoints=endpoints,
        counts=service.counts(actor),
        disabled=[e for e in endpoints if not e.enabled],
    ), status


@bp.get("/app/settings/webhooks")
@require_role(Role.ADMIN)
def index() -> ResponseReturnValue:
    return _index(EndpointForm())


@bp.post("/app/settings/webhooks")
@require_role(Role.ADMIN)
def add() -> ResponseReturnValue:
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            endpoint = service.create_endpoint(current_actor(), form.data_for_service())
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            # The secret is shown here once; it is never in a redirect or a cookie.
            return _detail(endpoint, secret=endpoint.secret)
    return _index(form, 422)


def _detail(
    endpoint: WebhookEndpoint, secret: str | None = None, status: int = 200
) -> ResponseReturnValue:
    actor = current_actor()
    page = service.deliveries(actor, endpoint.public_id, before=request.args.get("before"))
    polling = any(d.status == "pending" for d in page.items)
    response = make_response(
        render(
            "webhooks/detail.html",
            "log",
            endpoint=endpoint,
            page=page,
            event_of=service.event_of,
            secret=secret,
            rotate=RotateForm(formdata=None),
            polling=polling,
        )
    )
    # A poll that finds nothing pending any more gets 286: htmx stops polling.
    response.status_code = 286 if is_htmx() and not polling else status
    return response


@bp.get("/app/settings/webhooks/<public_id>")
@require_role(Role.ADMIN)
def detail(public_id: str) -> ResponseReturnValue:
    return _detail(service.get_endpoint(current_actor(), public_id))


@bp.route("/app/settings/webhooks/<public_id>/edit", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def edit(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    endpoint = service.get_endpoint(actor, public_id)
    form = EndpointForm(obj=endpoint)
    if form.validate_on_submit():
        try:
            service.update_endpoint(actor, public_id, form.data_for_service())
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash("Endpoint saved.", "success")
            return redirect(url_for("webhooks.detail", public_id=public_id), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("webhooks/edit.html", form=form, endpoint=endpoint), status


@bp.post("/app/settings/webhooks/<public_id>/delete")
@require_role(Role.ADMIN)
def delete(public_id: str) -> ResponseReturnValue:
    service.delete_endpoint(current_actor(), public_id)
    flash("Endpoint deleted.", "success")
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/app/settings/webhooks/<public_id>/test")
@require_role(Role.ADMIN)
def send_test(public_id: str) -> ResponseReturnValue:
    try:
        service.send_test(current_actor(), public_id)
    except InvalidInput as error:
        flash(next(iter(error.errors.values())), "error")
    else:
        flash("Test event sent; its delivery is at the top of the log.", "success")
    return redirect(url_for("webhooks.detail", public_id=public_id), 303)


@bp.post("/app/settings/webhooks/<public_id>/rotate")
@require_role(Role.ADMIN)
def rotate(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    endpoint = service.get_endpoint(actor, public_id)
    form = RotateForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0], "error")
        return redirect(url_for("webhooks.detail", public_id=public_id), 303)
    hours = 24 if form.overlap_hours.data is None else form.overlap_hours.data
    endpoint = service.rotate_secret(actor, public_id, overlap_hours=hours)
    return _detail(endpoint, secret=endpoint.secret)


@bp.post("/app/settings/webhooks/<public_id>/enable")
@require_role(Role.ADMIN)
def enable(public_id: str) -> ResponseReturnValue:
    service.enable_endpoint(current_actor(), public_id)
    flash("Endpoint switched on again.", "success")
    return redirect(url_for("webhooks.detail", public_id=public_id), 303)


@bp.get("/app/settings/webhooks/<public_id>/deliveries/<delivery_id>")
@require_role(Role.ADMIN)
def delivery(public_id: str, delivery_id: str) -> ResponseReturnValue:
    actor = current_actor()
    endpoint = service.get_endpoint(actor, public_id)
    found = service.get_delivery(actor, delivery_id)
    if found.endpoint_id != endpoint.id:
        raise NotFound("No such delivery.")
    return render_template(
        "webhooks/delivery.html",
        endpoint=endpoint,
        delivery=found,
        event=service.event_of(found),
        attempts=service.attempts_of(found),
        pretty=_pretty,
    )


def _pretty(body: str) -> str:
    """JSON indented for reading; anything else as it came."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


@bp.post("/app/settings/webhooks/<public_id>/deliveries/<delivery_id>/resend")
@require_role(Role.ADMIN)
def resend(public_id: str, delivery_id: str) -> ResponseReturnValue:
    actor = current_actor()
    endpoint = service.get_endpoint(actor, public_id)
    found = service.get_delivery(actor, delivery_id)
    if found.endpoint_id != endpoint.id:
        raise NotFound("No such delivery.")
    try:
        service.resend(actor, delivery_id)
    except InvalidInput as error:
        flash(next(iter(error.errors.values())), "error")
    else:
        flash("Resent; the new delivery is at the top of the log.", "success")
    return redirect(url_for("webhooks.detail", public_id=public_id), 303)
