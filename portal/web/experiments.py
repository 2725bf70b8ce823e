"""Payment page experiments: create, start, pause, end, and read the results."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from portal.models import Role
from portal.services import experiment_results, payment_accounts
from portal.services import experiments as service
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors
from portal.web.htmx import render

bp = Blueprint("experiments", __name__)

PARTIAL = {"": "As the payment settings say", "yes": "Offer part payment", "no": "Full amount only"}


class VariantForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Name", validators=[InputRequired(), Length(max=80)])
    weight = IntegerField(
        "Share of visitors (%)",
        validators=[InputRequired(), NumberRange(min=1, max=99, message="Between 1 and 99.")],
    )
    layout = SelectField("Layout", choices=dict(service.LAYOUTS))
    heading = StringField("Heading", validators=[Optional(), Length(max=80)])
    button = StringField("Button word", validators=[Optional(), Length(max=40)])
    method_order = SelectField("Provider first", choices={"": "As connected"})
    offer_partial = SelectField("Part payment", choices=PARTIAL)


class ExperimentForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    min_views = IntegerField(
        "Views per variant before deciding",
        default=100,
        validators=[InputRequired(), NumberRange(min=10, max=100_000)],
    )
    variants = FieldList(FormField(VariantForm), min_entries=2, max_entries=service.MAX_VARIANTS)
    confirm = BooleanField("I understand visitors will see different payment pages", default=True)

    def variant_data(self) -> list[service.VariantData]:
        out = []
        for entry in self.variants.entries:
            v = entry.form
            partial = {"yes": True, "no": False}.get(v.offer_partial.data or "")
            out.append(
                service.VariantData(
                    name=v.name.data or "",
                    weight=int(v.weight.data or 0),
                    settings=service.VariantSettings(
                        layout=v.layout.data or "standard",
                        heading=(v.heading.data or "").strip(),
                        button=(v.button.data or "").strip(),
                        method_order=(v.method_order.data,) if v.method_order.data else (),
                        offer_partial=partial,
                    ),
                )
            )
        return out


def _form() -> ExperimentForm:
    form = ExperimentForm()
    providers = {"": "As connected"} | {
        p: payment_accounts.label(p) for p in payment_accounts.available()
    }
    for position, entry in enumerate(form.variants.entries):
        entry.form.method_order.choices = providers
        if not form.is_submitted():
            entry.form.name.data = "Control" if position == 0 else "Variant B"
            entry.form.weight.data = 50
    return form


@bp.get("/app/experiments")
@require_role(Role.ACCOUNTANT)
def index() -> ResponseReturnValue:
    actor = current_actor()
    return render_template(
        "experiments/index.html",
        experiments=service.experiments(actor),
        form=_form(),
        can_edit=actor.role.at_least(Role.ADMIN),
    )


@bp.post("/app/experiments")
@require_role(Role.ADMIN)
def create() -> ResponseReturnValue:
    actor = current_actor()
    form = _form()
    if form.validate_on_submit():
        try:
            experiment = service.create_experiment(
                actor, form.name.data or "", form.variant_data(), int(form.min_views.data or 0)
            )
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"Experiment {experiment.name} created; start it when ready.", "success")
            return redirect(url_for(".show", public_id=experiment.public_id), 303)
    return render_template(
        "experiments/index.html",
        experiments=service.experiments(actor),
        form=form,
        can_edit=True,
    ), 422


@bp.get("/app/experiments/<public_id>")
@require_role(Role.ACCOUNTANT)
def show(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    experiment = service.get_experiment(actor, public_id)
    return render(
        "experiments/show.html",
        "results",
        experiment=experiment,
        results=experiment_results.results(experiment),
        can_edit=actor.role.at_least(Role.ADMIN),
    )


@bp.post("/app/experiments/<public_id>/<action>")
@require_role(Role.ADMIN)
def change(public_id: str, action: str) -> ResponseReturnValue:
    try:
        experiment = service.change_status(current_actor(), public_id, action)
    except InvalidInput as error:
        flash(next(iter(error.errors.values())), "error")
    else:
        flash(f"Experiment {experiment.name} is {experiment.status}.", "success")
    return redirect(url_for(".show", public_id=public_id), 303)
