"""Blueprint 'client_portal' (being built): what a business's clients see, at /pay/…"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("client_portal", __name__, url_prefix="/pay")
