"""An app of these tests' own, with a small probe API that follows the API's contract: the
authenticators run, then the ``hooks.BEFORE`` functions, the view, and the ``hooks.AFTER`` ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, g, jsonify, request
from flask_migrate import upgrade

import portal.api.auth  # noqa: F401  (registers the authenticators and hooks)
from portal import create_app
from portal.api import hooks
from portal.api.principal import (
    InsufficientScope,
    Unauthorized,
    authenticate,
    current,
    require_scope,
)
from portal.api.problems import problem
from portal.extensions import csrf
from portal.extensions import db as _db
from tests.conftest import RAISED_API_LIMITS, CsrfClient, app_config
from tests.e2e.conftest import live_server  # noqa: F401  (serves this directory's app)

probe = Blueprint("api_probe", __name__, url_prefix="/api/v1/probe")
csrf.exempt(probe)


@probe.before_request
def before() -> Response | None:
    g.api_principal = None
    try:
        g.api_principal = authenticate(request)
    except Unauthorized as refused:
        return problem(401, "Unauthorized", refused.detail, kind=refused.code)
    if g.api_principal is None:  # as the API does for every call but its documents
        return problem(401, "Unauthorized", "Send an API key.", kind="missing_credentials")
    for hook in hooks.BEFORE:
        answer = hook()
        if answer is not None:
            return answer
    return None


@probe.after_request
def after(response: Response) -> Response:
    for hook in hooks.AFTER:
        response = hook(response)
    return response


@probe.errorhandler(Unauthorized)
def unauthorized(error: Unauthorized) -> Response:
    return problem(401, "Unauthorized", error.detail, kind=error.code)


@probe.errorhandler(InsufficientScope)
def insufficient(error: InsufficientScope) -> Response:
    return problem(403, "Forbidden", str(error), kind="insufficient-scope")


@probe.route("/whoami", methods=["GET", "POST", "PUT"])
@require_scope("clients:read")
def whoami() -> Any:
    who = current()
    return jsonify(
        business=who.business.public_id,
        user=who.user.email,
        role=who.role.value,
        scopes=sorted(who.scopes),
        credential=who.credential,
    )


@probe.get("/clients/write")
@require_scope("clients:write")
def write_clients() -> Any:
    return jsonify(ok=True)


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(Path(instance))
    app = create_app({**app_config(database_url), **RAISED_API_LIMITS})
    app.register_blueprint(probe)
    app.test_client_class = CsrfClient
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()
