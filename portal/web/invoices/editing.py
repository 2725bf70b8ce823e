"""The document editor shared by invoices and quotes: the form, its preview, its page."""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.extensions import db
from portal.models import Client, Document, DocumentKind
from portal.services import catalogue, documents
from portal.services.errors import InvalidInput
from portal.web.access import current_actor
from portal.web.invoices.forms import InvoiceForm


class ClientChoice(NamedTuple):
    public_id: str
    name: str


def business_clients() -> list[ClientChoice]:
    """Id and name of each active client, for pickers (whole rows would cost 10x as much)."""
    actor = current_actor()
    stmt = (
        select(Client.public_id, Client.name)
        .where(Client.business_id == actor.business.id, Client.archived_at.is_(None))
        .order_by(Client.sort_name)
    )
    return [ClientChoice(public_id, name) for public_id, name in db.session.execute(stmt)]


def editor_form(data: dict[str, Any] | None = None) -> InvoiceForm:
    actor = current_actor()
    form = InvoiceForm(formdata=None, data=data) if data is not None else InvoiceForm()
    form.prepare(business_clients(), catalogue.products(actor), catalogue.tax_rates(actor))
    return form


def preview_of(form: InvoiceForm) -> tuple[Document | None, dict[str, str]]:
    """Totals for what the form holds now, or the errors that prevent them."""
    if not form.client.data:
        return None, {}
    try:
        return documents.preview(current_actor(), DocumentKind.INVOICE, form.to_data()), {}
    except InvalidInput as error:
        return None, error.errors
    finally:
        db.session.rollback()


def line_errors_of(form: InvoiceForm, errors: dict[str, str]) -> dict[int, list[str]]:
    """Messages per line: the form's own (a quantity that is not a number) and the engine's."""
    found: dict[int, list[str]] = {}
    for index, entry in enumerate(form.lines.entries):
        for name, messages in entry.form.errors.items():
            label = entry.form[name].label.text
            found.setdefault(index, []).extend(f"{label}: {m}" for m in messages)
    for key, message in errors.items():
        if key.startswith("lines-"):
            found.setdefault(int(key.split("-")[1]), []).append(message)
    return found


def render_editor(
    form: InvoiceForm,
    doc: Document | None,
    errors: dict[str, str],
    status: int = 200,
    kind: DocumentKind = DocumentKind.INVOICE,
) -> ResponseReturnValue:
    preview, preview_errors = (None, {}) if errors else preview_of(form)
    errors = errors or preview_errors
    area = "invoices" if kind is DocumentKind.INVOICE else "quotes"
    noun = "invoice" if kind is DocumentKind.INVOICE else "quote"
    context = {
        "editor_title": f"Edit draft {noun}" if doc else f"New {noun}",
        "save_url": (
            url_for(f"{area}.edit", public_id=doc.public_id) if doc else url_for(f"{area}.new")
        ),
        "cancel_url": (
            url_for(f"{area}.detail", public_id=doc.public_id) if doc else url_for(f"{area}.index")
        ),
        "form": form,
        "doc": doc,
        "preview": preview,
        "line_errors": line_errors_of(form, errors),
        "other_errors": [m for k, m in errors.items() if not k.startswith("lines-")],
    }
    return render_template("invoices/editor.html", **context), status


def currency_of(client_id: str) -> str:
    actor = current_actor()
    client = db.session.scalar(
        select(Client).where(Client.public_id == client_id, Client.business_id == actor.business.id)
    )
    return client.currency if client else actor.business.base_currency
