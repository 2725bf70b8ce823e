"""Sign up, log in (password, then a second factor when the member has one), log out,
password reset; and the life of a logged-in session on every request."""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
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
from flask_login import current_user, login_required, login_user, logout_user, user_logged_in
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length

from portal.extensions import db
from portal.models import User
from portal.services import auth as auth_service
from portal.services import login_attempts, sessions, two_factor, webauthn_keys
from portal.services.errors import InvalidInput
from portal.services.validation import currency_choices
from portal.web.access import BUSINESS_KEY
from portal.web.forms import attach_errors

bp = Blueprint("auth", __name__)

# The session cookie's key for the id of its ``UserSession`` row.
SESSION_ID = "sid"
# Between the password and the second step: who, since when, and where to go next.
PENDING = "pending_2fa"
PENDING_MAX_AGE = 300
DEVICE_COOKIE = "il_device"
DEVICE_SALT = "remembered-device"
WRONG = "The email or password is wrong."

COMMON_ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
]
LOCALES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}


class SignUpForm(FlaskForm):
    name = StringField("Your name", validators=[InputRequired(), Length(max=120)])
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(min=10, max=200)])
    business_name = StringField("Business name", validators=[InputRequired(), Length(max=200)])
    base_currency = SelectField("Base currency", default="EUR")
    time_zone = SelectField("Time zone", choices=COMMON_ZONES, default="UTC")
    locale = SelectField("Language", choices=LOCALES, default="en")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.base_currency.choices = currency_choices()


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Email()])
    password = PasswordField("Password", validators=[InputRequired()])


class SecondStepForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[InputRequired(), Length(max=40)],
        description="The 6-digit code from your authenticator app, or a recovery code.",
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True},
    )
    remember = BooleanField("Remember this device for 30 days")


class SecurityKeyStepForm(FlaskForm):
    """The second step with a security key: static/js/webauthn.js fills ``credential``."""

    credential = HiddenField(validators=[InputRequired("Your browser did not use a security key.")])
    remember = BooleanField("Remember this device for 30 days")


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Email()])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        "Repeat it", validators=[InputRequired(), EqualTo("password", "The passwords differ.")]
    )


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target:
        return url_for("dashboard.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.home")
    if "\\" in target:
        return url_for("dashboard.home")
    return target


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            user, business = auth_service.sign_up(
                auth_service.SignUp(
                    email=form.email.data or "",
                    password=form.password.data or "",
                    name=form.name.data or "",
                    business_name=form.business_name.data or "",
                    base_currency=form.base_currency.data or "EUR",
                    time_zone=form.time_zone.data or "UTC",
                    locale=form.locale.data or "en",
                )
            )
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            session.clear()
            g.login_method = "sign-up"
            login_user(user)
            session[BUSINESS_KEY] = business.public_id
            flash(f"Welcome to Invoice Lite, {business.legal_name} is ready.", "success")
            return redirect(url_for("dashboard.home"), 303)
    return render_template("auth/signup.html", form=form), 422 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = auth_service.authenticate(
                form.email.data or "", form.password.data or "", _client_ip()
            )
        except login_attempts.LockedOut as locked:
            form.form_errors.append(str(locked))
            status = 429
        else:
            if user is not None:
                return _after_password(user, safe_next(request.args.get("next")))
            form.form_errors.append(WRONG)
    if status == 200 and (form.errors or form.form_errors):
        status = 422
    return render_template("auth/login.html", form=form), status


def _after_password(user: User, target: str) -> ResponseReturnValue:
    """The password was right: log in, or ask for the second factor first."""
    if webauthn_keys.has_second_factor(user):
        if _remembered_device(user):
            return _complete_login(user, "device", target)
        session.clear()
        session[PENDING] = {"user": user.public_id, "at": int(time.time()), "next": target}
        return redirect(url_for("auth.second_step"), 303)
    required = two_factor.businesses_requiring(user)
    if not required:
        return _complete_login(user, "password", target)
    response = _complete_login(user, "password", url_for("security_settings.setup"))
    names = ", ".join(b.legal_name for b in required)
    flash(f"{names} requires two-factor login: set it up to go on.", "info")
    return response


def _complete_login(
    user: User, method: str, target: str, device_token: str | None = None
) -> ResponseReturnValue:
    """A new session (rotated: nothing of the anonymous one survives) and the way on."""
    session.clear()
    g.login_method = method
    login_user(user)
    response = redirect(target, 303)
    if device_token is not None:
        value = _device_serializer().dumps({"u": user.public_id, "t": device_token})
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=two_factor.DEVICE_DAYS * 24 * 3600,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
            samesite="Lax",
        )
    return response


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=DEVICE_SALT)


def _remembered_device(user: User) -> bool:
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return False
    try:
        data = _device_serializer().loads(cookie)
    except BadSignature:
        return False
    if not isinstance(data, dict) or data.get("u") != user.public_id:
        return False
    return two_factor.remembered_device(user, str(data.get("t", ""))) is not None


def _pending() -> tuple[User, str] | None:
    data = session.get(PENDING)
    if not isinstance(data, dict) or time.time() - int(data.get("at", 0)) > PENDING_MAX_AGE:
        return None
    user = db.session.scalar(select(User).where(User.public_id == data.get("user")))
    if user is None:
        return None
    return user, safe_next(data.get("next"))


@bp.route("/login/two-factor", methods=["GET", "POST"])
def second_step() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    pending = _pending()
    if pending is None:
        session.pop(PENDING, None)
        flash("Log in with your email and password first.", "info")
        return redirect(url_for("auth.login"))
    user, target = pending
    form = SecondStepForm()
    status = 200
    if form.validate_on_submit():
        try:
            login_attempts.check_not_locked(user.email, _client_ip())
        except login_attempts.LockedOut as locked:
            form.code.errors = [str(locked)]
            status = 429
        else:
            factor = two_factor.verify_second_factor(user, form.code.data or "")
            if factor is None:
                db.session.rollback()
                login_attempts.record_failure(user.email, _client_ip())
                form.code.errors = [two_factor.WRONG_CODE]
            else:
                response = _complete_login(user, factor, target, _remember(user, form.remember))
                if factor == "recovery":
                    _warn_about_recovery_codes(user)
                return response
    if status == 200 and form.errors:
        status = 422
    return _second_step_page(user, form, SecurityKeyStepForm(prefix="key", formdata=None), status)


def _remember(user: User, remember: BooleanField) -> str | None:
    if not remember.data:
        return None
    token, _ = two_factor.remember_device(user, sessions.device_label(_user_agent()))
    return token


def _second_step_page(
    user: User, form: SecondStepForm, key_form: SecurityKeyStepForm, status: int
) -> ResponseReturnValue:
    return render_template(
        "auth/two_factor.html",
        form=form,
        key_form=key_form,
        has_app=two_factor.is_enrolled(user),
        has_keys=webauthn_keys.has_keys(user),
    ), status


@bp.post("/login/two-factor/key/options")
def security_key_options() -> ResponseReturnValue:
    """What the browser asks the member's security key to sign (JSON, fetched by webauthn.js)."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    pending = _pending()
    if pending is None or not webauthn_keys.has_keys(pending[0]):
        return {"error": "Log in with your email and password first."}, 400
    options = webauthn_keys.authentication_options(pending[0])
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/login/two-factor/key")
def second_step_key() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    pending = _pending()
    if pending is None:
        session.pop(PENDING, None)
        flash("Log in with your email and password first.", "info")
        return redirect(url_for("auth.login"))
    user, target = pending
    key_form = SecurityKeyStepForm(prefix="key")
    status = 422
    if key_form.validate_on_submit():
        try:
            login_attempts.check_not_locked(user.email, _client_ip())
            webauthn_keys.verify_key(user, key_form.credential.data or "")
        except login_attempts.LockedOut as locked:
            key_form.credential.errors = [str(locked)]
            status = 429
        except webauthn_keys.KeyRefused as refused:
            db.session.rollback()
            login_attempts.record_failure(user.email, _client_ip())
            key_form.credential.errors = [str(refused)]
        else:
            return _complete_login(user, "security_key", target, _remember(user, key_form.remember))
    return _second_step_page(user, SecondStepForm(formdata=None), key_form, status)


def _warn_about_recovery_codes(user: User) -> None:
    left = two_factor.recovery_codes_left(user)
    flash(
        f"You logged in with a recovery code; it is now used up. {left} of "
        f"{two_factor.RECOVERY_CODES} are left"
        + (": make new ones in your account security." if left <= 3 else "."),
        "info",
    )


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    sessions.end_session(session.get(SESSION_ID))
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    form = ForgotForm()
    if form.validate_on_submit():
        auth_service.request_password_reset(form.email.data or "")
        flash("If an account has this email, a reset link is on its way.", "info")
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    if auth_service.user_for_reset_token(token) is None:
        return render_template(
            "errors/error.html",
            code=410,
            message="This reset link has expired or was already used. Ask for a new one.",
        ), 410
    form = ResetForm()
    if form.validate_on_submit():
        try:
            auth_service.reset_password(token, form.password.data or "")
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash("Your password is changed. Log in with the new one.", "success")
            return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset.html", form=form), 422 if form.errors else 200


@bp.get("/no-business")
@login_required
def no_business() -> ResponseReturnValue:
    return render_template("auth/no_business.html")


# --- the session on every request ---------------------------------------------------------------


def _client_ip() -> str:
    return request.remote_addr or ""


def _user_agent() -> str:
    return request.user_agent.string or ""


def _on_logged_in(sender: Flask, user: User, **extra: Any) -> None:
    """Every log-in (password, second step, sign-up, invitation) starts a tracked session."""
    method = str(g.pop("login_method", "password"))
    session[SESSION_ID] = sessions.start_session(
        user, ip=_client_ip(), user_agent=_user_agent(), method=method
    )


def _check_session() -> None:
    """A session that was revoked, sat idle too long or reached its age limit logs out."""
    if request.endpoint == "static" or "_user_id" not in session:
        return
    if not current_user.is_authenticated:
        return
    user = cast(User, current_user._get_current_object())
    result = sessions.check_session(user, session.get(SESSION_ID), _client_ip())
    if isinstance(result, sessions.Ended):
        logout_user()
        session.clear()
        flash(result.message, "info")


def init_app(app: Flask) -> None:
    """Call before the actor is loaded, so an ended session never acts."""
    user_logged_in.connect(_on_logged_in, app)
    app.before_request(_check_session)
