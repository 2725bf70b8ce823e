"""Blueprint 'delivery' (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("delivery", __name__)
