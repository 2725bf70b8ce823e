"""``invoice-lite reminders …`` and ``invoice-lite bounces …``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext

reminders = click.Group("reminders", help="Payment reminders.")
bounces = click.Group("bounces", help="Delivery status notifications that came back.")


@reminders.command("run")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Act as if today were this date (YYYY-MM-DD); each business's own date by default.",
)
@with_appcontext
def run_reminders(today: object) -> None:
    """Send every reminder due; safe to run more than once a day."""
    from portal.jobs import delivery as _handlers  # noqa: F401  (registers the outbox handler)
    from portal.services.reminders import send_due_reminders

    on: date | None = today.date() if today is not None else None  # type: ignore[attr-defined]
    keys = send_due_reminders(on)
    click.echo(f"{len(keys)} reminder(s) queued.")


@bounces.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def import_bounces(path: Path) -> None:
    """Read DSNs from an .eml file, a folder of .eml files or a Maildir."""
    from portal.services.delivery import import_bounces as run_import

    result = run_import(path)
    click.echo(
        f"{result.messages} message(s) read, {result.reports} delivery report(s), "
        f"{result.bounced} delivery(ies) marked bounced."
    )
