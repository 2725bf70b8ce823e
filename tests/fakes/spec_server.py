"""A fake provider server that checks every request it gets and every answer it gives against the
provider's published OpenAPI description (openapi-core). Anything off is kept in ``problems``;
the fixtures that start a fake fail the test on it.

Subclasses implement ``handle``; the spec is loaded once per process (the Stripe file is 4 MB).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"


def load_spec(relative: str) -> dict[str, Any]:
    path = SPECS / relative
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        return dict(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    return dict(json.loads(text))


@cache
def openapi_for(relative: str, patch: Callable[[dict[str, Any]], None] | None = None) -> OpenAPI:
    """The spec at ``shared/specs/<relative>`` with its servers replaced by a relative root, so
    that a fake on any port matches. ``patch`` fixes known upstream faults in memory."""
    spec = load_spec(relative)
    spec["servers"] = [{"url": "/"}]
    if patch is not None:
        patch(spec)
    return OpenAPI.from_dict(spec)


class SpecServer:
    """A WSGI app on a free port in a thread, validating against one or more OpenAPI specs."""

    specs: tuple[str, ...] = ()
    patch: Callable[[dict[str, Any]], None] | None = None

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.lock = threading.RLock()
        self._apis = [openapi_for(s, type(self).patch) for s in self.specs]
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def unvalidated(self, request: Request) -> bool:
        """Paths the spec does not describe (the hosted checkout page, a token endpoint):
        the subclass checks those itself."""
        return False

    def _api_for(self, request: WerkzeugOpenAPIRequest) -> OpenAPI | None:
        for api in self._apis:
            try:
                api.validate_request(request)
            except Exception as error:
                if (
                    "PathNotFound" in type(error).__name__
                    or "OperationNotFound" in type(error).__name__
                ):
                    continue
                self.problems.append(f"{request.method.upper()} {request.path}: {error!r}")
                _details(error, self.problems)
                return api
            return api
        self.problems.append(f"{request.method.upper()} {request.path}: in no spec")
        return None

    def _wsgi(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        with self.lock:
            self.requests.append((request.method, request.path))
        try:
            if self.unvalidated(request):
                response = self.handle(request)
            else:
                openapi_request = WerkzeugOpenAPIRequest(request)
                api = self._api_for(openapi_request)
                response = self.handle(request)
                if api is not None:
                    try:
                        api.validate_response(openapi_request, WerkzeugOpenAPIResponse(response))
                    except Exception as error:
                        self.problems.append(
                            f"answer to {request.method} {request.path}: {error!r}"
                        )
                        _details(error, self.problems)
        except Exception as error:  # a bug in the fake must fail the test, not hang it
            self.problems.append(f"fake crashed: {error!r}")
            response = Response("fake crashed", 500)
        return response(environ, start)


def _details(error: BaseException, into: list[str]) -> None:
    """openapi-core hides the schema errors in ``__cause__.schema_errors``."""
    seen: BaseException | None = error
    while seen is not None:
        for schema_error in getattr(seen, "schema_errors", ()) or ():
            path = "/".join(map(str, getattr(schema_error, "absolute_path", ())))
            into.append(f"  {path or '(root)'}: {getattr(schema_error, 'message', schema_error)}")
        seen = seen.__cause__
