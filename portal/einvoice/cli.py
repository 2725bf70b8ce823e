"""``einvoice check FILE.xml``: exit 0 when the stated totals agree with the engine, 1 when
they do not, 2 when the file cannot be read. Plain click, so it runs without an application;
the application registers the group on its own command line.

``einvoice import FILE --business ID`` imports into a business (needs the application): exit 0
imported, 1 refused with problems, 2 unreadable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from portal.billing.errors import BillingError
from portal.billing.money import Rounding
from portal.einvoice.check import check_invoice
from portal.einvoice.read import MAX_BYTES, read_invoice
from portal.einvoice.source import EInvoiceReadError

__all__ = ["einvoice"]

EXIT_AGREES = 0
EXIT_DISAGREES = 1
EXIT_UNREADABLE = 2

einvoice = click.Group("einvoice", help="Work with EN 16931 e-invoices (UBL 2.1, CII).")


def _emit(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, indent=2))


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise EInvoiceReadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return data


@einvoice.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--rounding",
    type=click.Choice(["half-up", "half-even"]),
    default="half-up",
    show_default=True,
    help="Rounding mode used to recompute the totals.",
)
@click.pass_context
def check(ctx: click.Context, path: Path, rounding: str) -> None:
    """Recompute the totals of an e-invoice and report each figure that disagrees."""
    mode = Rounding.HALF_EVEN if rounding == "half-even" else Rounding.HALF_UP
    try:
        report = check_invoice(read_invoice(_read_file(path)), mode)
    except EInvoiceReadError as exc:
        _emit({"error": str(exc)})
        ctx.exit(EXIT_UNREADABLE)
    except BillingError as exc:
        _emit({"error": f"invalid invoice data: {exc}"})
        ctx.exit(EXIT_UNREADABLE)
    _emit(report.as_json())
    ctx.exit(EXIT_AGREES if report.ok else EXIT_DISAGREES)


@einvoice.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--business", "business_id", required=True, help="Public id of the importing business."
)
@with_appcontext
@click.pass_context
def import_file(ctx: click.Context, path: Path, business_id: str) -> None:
    """Import a UBL/CII XML file or Factur-X PDF for a business, as its owner.

    Exit 0 when imported, 1 when refused (the report lists why), 2 when unreadable.
    """
    # The application's services load only here: ``check`` runs without an application.
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Business
    from portal.services.actors import system_actor
    from portal.services.einvoices import IMPORTED, REFUSED, import_einvoice

    business = db.session.scalar(select(Business).where(Business.public_id == business_id))
    if business is None:
        _emit({"status": "unreadable", "error": f"no business with public id {business_id}"})
        ctx.exit(EXIT_UNREADABLE)
    try:
        data = _read_file(path)
    except EInvoiceReadError as exc:
        _emit({"status": "unreadable", "error": str(exc)})
        ctx.exit(EXIT_UNREADABLE)
    result = import_einvoice(system_actor(business), path.name, data)
    _emit(result.as_json())
    if result.status == IMPORTED:
        ctx.exit(EXIT_AGREES)
    ctx.exit(EXIT_DISAGREES if result.status == REFUSED else EXIT_UNREADABLE)
