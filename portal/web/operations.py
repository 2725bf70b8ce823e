"""Blueprint 'operations' (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("operations", __name__)
