"""The REST API at ``/api/v1``: flask-smorest wiring, authentication before each call, the
hooks, idempotency, RFC 9457 errors on the API blueprints alone, the OpenAPI document and its
docs page.

The HTML pages keep their own error pages: flask-smorest's app-wide JSON error handler is not
registered, and every handler here is registered on the API blueprints only.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Blueprint, Flask, Response, current_app, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import BaseConverter

import portal.api.auth  # noqa: F401  (registers the authenticators)
from portal.api import hooks, idempotency, principal
from portal.api.problems import problem
from portal.api.resources import BLUEPRINTS
from portal.api.schemas.common import PUBLIC_ID, DecimalString, ProblemSchema
from portal.billing.errors import BillingError
from portal.extensions import csrf, db
from portal.services.errors import Forbidden, InvalidInput, NotFound, ServiceError

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
VERSION = "1.0.0"
PUBLIC_ENDPOINTS = {"api.openapi", "api.docs", "api.docs_script"}
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

bp = Blueprint("api", __name__, url_prefix=PREFIX)


class InvoiceLiteApi(Api):
    """flask-smorest without its app-wide error handler (the HTML pages keep theirs)."""

    DEFAULT_ERROR_RESPONSE_NAME = None
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        return None


# ------------------------------------------------------------------------------ problems


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """webargs' nested messages as ``field`` / ``lines/0/quantity`` -> first message."""
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return {prefix or "body": "; ".join(messages)}
        out: dict[str, str] = {}
        for item in messages:
            out.update(_flatten(item, prefix))
        return out
    if isinstance(messages, dict):
        out = {}
        for name, inner in messages.items():
            key = f"{prefix}/{name}" if prefix else str(name)
            out.update(_flatten(inner, key))
        return out
    return {prefix or "body": str(messages)}


def _http_problem(error: HTTPException) -> Response:
    code = error.code or 500
    if code >= 500:
        db.session.rollback()
        return problem(500, TITLES[500], "Something went wrong on our side; nothing was saved.")
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if code == 422 or messages:
        errors: dict[str, str] = {}
        for _location, fields in (messages or {}).items():
            errors.update(_flatten(fields))
        return problem(
            422 if code == 400 and messages and "json" not in str(messages) else code,
            TITLES.get(code, "Invalid input"),
            "Some fields are not valid." if code == 422 else (error.description or ""),
            kind="validation",
            errors=errors or None,
        )
    headers: dict[str, str] = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem(
        code,
        TITLES.get(code, error.name),
        error.description or "",
        headers=headers,
    )


def unauthorized(detail: str, code: str = "invalid_credentials") -> Response:
    return problem(
        401,
        TITLES[401],
        detail,
        kind="unauthorized",
        headers={"WWW-Authenticate": f'Bearer realm="invoice-lite", error="{code}"'},
    )


def _register_errors(blueprint: Blueprint) -> None:
    def on_unauthorized(error: principal.Unauthorized) -> Response:
        return unauthorized(error.detail, error.code)

    def on_scope(error: principal.InsufficientScope) -> Response:
        return problem(
            403,
            TITLES[403],
            str(error),
            kind="insufficient-scope",
            headers={
                "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{error.scope}"'
            },
        )

    def on_forbidden(error: Forbidden) -> Response:
        db.session.rollback()
        return problem(403, TITLES[403], str(error), kind="forbidden")

    def on_not_found(error: NotFound) -> Response:
        db.session.rollback()
        return problem(404, TITLES[404], str(error) or "No such thing.", kind="not-found")

    def on_invalid(error: InvalidInput) -> Response:
        db.session.rollback()
        return problem(
            422, TITLES[422], "Some fields are not valid.", kind="validation", errors=error.errors
        )

    def on_service_error(error: ServiceError) -> Response:
        db.session.rollback()
        return problem(422, TITLES[422], str(error), kind="refused")

    def on_billing_error(error: BillingError) -> Response:
        db.session.rollback()
        return problem(422, TITLES[422], str(error), kind="validation")

    def on_validation(error: ma.ValidationError) -> Response:
        db.session.rollback()
        return problem(
            422,
            TITLES[422],
            "Some fields are not valid.",
            kind="validation",
            errors=_flatten(error.messages),
        )

    def on_http(error: HTTPException) -> Response:
        return _http_problem(error)

    def on_crash(error: Exception) -> Response:
        db.session.rollback()
        return problem(500, TITLES[500], "Something went wrong on our side; nothing was saved.")

    blueprint.register_error_handler(principal.Unauthorized, on_unauthorized)
    blueprint.register_error_handler(principal.InsufficientScope, on_scope)
    blueprint.register_error_handler(Forbidden, on_forbidden)
    blueprint.register_error_handler(NotFound, on_not_found)
    blueprint.register_error_handler(InvalidInput, on_invalid)
    blueprint.register_error_handler(ServiceError, on_service_error)
    blueprint.register_error_handler(BillingError, on_billing_error)
    blueprint.register_error_handler(ma.ValidationError, on_validation)
    blueprint.register_error_handler(HTTPException, on_http)
    # The app's HTML pages answer these codes by number: the blueprint's own must win.
    for code in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429):
        blueprint.register_error_handler(code, on_http)
    blueprint.register_error_handler(500, on_crash)


# ------------------------------------------------------------------------ every call


def _before() -> ResponseReturnValue | None:
    g.api_principal = None
    g.idempotency_record = None
    try:
        g.api_principal = principal.authenticate(request)
    except principal.Unauthorized as refused:
        # Refused calls count against the address's limit too: guessing keys stays slow.
        return _run_before_hooks() or unauthorized(refused.detail, refused.code)
    if g.api_principal is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return _run_before_hooks() or unauthorized(
            "Send an API key or an OAuth access token.", "missing_credentials"
        )
    answer = _run_before_hooks()
    if answer is not None:
        return answer
    if (
        request.method == "POST"
        and g.api_principal is not None
        and idempotency.HEADER in request.headers
    ):
        started = idempotency.begin(g.api_principal, request)
        if isinstance(started, Response):
            return started
        g.idempotency_record = started
    return None


def _run_before_hooks() -> Response | None:
    for hook in hooks.BEFORE:
        answer = hook()
        if answer is not None:
            return answer
    return None


def _after(response: Response) -> Response:
    record = g.get("idempotency_record")
    if record is not None:
        g.idempotency_record = None
        idempotency.finish(record, response)
    for hook in hooks.AFTER:
        response = hook(response)
    return response


# -------------------------------------------------------------- document, docs, fallback


def _operations(app: Flask) -> dict[tuple[str, str], Callable[..., Any]]:
    """(OpenAPI path, method) -> view, to read each view's scope."""
    found: dict[tuple[str, str], Callable[..., Any]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in rule.methods or ():
            found[(path, method.lower())] = view
    return found


def build_document(app: Flask, api: InvoiceLiteApi) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(api.spec.to_dict())
    spec["servers"] = [{"url": "/", "description": "This server"}]
    components = spec.setdefault("components", {})
    components["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`il_…`) made in Settings → API keys.",
        },
        "oauth2": {
            "type": "oauth2",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/oauth/authorize",
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": {name: text for name, (text, _) in principal.SCOPES.items()},
                },
                "clientCredentials": {
                    "tokenUrl": "/oauth/token",
                    "scopes": {name: text for name, (text, _) in principal.SCOPES.items()},
                },
            },
        },
    }
    components.setdefault("schemas", {})["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }
    components.setdefault("responses", {})["Problem"] = {
        "description": "An RFC 9457 problem: what went wrong, with field errors for bad input.",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    components["responses"].pop("UNPROCESSABLE_CONTENT", None)
    components["responses"].pop("UNPROCESSABLE_ENTITY", None)
    components["responses"].pop("DEFAULT_ERROR", None)
    components["schemas"].pop("Error", None)
    views = _operations(app)
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in [s for s in responses if not str(s).startswith("2")]:
                del responses[status]
            responses["default"] = {"$ref": "#/components/responses/Problem"}
            view = views.get((path, method))
            scope = getattr(view, "required_scope", None)
            if scope:
                operation["security"] = [{"apiKey": [scope]}, {"oauth2": [scope]}]
                note = f"Needs the `{scope}` scope."
                operation["description"] = (
                    operation.get("description", "") + "\n\n" + note
                ).strip()
            if method == "post":
                params = operation.setdefault("parameters", [])
                params.append(
                    {
                        "name": idempotency.HEADER,
                        "in": "header",
                        "required": False,
                        "description": "Makes retrying this call safe: the same key and body "
                        "answer as the first call did, for 24 hours.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    }
                )
    spec["security"] = [{"apiKey": []}, {"oauth2": []}]
    return spec


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    document = current_app.extensions["invoice-lite-openapi"]
    if document is None:
        api = current_app.extensions["invoice-lite-api"]
        document = build_document(current_app._get_current_object(), api)  # type: ignore[attr-defined]
        current_app.extensions["invoice-lite-openapi"] = document
    return jsonify(document)


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    return render_template("api/docs.html")


@bp.get("/docs.js")
def docs_script() -> ResponseReturnValue:
    body = render_template("api/docs.js")
    return Response(body, mimetype="text/javascript")


@bp.route("/<path:rest>", methods=list(METHODS))
def fallback(rest: str) -> ResponseReturnValue:
    """Anything else under the prefix: a 405 where the path exists, else a 404, as problems."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "api.fallback":
            allowed.append(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise RouteNotFound()


# ---------------------------------------------------------------------------- wiring


class PublicIdConverter(BaseConverter):
    """A public id in a path; anything else never reaches the database (a 404 problem)."""

    regex = "[0-9A-Za-z]{1,40}"


# Blueprints are module-level: their hooks are set once, whatever number of apps is made.
for _blueprint in (*BLUEPRINTS, bp):
    _blueprint.before_request(_before)
    _blueprint.after_request(_after)
    _register_errors(_blueprint)


def init_api(app: Flask) -> InvoiceLiteApi:
    api = InvoiceLiteApi(
        spec_kwargs={
            "title": "Invoice Lite API",
            "version": VERSION,
            "openapi_version": "3.1.0",
            "info": {
                "description": "Clients, catalogue, invoices, quotes, credit notes, payments, "
                "recurring schedules, envelopes and reports of one business. Amounts are integer "
                "minor units with their currency and a display string; errors are RFC 9457 "
                "problems."
            },
        }
    )
    app.url_map.converters["pid"] = PublicIdConverter
    api.init_app(app)
    api.ma_plugin.map_to_openapi_type(DecimalString, "string", "decimal")
    api.register_converter(PublicIdConverter, lambda _c: {"type": "string", "pattern": PUBLIC_ID})
    for blueprint in (*BLUEPRINTS, bp):
        csrf.exempt(blueprint)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(bp)
    app.extensions["invoice-lite-api"] = api
    app.extensions["invoice-lite-openapi"] = None
    return api
