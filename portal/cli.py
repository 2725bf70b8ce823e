"""The ``invoice-lite`` command: Flask's CLI plus our own commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from werkzeug.serving import run_simple


def _create_app() -> Flask:
    from portal import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """Invoice Lite: run the portal, migrate, seed and check."""


def register_commands(app: Flask) -> None:
    from portal.commands.backup import backup_command, restore_command
    from portal.commands.delivery import bounces, reminders
    from portal.commands.envelope import envelope
    from portal.commands.keys import keys_group
    from portal.commands.operations import outbox, scheduler_command
    from portal.einvoice.cli import einvoice

    app.cli.add_command(einvoice)
    app.cli.add_command(envelope)
    app.cli.add_command(keys_group)
    app.cli.add_command(reminders)
    app.cli.add_command(bounces)
    app.cli.add_command(outbox)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(audit_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(rates_group)
    app.cli.add_command(recurring_group)
    app.cli.add_command(late_fees_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


def _seed() -> None:
    from portal.services import demo, demo_history

    with click.progressbar(length=40, label="Seeding the demo business") as bar:
        demo.seed_demo(progress=bar.update)
    actor = demo.demo_owner()
    if not demo_history.history_exists(actor):
        bars: list[Any] = []

        def planned(total: int) -> None:
            bars.append(click.progressbar(length=total, label="Two years of invoices"))
            bars[0].__enter__()

        try:
            demo_history.seed_history(actor, progress=lambda n: bars[0].update(n), planned=planned)
        finally:
            if bars:
                bars[0].__exit__(None, None, None)
    click.echo(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD}):")
    for login in demo.demo_logins():
        click.echo(f"  {login.role.value:<11} {login.email}")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo business (once) and print its logins."""
    _seed()


@click.command("demo")
@click.option("--port", default=5000, show_default=True)
@with_appcontext
def demo_command(port: int) -> None:
    """Upgrade the database, seed the demo and serve on 127.0.0.1."""
    upgrade()
    _seed()
    click.echo(f"\nOpen http://127.0.0.1:{port}/ and log in with one of the accounts above.\n")
    # ``app.run`` refuses to start inside a CLI command; the server it wraps does not.
    run_simple("127.0.0.1", port, current_app._get_current_object(), threaded=True)  # type: ignore[attr-defined]


@click.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Recompute every hash link; exit 1 at the first broken one."""
    from portal.jobs.audit import verify_audit_chains

    result = verify_audit_chains()
    click.echo(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


@click.command("worker")
@click.option("--queue", "queues", multiple=True, help="Queues to serve (default: all).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--no-fork",
    is_flag=True,
    help="Run jobs in the worker's own process instead of a fork per job (faster for the "
    "many short jobs of the email queue; a job that leaks memory then leaks it in the worker).",
)
@with_appcontext
def worker_command(queues: tuple[str, ...], burst: bool, no_fork: bool) -> None:
    """Run an RQ worker on the Redis at REDIS_URL."""
    from portal.jobs import QUEUES, redis_connection
    from portal.jobs.worker import PortalSimpleWorker, PortalWorker

    connection = redis_connection()
    if connection is None:
        raise click.UsageError("REDIS_URL is not set: without Redis, jobs run inline.")
    unknown = set(queues) - set(QUEUES)
    if unknown:
        raise click.UsageError(f"unknown queue(s): {', '.join(sorted(unknown))}")
    # The portal's worker beats its heart and runs RQ's scheduler, which re-queues retries.
    worker_class = PortalSimpleWorker if no_fork else PortalWorker
    worker_class(list(queues or QUEUES), connection=connection).work(burst=burst)


@click.group("rates")
def rates_group() -> None:
    """Exchange rates."""


@rates_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def rates_import(path: str) -> None:
    """Import an ECB CSV (Date,USD,JPY,…; units per euro); replaces rates of the same day."""
    from pathlib import Path

    from portal.services.errors import InvalidInput
    from portal.services.rates import import_ecb_csv, parse_ecb_csv

    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        total = len(parse_ecb_csv(text))
        with click.progressbar(length=total, label="Importing rates") as bar:
            report = import_ecb_csv(text, progress=bar.update)
    except InvalidInput as error:
        raise click.ClickException(" ".join(error.errors.values())) from error
    click.echo(
        f"Imported {report.rates} rates for {len(report.currencies)} currencies "
        f"over {report.days} days."
    )


TODAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group("recurring")
def recurring_group() -> None:
    """Recurring invoices."""


@recurring_group.command("run")
@click.option("--today", type=TODAY, help="Run as of this date (default: each business's today).")
@with_appcontext
def recurring_run(today: Any) -> None:
    """Make the invoices every active schedule owes; running it again makes none twice."""
    from portal.services.recurring import run_due_schedules

    made = run_due_schedules(today=today.date() if today else None)
    click.echo(f"Made {len(made)} invoice(s) from recurring schedules.")


@click.group("late-fees")
def late_fees_group() -> None:
    """Late fees on overdue invoices."""


@late_fees_group.command("apply")
@click.option("--today", type=TODAY, help="Apply as of this date (default: each business's today).")
@with_appcontext
def late_fees_apply(today: Any) -> None:
    """Charge the late fees each business's rule calls for; never twice for one period."""
    from portal.services.late_fees import apply_late_fees

    made = apply_late_fees(today=today.date() if today else None)
    click.echo(f"Made {len(made)} late-fee invoice(s).")


if __name__ == "__main__":
    main()
