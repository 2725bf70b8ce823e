"""Staff side of the client portal: make a link for a client or a document, withdraw it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from portal.extensions import db
from portal.models import Client, Role
from portal.services import client_portal, mail
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role

bp = Blueprint("sharing", __name__, url_prefix="/app")


@bp.post("/clients/<public_id>/portal-links")
@require_role(Role.STAFF)
def create(public_id: str) -> ResponseReturnValue:
    """The link is shown once: only its hash is kept."""
    actor = current_actor()
    try:
        days = int(request.form.get("days", "30"))
        link, token = client_portal.create_link(
            actor, public_id, request.form.get("document") or None, days=days
        )
    except ValueError:
        flash("Give the number of days the link works, from 1 to 365.", "error")
        return redirect(url_for("clients.detail", public_id=public_id), 303)
    except InvalidInput as error:
        flash(" ".join(error.errors.values()), "error")
        return redirect(url_for("clients.detail", public_id=public_id), 303)
    url = mail.absolute_url(url_for("client_portal.home", token=token))
    return render_template("sharing/created.html", link=link, url=url, client_id=public_id)


@bp.post("/portal-links/<link_public_id>/revoke")
@require_role(Role.STAFF)
def revoke(link_public_id: str) -> ResponseReturnValue:
    link = client_portal.revoke_link(current_actor(), link_public_id)
    client = db.session.get(Client, link.client_id)
    flash("The link is withdrawn: it no longer opens anything.", "success")
    return redirect(url_for("clients.detail", public_id=client.public_id if client else ""), 303)
