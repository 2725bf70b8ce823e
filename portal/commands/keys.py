"""``invoice-lite keys``: the key ring for secrets at rest."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from portal.secrets_at_rest import SecretError, configured_keys, new_key


@click.group("keys")
def keys_group() -> None:
    """Keys that encrypt stored secrets (INVOICE_LITE_SECRET_KEYS, newest first)."""


@keys_group.command("new")
def keys_new() -> None:
    """Print a new key to put first in INVOICE_LITE_SECRET_KEYS."""
    click.echo(new_key())


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Re-encrypt every stored secret with the newest key; then older keys may go."""
    from portal.services.secret_keys import count_secrets, rotate_all

    total = count_secrets()
    try:
        with tqdm(total=total, unit="secret", disable=None) as bar:

            def step(n: int) -> None:
                bar.update(n)

            done = rotate_all(step)
    except SecretError as error:
        raise click.ClickException(f"{error} Nothing was changed.") from error
    click.echo(f"Re-encrypted {done} secret(s) with the newest of {len(configured_keys())} key(s).")
