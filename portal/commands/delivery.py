"""``invoice-lite reminders …`` and ``invoice-lite bounces …`` (being built)."""

from __future__ import annotations

import click

reminders = click.Group("reminders", help="Payment reminders.")
bounces = click.Group("bounces", help="Delivery status notifications that came back.")
