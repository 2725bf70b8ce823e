"""Small helpers for answering htmx requests."""

from __future__ import annotations

from flask import Response, make_response, render_template, request
from flask.typing import ResponseReturnValue
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def hx_redirect(location: str) -> Response:
    response = make_response("", 204)
    response.headers["HX-Redirect"] = location
    return response


def render(template: str, block: str | None = None, **context: object) -> ResponseReturnValue:
    """The whole page, or one named block of it when htmx asks and ``block`` is given."""
    if block is not None and is_htmx():
        response = make_response(render_block(template, block, **context))
    else:
        response = make_response(render_template(template, **context))
    response.headers["Vary"] = "HX-Request, HX-Target"
    return response
