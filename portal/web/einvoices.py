"""Blueprint 'einvoices' (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("einvoices", __name__, url_prefix="/app/einvoices")
