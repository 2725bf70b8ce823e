"""Sign up, log in, log out, password reset."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length

from portal.services import auth as auth_service
from portal.services.errors import InvalidInput
from portal.services.validation import currency_choices
from portal.web.access import BUSINESS_KEY
from portal.web.forms import attach_errors

bp = Blueprint("auth", __name__)

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
    if form.validate_on_submit():
        user = auth_service.authenticate(form.email.data or "", form.password.data or "")
        if user is None:
            form.form_errors.append("The email or password is wrong.")
        else:
            session.clear()
            login_user(user)
            return redirect(safe_next(request.args.get("next")), 303)
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
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
