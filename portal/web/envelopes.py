"""Blueprint 'envelopes' (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("envelopes", __name__)
