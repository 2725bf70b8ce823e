"""Blueprint 'pdfs' (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pdfs", __name__, url_prefix="/app")
