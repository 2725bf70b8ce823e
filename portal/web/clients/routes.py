"""Client pages: the searchable list, the form, the detail page, archive and restore."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from jinja2_fragments.flask import render_block

from portal.models import Client, Role
from portal.services import audit, client_portal, saved_cards
from portal.services import clients as client_service
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.clients.forms import ClientForm
from portal.web.forms import attach_errors
from portal.web.htmx import is_htmx, render

bp = Blueprint("clients", __name__, url_prefix="/app/clients")


def _filter() -> client_service.ClientFilter:
    return client_service.ClientFilter(
        q=request.args.get("q", "")[:100],
        tag=request.args.get("tag", "")[:40],
        archived=request.args.get("archived") == "1",
    )


@bp.get("/")
@require_role(Role.VIEWER)
def index() -> ResponseReturnValue:
    actor = current_actor()
    flt = _filter()
    page = client_service.list_clients(
        actor, flt, cursor=request.args.get("after"), limit=_page_size()
    )
    context = {"page": page, "flt": flt, "tags": client_service.all_tags(actor)}
    # "Load more" appends rows; the search box swaps the whole result list.
    if is_htmx() and request.args.get("after"):
        return render("clients/index.html", "rows", **context)
    return render("clients/index.html", "results", **context)


def _page_size() -> int:
    return int(current_app.config["PAGE_SIZE"])


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.STAFF)
def new() -> ResponseReturnValue:
    actor = current_actor()
    form = ClientForm()
    if request.method == "GET":
        form.currency.data = actor.business.base_currency
        form.contacts[0].form.is_primary.data = True
    rejected = False
    if form.validate_on_submit():
        try:
            client = client_service.create_client(actor, form.to_data())
        except InvalidInput as error:
            attach_errors(form, error)
            rejected = True
        else:
            flash(f"Client {client.name} created.", "success")
            return redirect(url_for("clients.detail", public_id=client.public_id), 303)
    status = 422 if rejected or form.errors or form.form_errors else 200
    return render_template("clients/form.html", form=form, client=None), status


@bp.get("/contact-row")
@require_role(Role.STAFF)
def contact_row() -> ResponseReturnValue:
    """A blank contact row for the form, numbered after the rows already there."""
    index = request.args.get("index", type=int, default=1)
    if not 0 <= index < 20:
        abort(400)
    form = ClientForm(formdata=None)
    while len(form.contacts.entries) <= index:
        form.contacts.append_entry()
    return render_template("clients/_contact_row.html", contact=form.contacts.entries[index])


@bp.get("/<public_id>")
@require_role(Role.VIEWER)
def detail(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    client = client_service.get_client(actor, public_id)
    events = audit.events_for_entity(actor.business, "client", client.public_id)
    links = client_portal.links_for(actor, client.public_id)
    cards = saved_cards.cards_of(actor.business, client)
    return render(
        "clients/detail.html",
        "status",
        client=client,
        events=events,
        links=links,
        cards=cards,
        charging=saved_cards.charging(actor.business, client),
    )


@bp.route("/<public_id>/edit", methods=["GET", "POST"])
@require_role(Role.STAFF)
def edit(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    client = client_service.get_client(actor, public_id)
    if request.method == "GET":
        # Contacts fill their rows from the client; tags are shown as text.
        form = ClientForm(obj=client)
        form.tags.data = ", ".join(t.name for t in client.tags)
    else:
        form = ClientForm()
    rejected = False
    if form.validate_on_submit():
        try:
            client = client_service.update_client(actor, public_id, form.to_data())
        except InvalidInput as error:
            attach_errors(form, error)
            rejected = True
        else:
            flash(f"Client {client.name} saved.", "success")
            return redirect(url_for("clients.detail", public_id=client.public_id), 303)
    status = 422 if rejected or form.errors or form.form_errors else 200
    return render_template("clients/form.html", form=form, client=client), status


@bp.post("/<public_id>/archive")
@require_role(Role.STAFF)
def archive(public_id: str) -> ResponseReturnValue:
    client = client_service.archive_client(current_actor(), public_id)
    return _after_status_change(client, f"{client.name} is archived.")


@bp.post("/<public_id>/restore")
@require_role(Role.STAFF)
def restore(public_id: str) -> ResponseReturnValue:
    client = client_service.restore_client(current_actor(), public_id)
    return _after_status_change(client, f"{client.name} is restored.")


def _after_status_change(client: Client, message: str) -> ResponseReturnValue:
    if is_htmx():
        actor = current_actor()
        events = audit.events_for_entity(actor.business, "client", client.public_id)
        links = client_portal.links_for(actor, client.public_id)
        html = render_block(
            "clients/detail.html",
            "status",
            client=client,
            events=events,
            links=links,
            toast=message,
        )
        return html
    flash(message, "success")
    return redirect(url_for("clients.detail", public_id=client.public_id), 303)
