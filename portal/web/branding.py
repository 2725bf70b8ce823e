"""Blueprint 'branding' (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("branding", __name__, url_prefix="/app/settings/branding")
