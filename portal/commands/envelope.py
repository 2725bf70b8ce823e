"""``invoice-lite envelope …`` (being built)."""

from __future__ import annotations

import click

envelope = click.Group("envelope", help="ShareEnvelope: check, repair, export and import.")
