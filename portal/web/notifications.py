"""Blueprint 'notifications' (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__)
