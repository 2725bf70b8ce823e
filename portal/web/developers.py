"""Developer settings: API keys, OAuth apps and the API access log."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

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
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.api.principal import SCOPES, grantable
from portal.models import Role
from portal.services import api_keys, api_usage, oauth
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors

bp = Blueprint("developers", __name__, url_prefix="/app/settings/developers")

OVERLAPS = {
    "0": "Stop the old key now",
    "1": "Keep it working for 1 hour",
    "24": "Keep it working for 1 day",
    "168": "Keep it working for 7 days",
    "720": "Keep it working for 30 days",
}


def _scope_choices() -> dict[str, str]:
    role = current_actor().role
    return {name: f"{name} — {SCOPES[name][0]}" for name in grantable(role)}


class KeyForm(FlaskForm):
    name = StringField(
        "Name", validators=[InputRequired(), Length(max=80)], description="What will use it."
    )
    scopes = SelectMultipleField(
        "Scopes", widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    expires_on = DateField(
        "Expires on", validators=[Optional()], description="Empty: the key does not expire."
    )
    require_signature = BooleanField(
        "Sign requests (HMAC): the key works only on requests signed with its signing secret"
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.scopes.choices = _scope_choices()


class RotateForm(FlaskForm):
    overlap = SelectField("The old key", choices=OVERLAPS, default="24")


class AppForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=80)])
    redirect_uris = TextAreaField(
        "Redirect URIs",
        validators=[Length(max=4000)],
        description="One a line: https, or http on 127.0.0.1 or localhost only.",
    )
    client_type = RadioField(
        "Kind of app",
        choices={
            "confidential": "Confidential: runs on a server and keeps a client secret",
            "public": "Public: a browser or mobile app; no secret, PKCE (S256) required",
        },
        default="confidential",
    )
    grant_types = SelectMultipleField(
        "Grant types",
        choices=oauth.GRANT_TYPES,
        default=["authorization_code", "refresh_token"],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    scopes = SelectMultipleField(
        "Scopes", widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.scopes.choices = _scope_choices()


class LogForm(FlaskForm):
    class Meta:
        csrf = False

    who = SelectField("Key or app", choices={"": "Anyone"}, default="")
    route = StringField("Path contains", validators=[Optional(), Length(max=200)])
    status = StringField("Status", validators=[Optional(), Length(max=3)], description="200, 4xx…")
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])


def _once(response: ResponseReturnValue) -> Response:
    """A page holding a secret shown once: no cache may keep it."""
    answer = make_response(response)
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _keys_page(form: KeyForm, status: int = 200, **shown: object) -> Response:
    actor = current_actor()
    return _once(
        (
            render_template(
                "developers/keys.html",
                keys=api_keys.keys(actor),
                form=form,
                now=datetime.now(UTC),
                **shown,
            ),
            status,
        )
    )


@bp.get("/")
@require_role(Role.ADMIN)
def keys() -> ResponseReturnValue:
    return _keys_page(KeyForm())


@bp.post("/")
@require_role(Role.ADMIN)
def create_key() -> ResponseReturnValue:
    actor = current_actor()
    form = KeyForm()
    if form.validate_on_submit():
        expires = form.expires_on.data
        try:
            key, text = api_keys.create_key(
                actor,
                api_keys.KeyData(
                    name=form.name.data or "",
                    scopes=tuple(form.scopes.data or ()),
                    expires_at=datetime.combine(expires, time(), UTC) if expires else None,
                    require_signature=bool(form.require_signature.data),
                ),
            )
        except InvalidInput as error:
            if "expires_at" in error.errors:
                error.errors["expires_on"] = error.errors.pop("expires_at")
            attach_errors(form, error)
        else:
            return _keys_page(KeyForm(formdata=None), created=key, full_key=text)
    return _keys_page(form, 422)


@bp.get("/keys/<public_id>")
@require_role(Role.ADMIN)
def key(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    found = api_keys.get_key(actor, public_id)
    usage = api_usage.daily_usage(found)
    return render_template(
        "developers/key.html",
        key=found,
        usage=usage,
        figure=api_usage.usage_figure(usage),
        form=RotateForm(),
        now=datetime.now(UTC),
    )


@bp.post("/keys/<public_id>/rotate")
@require_role(Role.ADMIN)
def rotate(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    form = RotateForm()
    if form.validate_on_submit():
        try:
            new, text = api_keys.rotate_key(
                actor, public_id, timedelta(hours=int(form.overlap.data or 0))
            )
        except InvalidInput as error:
            flash(next(iter(error.errors.values())), "error")
        else:
            old = api_keys.get_key(actor, public_id)
            return _keys_page(KeyForm(formdata=None), created=new, full_key=text, rotated=old)
    else:
        flash("Choose how long the old key keeps working.", "error")
    return redirect(url_for(".key", public_id=public_id), 303)


@bp.post("/keys/<public_id>/revoke")
@require_role(Role.ADMIN)
def revoke(public_id: str) -> ResponseReturnValue:
    key = api_keys.revoke_key(current_actor(), public_id)
    flash(f"The key {key.name} (il_{key.prefix}…) no longer works.", "success")
    return redirect(url_for(".keys"), 303)


def _apps_page(form: AppForm, status: int = 200, **shown: object) -> Response:
    actor = current_actor()
    return _once(
        (
            render_template(
                "developers/apps.html",
                apps=oauth.apps(actor),
                form=form,
                grant_types=oauth.GRANT_TYPES,
                **shown,
            ),
            status,
        )
    )


@bp.get("/apps")
@require_role(Role.ADMIN)
def apps() -> ResponseReturnValue:
    return _apps_page(AppForm())


@bp.post("/apps")
@require_role(Role.ADMIN)
def register_app() -> ResponseReturnValue:
    actor = current_actor()
    form = AppForm()
    if form.validate_on_submit():
        try:
            app, secret = oauth.register_app(
                actor,
                oauth.AppData(
                    name=form.name.data or "",
                    redirect_uris=tuple((form.redirect_uris.data or "").split()),
                    confidential=form.client_type.data != "public",
                    grant_types=tuple(form.grant_types.data or ()),
                    scopes=tuple(form.scopes.data or ()),
                ),
            )
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            return _apps_page(AppForm(formdata=None), registered=app, client_secret=secret)
    return _apps_page(form, 422)


@bp.post("/apps/<public_id>/revoke")
@require_role(Role.ADMIN)
def revoke_app(public_id: str) -> ResponseReturnValue:
    app = oauth.revoke_app(current_actor(), public_id)
    flash(f"The app {app.name} and every token it held no longer work.", "success")
    return redirect(url_for(".apps"), 303)


@bp.get("/log")
@require_role(Role.ADMIN)
def log() -> ResponseReturnValue:
    actor = current_actor()
    form = LogForm(request.args)
    form.who.choices = {
        "": "Anyone",
        **{f"key:{k.public_id}": f"Key {k.name} (il_{k.prefix}…)" for k in api_keys.keys(actor)},
        **{f"app:{a.public_id}": f"App {a.name}" for a in oauth.apps(actor)},
    }
    wanted = api_usage.LogFilter()
    if form.validate():
        wanted = api_usage.LogFilter(
            who=form.who.data or "",
            route=(form.route.data or "").strip(),
            status=form.status.data or "",
            since=form.since.data,
            until=form.until.data,
        )
    page = api_usage.search(actor, wanted, request.args.get("cursor"))
    more = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template("developers/log.html", form=form, page=page, more=more)
