"""``invoice-lite envelope …``: check and repair ShareEnvelope files, export and import them.

``check`` exits 0 when the envelope is sound, 1 when it has problems, 2 when the file cannot be
read or is not JSON at all. Each problem prints as ``pointer: message``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from integrations import envelope as env
from portal.extensions import db
from portal.models import Business
from portal.services import envelopes as service
from portal.services.actors import Actor, system_actor
from portal.services.errors import ServiceError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNREADABLE = 2
MAX_BYTES = 50 * 1024 * 1024
UNREADABLE_CODES = {"json.invalid", "json.encoding"}

envelope = click.Group("envelope", help="ShareEnvelope: check, repair, export and import.")


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise click.ClickException(f"{path} is larger than {MAX_BYTES} bytes")
    return data


def _print_problems(problems: list[env.Problem]) -> None:
    for problem in problems:
        click.echo(f"{problem.pointer or '/'}: {problem.message}")


@envelope.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--repair", "do_repair", is_flag=True, help="Apply the safe repairs first.")
@click.option(
    "--write",
    "out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="With --repair: write the repaired envelope here.",
)
@click.pass_context
@with_appcontext
def check(ctx: click.Context, path: Path, do_repair: bool, out: Path | None) -> None:
    """Print every problem of the envelope in PATH as `pointer: message`."""
    if out is not None and not do_repair:
        raise click.UsageError("--write needs --repair")
    try:
        raw = _read(path)
    except click.ClickException as exc:
        click.echo(exc.message, err=True)
        ctx.exit(EXIT_UNREADABLE)
    keys = service.configured_keys()
    doc, problem = env.parse(raw)
    if problem is not None:
        _print_problems([problem])
        ctx.exit(EXIT_UNREADABLE)
    if do_repair:
        doc, changes = env.repair(doc)
        for change in changes:
            click.echo(f"repaired {change}")
        if out is not None:
            out.write_bytes(env.dumps(doc))
            click.echo(f"wrote {out}")
    problems = env.check_document(doc, keys)
    _print_problems(problems)
    if not problems:
        click.echo("ok")
    ctx.exit(EXIT_PROBLEMS if problems else EXIT_OK)


def _actor(business_id: str) -> Actor:
    business = db.session.scalar(select(Business).where(Business.public_id == business_id))
    if business is None:
        raise click.BadParameter(f"no business has the id {business_id!r}", param_hint="--business")
    return system_actor(business)


def _emit(envelope_doc: dict[str, Any], out: Path | None) -> None:
    data = env.dumps(envelope_doc)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        click.echo(f"wrote {out}", err=True)


business_option = click.option("--business", "business_id", required=True, help="Public id.")
out_option = click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout)."
)


@envelope.group("export")
def export() -> None:
    """Write an invoice, a client or payments as an envelope."""


@export.command("invoice")
@click.argument("public_id")
@business_option
@out_option
@with_appcontext
def export_invoice(public_id: str, business_id: str, out: Path | None) -> None:
    try:
        doc = service.export_invoice(_actor(business_id), public_id, pdf_for=service.no_pdf)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit(doc, out)


@export.command("client")
@click.argument("public_id")
@business_option
@out_option
@with_appcontext
def export_client(public_id: str, business_id: str, out: Path | None) -> None:
    try:
        doc = service.export_client(_actor(business_id), public_id)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit(doc, out)


@export.command("payments")
@business_option
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@out_option
@with_appcontext
def export_payments(business_id: str, start: datetime, end: datetime, out: Path | None) -> None:
    try:
        doc = service.export_payments(_actor(business_id), start.date(), end.date())
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit(doc, out)


@envelope.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@business_option
@click.option("--allow-unsigned", is_flag=True, help="Accept an envelope without a signature.")
@click.pass_context
@with_appcontext
def import_command(ctx: click.Context, path: Path, business_id: str, allow_unsigned: bool) -> None:
    """Create what the envelope in PATH holds, in the business, as its owner."""
    try:
        raw = _read(path)
    except click.ClickException as exc:
        click.echo(exc.message, err=True)
        ctx.exit(EXIT_UNREADABLE)
    actor = _actor(business_id)
    try:
        result = service.import_envelope(actor, raw, allow_unsigned=allow_unsigned)
    except service.EnvelopeRefused as refused:
        _print_problems(refused.problems)
        unreadable = any(p.code in UNREADABLE_CODES for p in refused.problems)
        ctx.exit(EXIT_UNREADABLE if unreadable else EXIT_PROBLEMS)
    except ServiceError as exc:
        click.echo(str(exc), err=True)
        ctx.exit(EXIT_PROBLEMS)
    for item in result.items:
        verb = "created" if item.created else "found"
        click.echo(f"{verb} {item.kind} {item.public_id}: {item.label}")
    ctx.exit(EXIT_OK)
