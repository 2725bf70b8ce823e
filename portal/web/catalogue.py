"""Products, services and tax rates."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange

from portal.models import Role
from portal.services import catalogue as service
from portal.services.errors import InvalidInput
from portal.services.validation import currency_choices
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors, stop_if_missing

bp = Blueprint("catalogue", __name__, url_prefix="/app")


class TaxRateForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=80)])
    rate = DecimalField(
        "Rate (%)",
        places=None,
        validators=[
            InputRequired(),
            stop_if_missing,
            NumberRange(min=0, max=100, message="A tax rate must be between 0 and 100 %%."),
        ],
    )
    category = SelectField("Tax category", choices=dict(service.TAX_CATEGORIES))
    inclusive = BooleanField("Prices include this tax by default")
    compound = BooleanField("Compound (applied on top of other taxes)")


class ProductForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    unit = StringField("Unit", default="unit", validators=[Length(max=20)])
    unit_price = DecimalField(
        "Unit price",
        places=None,
        validators=[
            InputRequired(),
            stop_if_missing,
            NumberRange(min=0, message="The price cannot be negative."),
        ],
    )
    currency = SelectField("Currency")
    tax_rates = SelectMultipleField("Default tax rates")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = currency_choices()


# --- tax rates -----------------------------------------------------------------


@bp.get("/tax-rates")
@require_role(Role.VIEWER)
def tax_rates() -> ResponseReturnValue:
    archived = request.args.get("archived") == "1"
    rates = service.tax_rates(current_actor(), archived=archived)
    return render_template("catalogue/tax_rates.html", rates=rates, archived=archived)


@bp.route("/tax-rates/new", methods=["GET", "POST"])
@bp.route("/tax-rates/<public_id>/edit", methods=["GET", "POST"])
@require_role(Role.ACCOUNTANT)
def tax_rate_form(public_id: str | None = None) -> ResponseReturnValue:
    actor = current_actor()
    rate = service.get_tax_rate(actor, public_id) if public_id else None
    form = TaxRateForm(obj=rate)
    if form.validate_on_submit():
        data = service.TaxRateData(
            name=form.name.data or "",
            rate=form.rate.data if form.rate.data is not None else Decimal(0),
            inclusive=bool(form.inclusive.data),
            compound=bool(form.compound.data),
            category=form.category.data or "S",
        )
        try:
            if rate is None:
                rate = service.create_tax_rate(actor, data)
            else:
                rate = service.update_tax_rate(actor, rate.public_id, data)
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"Tax rate {rate.name} saved.", "success")
            return redirect(url_for("catalogue.tax_rates"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("catalogue/tax_rate_form.html", form=form, rate=rate), status


@bp.post("/tax-rates/<public_id>/archive")
@require_role(Role.ACCOUNTANT)
def tax_rate_archive(public_id: str) -> ResponseReturnValue:
    rate = service.set_tax_rate_archived(current_actor(), public_id, archived=True)
    flash(f"Tax rate {rate.name} archived.", "success")
    return redirect(url_for("catalogue.tax_rates"), 303)


@bp.post("/tax-rates/<public_id>/restore")
@require_role(Role.ACCOUNTANT)
def tax_rate_restore(public_id: str) -> ResponseReturnValue:
    rate = service.set_tax_rate_archived(current_actor(), public_id, archived=False)
    flash(f"Tax rate {rate.name} restored.", "success")
    return redirect(url_for("catalogue.tax_rates"), 303)


# --- products ------------------------------------------------------------------


@bp.get("/products")
@require_role(Role.VIEWER)
def products() -> ResponseReturnValue:
    archived = request.args.get("archived") == "1"
    items = service.products(current_actor(), archived=archived)
    return render_template("catalogue/products.html", products=items, archived=archived)


@bp.route("/products/new", methods=["GET", "POST"])
@bp.route("/products/<public_id>/edit", methods=["GET", "POST"])
@require_role(Role.ACCOUNTANT)
def product_form(public_id: str | None = None) -> ResponseReturnValue:
    actor = current_actor()
    product = service.get_product(actor, public_id) if public_id else None
    form = ProductForm(obj=product)
    form.tax_rates.choices = {r.public_id: r.name for r in service.tax_rates(actor)}
    if request.method == "GET":
        if product is not None:
            form.unit_price.data = service.from_minor(product.unit_price_minor, product.currency)
            form.tax_rates.data = [r.public_id for r in product.tax_rates]
        else:
            form.currency.data = actor.business.base_currency
    if form.validate_on_submit():
        data = service.ProductData(
            name=form.name.data or "",
            description=form.description.data or "",
            unit=form.unit.data or "unit",
            unit_price=form.unit_price.data if form.unit_price.data is not None else Decimal(0),
            currency=form.currency.data or actor.business.base_currency,
            tax_rate_ids=tuple(form.tax_rates.data or ()),
        )
        try:
            if product is None:
                product = service.create_product(actor, data)
            else:
                product = service.update_product(actor, product.public_id, data)
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"{product.name} saved.", "success")
            return redirect(url_for("catalogue.products"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("catalogue/product_form.html", form=form, product=product), status


@bp.post("/products/<public_id>/archive")
@require_role(Role.ACCOUNTANT)
def product_archive(public_id: str) -> ResponseReturnValue:
    product = service.set_product_archived(current_actor(), public_id, archived=True)
    flash(f"{product.name} archived.", "success")
    return redirect(url_for("catalogue.products"), 303)


@bp.post("/products/<public_id>/restore")
@require_role(Role.ACCOUNTANT)
def product_restore(public_id: str) -> ResponseReturnValue:
    product = service.set_product_archived(current_actor(), public_id, archived=False)
    flash(f"{product.name} restored.", "success")
    return redirect(url_for("catalogue.products"), 303)
