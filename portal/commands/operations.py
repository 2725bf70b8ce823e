"""``invoice-lite scheduler`` and ``invoice-lite outbox …``: the operator's levers."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

outbox = click.Group("outbox", help="Outside work waiting to be done.")


@outbox.command("dispatch")
@with_appcontext
def outbox_dispatch() -> None:
    """Hand every pending message to its queue (what the scheduler does each minute)."""
    from portal.services.outbox import dispatch_pending

    click.echo(f"Dispatched {dispatch_pending()} pending message(s).")


@outbox.command("retry")
@click.argument("public_id")
@with_appcontext
def outbox_retry(public_id: str) -> None:
    """Try a failed message again, by the id the Jobs page shows."""
    from portal.services import operations
    from portal.services.errors import NotFound

    try:
        message = operations.get_message(public_id)
    except NotFound as error:
        raise click.ClickException(str(error)) from error
    if message.status != "failed":
        raise click.ClickException(f"Message {public_id} is {message.status}, not failed.")
    message = operations.retry_message(message)
    click.echo(f"Message {public_id} is now {message.status}.")


@click.command("scheduler")
@click.option("--list", "list_only", is_flag=True, help="Print the periodic tasks and exit.")
@with_appcontext
def scheduler_command(list_only: bool) -> None:
    """Run RQ's cron scheduler with the periodic tasks (needs REDIS_URL and a worker)."""
    from portal.jobs import redis_connection
    from portal.jobs.schedule import build_scheduler

    connection = redis_connection()
    if connection is None:
        raise click.UsageError("REDIS_URL is not set: the scheduler needs Redis.")
    scheduler = build_scheduler(connection)
    for job in scheduler.get_jobs():
        when = f"every {job.interval:>6}s" if job.cron is None else f"cron {job.cron}"
        click.echo(f"{job.name:<20} {when} on {job.queue_name}: {job.func_name}")
    if not list_only:
        scheduler.start()
