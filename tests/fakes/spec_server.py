"""A fake provider server that checks every request it gets and every answer it gives against the
provider's published OpenAPI description (openapi-core). Anything off is kept in ``problems``;
the fixtures that start a fake fail the test on it.

Subclasses implement ``handle``; the spec is loaded once per process (the Stripe file is 4 MB).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import yaml

# openapi-spec-validator switches to the Rust validator when jsonschema-rs is installed (it comes
# with schemathesis); its ECMA regex engine refuses patterns in PayPal's published spec that
# Python's engine accepts. Validate the providers' specs as before, in Python.
os.environ.setdefault("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")

from openapi_core import Config, OpenAPI
from openapi_core.casting.schemas import (
    oas30_write_schema_casters_factory,
    oas31_schema_casters_factory,
)
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.deserializing.styles import StyleDeserializersFactory, style_deserializers
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.shared_dir import SHARED

SPECS = SHARED / "specs"


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
    casters = (
        oas30_write_schema_casters_factory
        if str(spec.get("openapi", "3.0")).startswith("3.0")
        else oas31_schema_casters_factory
    )
    styles = StyleDeserializersFactory(
        casters, style_deserializers={**style_deserializers, "deepObject": deep_object_loads}
    )
    return OpenAPI.from_dict(spec, config=Config(style_deserializers_factory=styles))


_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def deep_object_loads(explode: bool, name: str, schema_type: str, location: Any) -> Any:
    """``style: deepObject`` nested to any depth, as Stripe's form bodies and queries are written
    (``line_items[0][price_data][currency]=eur``, ``expand[0]=payment_intent``). openapi-core's
    own reading takes one level only and refuses arrays, so such bodies went unchecked."""
    if not explode:
        raise ValueError("deepObject needs explode")
    pairs = location.items(multi=True) if hasattr(location, "getlist") else location.items()
    root: dict[str, Any] = {}
    found = False
    for key, value in pairs:
        if not key.startswith(name + "["):
            continue
        rest = key[len(name) :]
        segments = _BRACKETS.findall(rest)
        if "".join(f"[{segment}]" for segment in segments) != rest:
            raise ValueError(f"malformed key {key!r}")
        found = True
        node = root
        for depth, segment in enumerate(segments):
            part = segment if segment else str(len(node))
            if depth == len(segments) - 1:
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"{key!r} mixes a value and an object")
    if not found:
        raise KeyError(name)
    return _listify(root) if schema_type == "array" else _listify_children(root)


def _listify_children(node: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _listify(value) if isinstance(value, dict) else value for key, value in node.items()
    }


def _listify(node: Any) -> Any:
    """``{"0": a, "1": b}`` is the list ``[a, b]``: the form has no other way to say it."""
    if not isinstance(node, dict):
        return node
    children = _listify_children(node)
    if children and all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children


class _QuietHandler(WSGIRequestHandler):
    """No request line on stderr for every call a test makes."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class SpecServer:
    """A WSGI app on a free port in a thread, validating against one or more OpenAPI specs."""

    specs: tuple[str, ...] = ()
    patch: Callable[[dict[str, Any]], None] | None = None

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.lock = threading.RLock()
        self._apis = [openapi_for(s, type(self).patch) for s in self.specs]
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
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
        if request.path == "/favicon.ico":  # a browser on a hosted page asks; not an API call
            return Response("", 404)(environ, start)
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
        if seen is not error and not getattr(seen, "schema_errors", None):
            into.append(f"  {seen!r}")  # e.g. CastError(value='ten', type='integer')
        seen = seen.__cause__
