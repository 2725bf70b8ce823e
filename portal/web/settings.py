"""Business settings and switching between businesses."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from portal.models import Role
from portal.services import business as service
from portal.services.errors import InvalidInput
from portal.services.validation import currency_choices
from portal.web.access import current_actor, require_role, switch_business
from portal.web.auth import COMMON_ZONES, LOCALES
from portal.web.forms import attach_errors

bp = Blueprint("settings", __name__, url_prefix="/app/settings")


class BusinessForm(FlaskForm):
    legal_name = StringField("Legal name", validators=[InputRequired(), Length(max=200)])
    address_line1 = StringField("Address", validators=[Length(max=200)])
    address_line2 = StringField("Address line 2", validators=[Length(max=200)])
    city = StringField("City", validators=[Length(max=100)])
    postal_code = StringField("Postal code", validators=[Length(max=20)])
    country = StringField("Country (2 letters)", validators=[Optional(), Length(2, 2)])
    tax_id = StringField("Tax id", validators=[Length(max=50)])
    base_currency = SelectField("Base currency")
    time_zone = SelectField("Time zone", choices=COMMON_ZONES)
    locale = SelectField("Language", choices=LOCALES)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.base_currency.choices = currency_choices()


@bp.route("/", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def business() -> ResponseReturnValue:
    actor = current_actor()
    form = BusinessForm(obj=actor.business)
    if actor.business.time_zone not in COMMON_ZONES:
        form.time_zone.choices = [actor.business.time_zone, *COMMON_ZONES]
    if form.validate_on_submit():
        try:
            service.update_business(
                actor,
                service.BusinessProfile(
                    **{name: str(form._fields[name].data or "") for name in _PROFILE_FIELDS}
                ),
            )
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash("Business settings saved.", "success")
            return redirect(url_for("settings.business"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("settings/business.html", form=form), status


_PROFILE_FIELDS = (
    "legal_name",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "country",
    "tax_id",
    "base_currency",
    "time_zone",
    "locale",
)


@bp.post("/switch")
@login_required
def switch() -> ResponseReturnValue:
    chosen = switch_business(request.form.get("business", ""))
    if chosen is None:
        abort(404)
    flash(f"Now working in {chosen.legal_name}.", "info")
    return redirect(url_for("dashboard.home"), 303)
