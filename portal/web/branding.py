"""Branding settings: colours, font, design, logo, and the business's own document texts."""

from __future__ import annotations

import base64

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from portal.documents.fonts import FONTS
from portal.documents.render import DESIGNS
from portal.documents.templating import KINDS, MAX_LENGTH, TemplateProblem
from portal.models import Role
from portal.services import branding as service
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors

bp = Blueprint("branding", __name__, url_prefix="/app/settings/branding")

KIND_NAMES = {
    "invoice": "Invoice",
    "quote": "Quote",
    "credit_note": "Credit note",
    "statement": "Statement",
}
PLACEHOLDERS = {
    "invoice": ["invoice.number", "invoice.issue_date", "invoice.due_date", "invoice.total",
                "invoice.amount_due", "invoice.balance", "invoice.title", "invoice.po_number"],
    "quote": ["quote.number", "quote.issue_date", "quote.valid_until", "quote.total",
              "quote.title"],
    "credit_note": ["credit_note.number", "credit_note.issue_date", "credit_note.total",
                    "credit_note.credited_invoice"],
    "statement": ["statement.from", "statement.to", "statement.opening_balance",
                  "statement.closing_balance"],
}  # fmt: skip
COMMON_PLACEHOLDERS = ["client.name", "client.email", "client.tax_id", "business.name"]


class BrandingForm(FlaskForm):
    design = SelectField("Design", choices={d: d.title() for d in DESIGNS})
    brand_color = StringField(
        "Brand colour", validators=[InputRequired()], description="As #rrggbb, e.g. #2f5bea."
    )
    accent_color = StringField(
        "Accent colour", validators=[InputRequired()], description="As #rrggbb."
    )
    font = SelectField("Font", choices={name: name for name in FONTS})
    footer_text = TextAreaField("Footer on every page", validators=[Length(max=2000)])
    payment_instructions = TextAreaField("Payment instructions", validators=[Length(max=2000)])


class LogoForm(FlaskForm):
    logo = FileField("Logo (PNG, JPEG or SVG, up to 1 MB and 4000 x 4000 pixels)")


class TemplateForm(FlaskForm):
    body = TextAreaField("Text (Markdown)", validators=[Length(max=MAX_LENGTH)])


def _logo_uri() -> str | None:
    business = current_actor().business
    if not business.logo or not business.logo_media_type:
        return None
    return f"data:{business.logo_media_type};base64,{base64.b64encode(business.logo).decode()}"


def _page(form: BrandingForm, logo_form: LogoForm, status: int = 200) -> ResponseReturnValue:
    return (
        render_template(
            "branding/index.html",
            form=form,
            logo_form=logo_form,
            logo_uri=_logo_uri(),
            kinds=KIND_NAMES,
        ),
        status,
    )


@bp.route("/", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def index() -> ResponseReturnValue:
    actor = current_actor()
    form = BrandingForm(obj=service.branding_of(actor))
    if form.validate_on_submit():
        data = service.BrandingData(
            design=form.design.data or "",
            brand_color=form.brand_color.data or "",
            accent_color=form.accent_color.data or "",
            font=form.font.data or "",
            footer_text=form.footer_text.data or "",
            payment_instructions=form.payment_instructions.data or "",
        )
        try:
            service.update_branding(actor, data)
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash("Branding saved.", "success")
            return redirect(url_for("branding.index"), 303)
    return _page(form, LogoForm(), 422 if form.errors or form.form_errors else 200)


@bp.post("/logo")
@require_role(Role.ADMIN)
def logo() -> ResponseReturnValue:
    actor = current_actor()
    logo_form = LogoForm()
    if logo_form.validate_on_submit():
        upload = request.files.get("logo")
        try:
            service.upload_logo(actor, upload.read() if upload is not None else b"")
        except InvalidInput as error:
            attach_errors(logo_form, error)
        else:
            flash("Logo saved.", "success")
            return redirect(url_for("branding.index"), 303)
    form = BrandingForm(formdata=None, obj=service.branding_of(actor))
    return _page(form, logo_form, 422)


@bp.post("/logo/delete")
@require_role(Role.ADMIN)
def remove_logo() -> ResponseReturnValue:
    service.remove_logo(current_actor())
    flash("Logo removed.", "success")
    return redirect(url_for("branding.index"), 303)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        abort(404)
    return kind


def _preview(kind: str, body: str) -> dict[str, object]:
    try:
        return {"html": service.preview_template(current_actor(), kind, body), "problem": None}
    except TemplateProblem as problem:
        return {"html": None, "problem": problem}


@bp.route("/templates/<kind>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def template(kind: str) -> ResponseReturnValue:
    actor = current_actor()
    kind = _kind(kind)
    saved = service.template_for(actor, kind)
    form = TemplateForm(data={"body": saved.body if saved is not None else ""})
    if form.validate_on_submit():
        try:
            service.save_template(actor, kind, form.body.data or "")
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"{KIND_NAMES[kind]} template saved.", "success")
            return redirect(url_for("branding.template", kind=kind), 303)
    status = 422 if form.errors else 200
    return (
        render_template(
            "branding/template.html",
            form=form,
            kind=kind,
            kind_name=KIND_NAMES[kind],
            saved=saved,
            placeholders=PLACEHOLDERS[kind] + COMMON_PLACEHOLDERS,
            **_preview(kind, form.body.data or ""),
        ),
        status,
    )


@bp.post("/templates/<kind>/preview")
@require_role(Role.ADMIN)
def preview(kind: str) -> ResponseReturnValue:
    """The live preview fragment the editor asks for as the person types."""
    kind = _kind(kind)
    body = request.form.get("body", "")[: MAX_LENGTH + 1]
    return render_template("branding/_preview.html", **_preview(kind, body))


@bp.post("/templates/<kind>/reset")
@require_role(Role.ADMIN)
def reset(kind: str) -> ResponseReturnValue:
    service.reset_template(current_actor(), _kind(kind))
    flash("Back to the built-in text.", "success")
    return redirect(url_for("branding.template", kind=kind), 303)
