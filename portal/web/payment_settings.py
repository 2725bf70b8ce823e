"""Settings → online payments: connect Stripe, PayPal or Square, and what clients may pay with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, PasswordField, SelectMultipleField, StringField
from wtforms.validators import Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.billing.money import exponent
from portal.models import PaymentAccount, Role
from portal.services import payment_accounts as service
from portal.services.errors import InvalidInput
from portal.services.mail import absolute_url
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors

bp = Blueprint("payment_settings", __name__)


class _AccountForm(FlaskForm):
    payment_methods = SelectMultipleField(
        "Payment methods", widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    allow_partial = BooleanField("Let clients pay part of an invoice")
    minimum_partial = DecimalField(
        "Smallest part payment",
        places=None,
        validators=[Optional(), NumberRange(min=0, message="The minimum cannot be negative.")],
        description="In the invoice's currency; leave empty for no minimum.",
    )
    connected_account_id = StringField(
        "Connected Stripe account (Connect)",
        validators=[Optional(), Length(max=64)],
        description="acct_…: take payments on the business's own Stripe account.",
    )


def _form_class(provider: str) -> type[_AccountForm]:
    fields: dict[str, Any] = {}
    for cred in service.CREDENTIALS[provider]:
        kind = PasswordField if cred.secret else StringField
        fields[cred.name] = kind(
            cred.label,
            validators=[Length(max=500)],
            render_kw={"autocomplete": "off", "spellcheck": "false"},
        )
    return type(f"{provider.title()}AccountForm", (_AccountForm,), fields)


def _form(provider: str, account: PaymentAccount | None) -> _AccountForm:
    form = _form_class(provider)()
    form.payment_methods.choices = dict(service.METHODS[provider])
    if not form.is_submitted() and account is not None:
        form.payment_methods.data = account.payment_methods.split(",")
        form.allow_partial.data = account.allow_partial
        currency = current_actor().business.base_currency
        if account.minimum_partial_minor:
            form.minimum_partial.data = Decimal(account.minimum_partial_minor).scaleb(
                -exponent(currency)
            )
        form.connected_account_id.data = account.connected_account_id
        for cred in service.CREDENTIALS[provider]:
            if not cred.secret:
                getattr(form, cred.name).data = service.credentials_of(account).get(cred.name, "")
    elif not form.is_submitted():
        form.payment_methods.data = [next(iter(service.METHODS[provider]))]
    return form


def _data(provider: str, form: _AccountForm) -> service.AccountData:
    currency = current_actor().business.base_currency
    minimum = form.minimum_partial.data or Decimal(0)
    return service.AccountData(
        credentials={
            c.name: getattr(form, c.name).data or "" for c in service.CREDENTIALS[provider]
        },
        payment_methods=tuple(form.payment_methods.data or ()),
        allow_partial=bool(form.allow_partial.data),
        minimum_partial_minor=int(minimum.scaleb(exponent(currency))),
        connected_account_id=form.connected_account_id.data or "",
    )


@bp.get("/app/settings/payments")
@require_role(Role.ADMIN)
def index() -> ResponseReturnValue:
    actor = current_actor()
    return render_template(
        "payment_settings/index.html",
        connect_offered=service.connect_offered(),
        providers=list(service.CREDENTIALS),
        available=service.available(),
        accounts=service.accounts(actor),
        label=service.label,
        methods=service.METHODS,
        webhook_url=service.webhook_url,
    )


@bp.route("/app/settings/payments/<provider>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def edit(provider: str) -> ResponseReturnValue:
    if provider not in service.CREDENTIALS:
        abort(404)
    actor = current_actor()
    account = service.accounts(actor).get(provider)
    form = _form(provider, account)
    if form.validate_on_submit():
        try:
            service.save_account(actor, provider, _data(provider, form))
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"{service.label(provider)} connected.", "success")
            return redirect(url_for("payment_settings.index"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "payment_settings/edit.html",
        form=form,
        provider=provider,
        label=service.label(provider),
        account=account,
        credentials=service.CREDENTIALS[provider],
        offered=provider in service.available(),
        webhook_url=service.webhook_url(account) if account else None,
    ), status


@bp.post("/app/settings/payments/<provider>/<action>")
@require_role(Role.ADMIN)
def toggle(provider: str, action: str) -> ResponseReturnValue:
    if action not in ("enable", "disable"):
        abort(404)
    service.set_enabled(current_actor(), provider, action == "enable")
    flash(f"{service.label(provider)} {action}d.", "success")
    return redirect(url_for("payment_settings.index"), 303)


@bp.post("/app/settings/stripe-connect")
@require_role(Role.OWNER)
def stripe_connect() -> ResponseReturnValue:
    try:
        url = service.start_connect(
            current_actor(),
            refresh_url=absolute_url(url_for(".index")),
            return_url=absolute_url(url_for(".stripe_connected")),
        )
    except InvalidInput as error:
        flash(next(iter(error.errors.values())), "error")
        return redirect(url_for(".index"), 303)
    return redirect(url, 303)


@bp.get("/app/settings/stripe-connect/return")
@require_role(Role.OWNER)
def stripe_connected() -> ResponseReturnValue:
    service.finish_connect(current_actor())
    flash("Your Stripe account is connected; clients can pay by card.", "success")
    return redirect(url_for(".index"), 303)


@bp.get("/app/settings/stripe-payouts")
@require_role(Role.ADMIN)
def stripe_payouts() -> ResponseReturnValue:
    account = service.accounts(current_actor()).get("stripe")
    return render_template(
        "payment_settings/payouts.html",
        account=account,
        payouts=service.payouts(account) if account is not None else [],
    )
