"""``invoice-lite backup`` and ``invoice-lite restore``: the whole instance in one sealed file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def _planned(bar: tqdm) -> Callable[[int], None]:
    def plan(total: int) -> None:
        bar.total = total
        bar.refresh()

    return plan


@click.command("backup")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the archive (default: invoice-lite-<UTC time>.ilbk here).",
)
@click.option("--new-key", is_flag=True, help="Print a new key for the key ring and exit.")
@with_appcontext
def backup_command(output: Path | None, new_key: bool) -> None:
    """Write the database and the stored files to one encrypted archive."""
    from portal.services import backups

    if new_key:
        click.echo(backups.new_key())
        return
    if output is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        output = Path(f"invoice-lite-{stamp}{backups.SUFFIX}")
    try:
        with tqdm(total=0, unit="row", desc="Backing up", disable=None) as bar:
            report = backups.write_backup(
                output,
                current_app.config["BACKUP_KEYS"],
                progress=bar.update,
                planned=_planned(bar),
            )
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"Backed up {report.rows} rows of {report.tables} tables and {report.files} files "
        f"to {report.path} ({_size(report.size)})."
    )


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace everything in a database that holds data.")
@with_appcontext
def restore_command(file: Path, yes: bool) -> None:
    """Check an archive, then bring its database and files back, all or nothing."""
    from portal.services import backups

    try:
        with tqdm(total=0, unit="B", unit_scale=True, desc="Restoring", disable=None) as bar:
            report = backups.restore_backup(
                file,
                current_app.config["BACKUP_KEYS"],
                replace=yes,
                progress=bar.update,
                planned=_planned(bar),
            )
    except backups.BackupError as error:
        raise click.ClickException(f"{error} Nothing was changed.") from error
    click.echo(
        f"Restored {report.rows} rows of {report.tables} tables and {report.files} files "
        f"from the backup of {report.manifest.created_at} "
        f"(Invoice Lite {report.manifest.app_version}, {report.manifest.database})."
    )
