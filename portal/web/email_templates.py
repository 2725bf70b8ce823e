"""Email templates: the subject and text of each email a business sends, with a live preview."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from portal.documents.templating import MAX_LENGTH
from portal.models import Role
from portal.services import email_templates as service
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.forms import attach_errors

bp = Blueprint("email_templates", __name__, url_prefix="/app/settings/email-templates")


class EmailTemplateForm(FlaskForm):
    subject = StringField("Subject")
    body = TextAreaField("Text (Markdown)")


def _kind(kind: str) -> str:
    if kind not in service.NAMES:
        abort(404)
    return kind


def _preview(kind: str, subject: str, body: str) -> dict[str, object]:
    try:
        email = service.preview_email(current_actor(), kind, subject, body)
    except InvalidInput as error:
        return {"email": None, "problems": error.errors}
    return {"email": email, "problems": {}}


@bp.get("/")
@require_role(Role.ADMIN)
def index() -> ResponseReturnValue:
    return render_template(
        "email_templates/index.html", templates=service.templates_of(current_actor())
    )


@bp.route("/<kind>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def edit(kind: str) -> ResponseReturnValue:
    actor = current_actor()
    current = service.template_of(actor, _kind(kind))
    form = EmailTemplateForm(data={"subject": current.subject, "body": current.body})
    if form.validate_on_submit():
        try:
            service.save_template(actor, kind, form.subject.data or "", form.body.data or "")
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"{current.name} email saved: the next one sent uses it.", "success")
            return redirect(url_for("email_templates.edit", kind=kind), 303)
    return (
        render_template(
            "email_templates/edit.html",
            form=form,
            template=current,
            placeholders=service.placeholders_for(kind),
            **_preview(kind, form.subject.data or "", form.body.data or ""),
        ),
        422 if form.errors or form.form_errors else 200,
    )


@bp.post("/<kind>/preview")
@require_role(Role.ADMIN)
def preview(kind: str) -> ResponseReturnValue:
    """The live preview fragment the editor asks for as the person types."""
    kind = _kind(kind)
    subject = request.form.get("subject", "")[: service.MAX_SUBJECT + 1]
    body = request.form.get("body", "")[: MAX_LENGTH + 1]
    return render_template("email_templates/_preview.html", **_preview(kind, subject, body))


@bp.post("/<kind>/reset")
@require_role(Role.ADMIN)
def reset(kind: str) -> ResponseReturnValue:
    service.reset_template(current_actor(), _kind(kind))
    flash("Back to the built-in email.", "success")
    return redirect(url_for("email_templates.edit", kind=kind), 303)
