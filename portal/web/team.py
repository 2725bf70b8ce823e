"""The team: members, invitations and accepting one."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length

from portal.models import Role, User
from portal.services import team as service
from portal.services.errors import Forbidden, InvalidInput, NotFound
from portal.web.access import BUSINESS_KEY, current_actor, require_role
from portal.web.forms import attach_errors

bp = Blueprint("team", __name__)

INVITABLE = {r.value: r.value.capitalize() for r in Role if r is not Role.OWNER}


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Email(), Length(max=254)])
    role = SelectField("Role", choices=INVITABLE, default=Role.STAFF.value)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=INVITABLE)


class AcceptForm(FlaskForm):
    name = StringField("Your name", validators=[InputRequired(), Length(max=120)])
    password = PasswordField("Password", validators=[InputRequired(), Length(min=10, max=200)])


def _page(form: InviteForm, status: int = 200) -> ResponseReturnValue:
    actor = current_actor()
    return render_template(
        "team/index.html",
        form=form,
        members=service.members(actor),
        invitations=service.pending_invitations(actor),
        roles=INVITABLE,
    ), status


@bp.get("/app/team")
@require_role(Role.VIEWER)
def index() -> ResponseReturnValue:
    return _page(InviteForm())


@bp.post("/app/team/invite")
@require_role(Role.ADMIN)
def invite() -> ResponseReturnValue:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = service.invite_member(
                current_actor(), form.email.data or "", Role(form.role.data)
            )
        except InvalidInput as error:
            attach_errors(form, error)
        else:
            flash(f"Invitation sent to {invitation.email}.", "success")
            return redirect(url_for("team.index"), 303)
    return _page(form, 422)


@bp.post("/app/team/invitations/<public_id>/revoke")
@require_role(Role.ADMIN)
def revoke(public_id: str) -> ResponseReturnValue:
    service.revoke_invitation(current_actor(), public_id)
    flash("Invitation revoked.", "success")
    return redirect(url_for("team.index"), 303)


@bp.post("/app/team/members/<public_id>/role")
@require_role(Role.ADMIN)
def change_role(public_id: str) -> ResponseReturnValue:
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose one of the listed roles.", "error")
        return redirect(url_for("team.index"), 303)
    try:
        service.change_role(current_actor(), public_id, Role(form.role.data))
    except InvalidInput as error:
        flash(" ".join(error.errors.values()), "error")
    else:
        flash("Role changed.", "success")
    return redirect(url_for("team.index"), 303)


@bp.post("/app/team/members/<public_id>/remove")
@require_role(Role.ADMIN)
def remove(public_id: str) -> ResponseReturnValue:
    try:
        service.remove_member(current_actor(), public_id)
    except InvalidInput as error:
        flash(" ".join(error.errors.values()), "error")
    else:
        flash("Member removed.", "success")
    return redirect(url_for("team.index"), 303)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept(token: str) -> ResponseReturnValue:
    try:
        invitation = service.open_invitation(token)
    except NotFound as error:
        return render_template("errors/error.html", code=410, message=str(error)), 410
    user: User | None = current_user if current_user.is_authenticated else None
    form = AcceptForm()
    if request.method == "POST" and (user is not None or form.validate_on_submit()):
        account = None
        if user is None:
            account = service.NewAccount(
                name=form.name.data or "", password=form.password.data or ""
            )
        try:
            joined = service.accept_invitation(token, user, account)
        except InvalidInput as error:
            attach_errors(form, error)
        except Forbidden as error:
            form.form_errors.append(str(error))
        else:
            if user is None:
                session.clear()
                login_user(joined)
            session[BUSINESS_KEY] = invitation.business.public_id
            flash(f"Welcome to {invitation.business.legal_name}.", "success")
            return redirect(url_for("dashboard.home"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("team/accept.html", form=form, invitation=invitation, user=user), status
