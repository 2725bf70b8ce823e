"""A member's own account security: two-factor login, remembered devices, sessions, password;
and the owner's switch that requires two-factor login of every member."""

from __future__ import annotations

from typing import cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from portal.models import Role, User
from portal.services import auth as auth_service
from portal.services import sessions, two_factor, webauthn_keys
from portal.services.errors import Forbidden, InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.auth import SESSION_ID
from portal.web.forms import attach_errors
from portal.web.htmx import hx_redirect, is_htmx

bp = Blueprint("security_settings", __name__, url_prefix="/app/account/security")

# What a member who must set up two-factor login may still open meanwhile.
OPEN_WHILE_ENROLLING = {
    "security_settings.setup",
    "security_settings.key_options",
    "security_settings.add_key",
    "auth.logout",
    "static",
}


class ConfirmForm(FlaskForm):
    code = StringField(
        "Code from the app",
        validators=[InputRequired(), Length(max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ProofForm(FlaskForm):
    proof = PasswordField(
        "Your password, or a current code from your app",
        validators=[InputRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordForm(FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[InputRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        "New password",
        validators=[InputRequired(), Length(min=10, max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat it",
        validators=[InputRequired(), EqualTo("password", "The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class AddKeyForm(FlaskForm):
    name = StringField(
        "Name of the key",
        default=webauthn_keys.DEFAULT_NAME,
        validators=[Length(max=80)],
        description="So you can tell your keys apart, e.g. “Blue key on my key ring”.",
    )
    # Filled by static/js/webauthn.js with the key's answer.
    credential = HiddenField(validators=[InputRequired("Your browser did not add a key.")])


class RenameKeyForm(FlaskForm):
    name = StringField("New name", validators=[InputRequired(), Length(max=80)])


class RequirementForm(FlaskForm):
    require_2fa = BooleanField("Require two-factor login of every member")


def _user() -> User:
    return cast(User, current_user._get_current_object())


@bp.before_app_request
def require_enrolment() -> ResponseReturnValue | None:
    """A member of a business that requires two-factor login does nothing else until set up.

    Runs after the actor is loaded: the memberships are already at hand, so members of other
    businesses cost nothing.
    """
    if not current_user.is_authenticated or request.endpoint in OPEN_WHILE_ENROLLING:
        return None
    if not any(m.business.require_2fa for m in g.get("memberships", [])):
        return None
    if webauthn_keys.has_second_factor(_user()):
        return None
    target = url_for("security_settings.setup")
    if is_htmx():
        return hx_redirect(target)
    flash("Your business requires two-factor login: set it up to go on.", "info")
    return redirect(target)


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return _index_page(ProofForm(), ProofForm())


def _index_page(
    codes_form: ProofForm,
    disable_form: ProofForm,
    status: int = 200,
    key_form: AddKeyForm | None = None,
) -> ResponseReturnValue:
    user = _user()
    credential = two_factor.credential_of(user)
    enrolled = credential is not None and credential.confirmed_at is not None
    return render_template(
        "security/index.html",
        enrolled=enrolled,
        credential=credential,
        codes_left=two_factor.recovery_codes_left(user) if enrolled else 0,
        devices=two_factor.devices_of(user),
        session_count=len(sessions.active_sessions(user)),
        required_by=two_factor.businesses_requiring(user),
        codes_form=codes_form,
        disable_form=disable_form,
        keys=webauthn_keys.keys_of(user),
        key_form=key_form or AddKeyForm(prefix="key", formdata=None),
    ), status


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
def setup() -> ResponseReturnValue:
    user = _user()
    if two_factor.is_enrolled(user):
        flash("Two-factor login is already on.", "info")
        return redirect(url_for("security_settings.index"))
    two_factor.begin_enrolment(user)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_enrolment(user, form.code.data or "")
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            return render_template("security/recovery_codes.html", codes=codes, first=True)
    return _setup_page(form, 422 if form.errors else 200)


def _setup_page(
    form: ConfirmForm, status: int, key_form: AddKeyForm | None = None
) -> ResponseReturnValue:
    user = _user()
    secret = two_factor.secret_of(two_factor.begin_enrolment(user))
    uri = two_factor.provisioning_uri(user, secret)
    return render_template(
        "security/setup.html",
        form=form,
        secret=secret,
        qr=two_factor.qr_data_uri(uri),
        required_by=two_factor.businesses_requiring(user),
        key_form=key_form or AddKeyForm(prefix="key", formdata=None),
    ), status


@bp.post("/two-factor/recovery-codes")
@login_required
def regenerate_codes() -> ResponseReturnValue:
    form = ProofForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.regenerate_recovery_codes(_user(), form.proof.data or "")
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            return render_template("security/recovery_codes.html", codes=codes, first=False)
    return _index_page(form, ProofForm(), 422)


@bp.post("/two-factor/disable")
@login_required
def disable() -> ResponseReturnValue:
    form = ProofForm(prefix="off")
    if form.validate_on_submit():
        try:
            two_factor.disable(_user(), form.proof.data or "")
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash("Two-factor login is off. Your recovery codes no longer work.", "success")
            return redirect(url_for("security_settings.index"), 303)
    return _index_page(ProofForm(), form, 422)


@bp.post("/keys/options")
@login_required
def key_options() -> ResponseReturnValue:
    """What the browser asks a new security key to create (JSON, fetched by webauthn.js)."""
    options = webauthn_keys.registration_options(_user())
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/keys")
@login_required
def add_key() -> ResponseReturnValue:
    user = _user()
    form = AddKeyForm(prefix="key")
    if form.validate_on_submit():
        try:
            key = webauthn_keys.register_key(user, form.credential.data or "", form.name.data or "")
        except webauthn_keys.KeyRefused as refused:
            form.credential.errors = [str(refused)]
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"“{key.name}” is added: you can log in with it.", "success")
            return redirect(url_for("security_settings.index"), 303)
    if not webauthn_keys.has_second_factor(user) and two_factor.businesses_requiring(user):
        # Still setting up a required second factor: the overview is not open yet.
        return _setup_page(ConfirmForm(formdata=None), 422, form)
    return _index_page(ProofForm(), ProofForm(prefix="off"), 422, form)


@bp.post("/keys/<public_id>/rename")
@login_required
def rename_key(public_id: str) -> ResponseReturnValue:
    if webauthn_keys.key_of(_user(), public_id) is None:
        abort(404)
    form = RenameKeyForm()
    if not form.validate_on_submit():
        flash("Give the key a name of at most 80 characters.", "error")
        return redirect(url_for("security_settings.index"), 303)
    try:
        key = webauthn_keys.rename_key(_user(), public_id, form.name.data or "")
    except InvalidInput as error:
        flash(" ".join(error.errors.values()), "error")
    else:
        if key is not None:
            flash(f"The key is now called “{key.name}”.", "success")
    return redirect(url_for("security_settings.index"), 303)


@bp.post("/keys/<public_id>/remove")
@login_required
def remove_key(public_id: str) -> ResponseReturnValue:
    try:
        removed = webauthn_keys.remove_key(_user(), public_id)
    except InvalidInput as error:
        flash(" ".join(error.errors.values()), "error")
    else:
        if not removed:
            abort(404)
        flash("The key is removed: it no longer logs you in.", "success")
    return redirect(url_for("security_settings.index"), 303)


@bp.post("/devices/<public_id>/forget")
@login_required
def forget_device(public_id: str) -> ResponseReturnValue:
    if not two_factor.forget_device(_user(), public_id):
        abort(404)
    flash("That device will be asked for a code at its next log-in.", "success")
    return redirect(url_for("security_settings.index"), 303)


@bp.post("/devices/forget-all")
@login_required
def forget_all_devices() -> ResponseReturnValue:
    two_factor.forget_all_devices(_user())
    flash("Every device will be asked for a code at its next log-in.", "success")
    return redirect(url_for("security_settings.index"), 303)


@bp.get("/sessions")
@login_required
def sessions_page() -> ResponseReturnValue:
    raw = session.get(SESSION_ID)
    rows = sessions.active_sessions(_user())
    return render_template(
        "security/sessions.html",
        rows=[
            (row, sessions.is_current(row, raw), sessions.device_label(row.user_agent))
            for row in rows
        ],
    )


@bp.post("/sessions/<public_id>/revoke")
@login_required
def revoke_session(public_id: str) -> ResponseReturnValue:
    if not sessions.revoke_session(_user(), public_id):
        abort(404)
    flash("That session is logged out.", "success")
    return redirect(url_for("security_settings.sessions_page"), 303)


@bp.post("/sessions/revoke-others")
@login_required
def revoke_other_sessions() -> ResponseReturnValue:
    ended = sessions.revoke_other_sessions(_user(), session.get(SESSION_ID))
    flash(
        "You are logged out everywhere else." if ended else "There were no other sessions.",
        "success",
    )
    return redirect(url_for("security_settings.sessions_page"), 303)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> ResponseReturnValue:
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            auth_service.change_password(
                _user(), form.current.data or "", form.password.data or "", session.get(SESSION_ID)
            )
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash("Your password is changed; your other sessions are logged out.", "success")
            return redirect(url_for("security_settings.index"), 303)
    return render_template("security/password.html", form=form), 422 if form.errors else 200


@bp.post("/business")
@require_role(Role.OWNER)
def business_requirement() -> ResponseReturnValue:
    form = RequirementForm()
    if form.validate_on_submit():
        try:
            two_factor.set_business_requirement(current_actor(), bool(form.require_2fa.data))
        except Forbidden:
            abort(403)
        except InvalidInput as error:
            flash(" ".join(error.errors.values()), "error")
        else:
            flash(
                "Every member must now log in with a second factor."
                if form.require_2fa.data
                else "Two-factor login is now each member's own choice.",
                "success",
            )
    return redirect(url_for("settings.business"), 303)
