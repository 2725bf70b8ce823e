"""``invoice-lite scheduler`` and ``invoice-lite outbox …`` (being built)."""

from __future__ import annotations

import click

outbox = click.Group("outbox", help="Outside work waiting to be done.")
