"""Servers on 127.0.0.1 that speak Slack, Teams and Discord, and check every message against the
provider's own description: the Discord OpenAPI 3.1 spec, the Slack Web API Swagger 2.0 spec,
and for Slack incoming webhooks and Teams (no published spec) the documented shapes in
``schemas/``. Anything off is kept in ``problems``; the fixtures fail the test on it.

Each fake answers from a script: ``fake.answers.append("rate_limited")`` makes the next request
get the provider's rate-limit answer; with the script empty it accepts the message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.shared_dir import SHARED

SPECS = SHARED / "specs"
HERE = Path(__file__).parent
DISCORD_OPERATION = "/paths/~1webhooks~1{webhook_id}~1{webhook_token}/post"


def _errors(validator: Any, instance: Any, what: str) -> list[str]:
    return [
        f"{what}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


# --------------------------------------------------------------------------------- validators


@cache
def _discord() -> tuple[dict[str, Any], Registry]:
    spec = json.loads((SPECS / "discord/openapi.json").read_text())
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return spec, Registry().with_resource("urn:discord", resource)


def discord_validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` in the Discord spec, its refs resolved there."""
    _, registry = _discord()
    return Draft202012Validator({"$ref": f"urn:discord#{pointer}"}, registry=registry)


def _lenient(node: Any) -> Any:
    """Slack's spec lists alternatives in ``items``/``type`` (not Swagger 2.0); read as anyOf."""
    if isinstance(node, list):
        return [_lenient(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _lenient(v) for k, v in node.items()}
    items = out.get("items")
    if isinstance(items, list):
        del out["items"]
        out.setdefault("anyOf", []).extend(items)
    kind = out.get("type")
    if isinstance(kind, list) and any(isinstance(t, dict) for t in kind):
        del out["type"]
        out.setdefault("anyOf", []).extend(t if isinstance(t, dict) else {"type": t} for t in kind)
    return out


@cache
def _slack_spec() -> tuple[dict[str, Any], Registry]:
    spec = _lenient(json.loads((SPECS / "slack/slack_web_openapi_v2.json").read_text()))
    resource = Resource.from_contents(spec, default_specification=DRAFT4)
    return spec, Registry().with_resource("urn:slack", resource)


def slack_operation(path: str) -> dict[str, Any]:
    spec, _ = _slack_spec()
    return dict(spec["paths"][path]["post"])


def slack_response_validator(path: str, status: str) -> Draft4Validator:
    _, registry = _slack_spec()
    pointer = f"/paths/{path.replace('/', '~1')}/post/responses/{status}/schema"
    return Draft4Validator({"$ref": f"urn:slack#{pointer}"}, registry=registry)


def slack_parameter_problems(path: str, token: str | None, params: dict[str, Any]) -> list[str]:
    """Check a Web API call against the Swagger 2.0 operation's parameters.

    The spec describes form fields; Slack documents that the same method takes a JSON body,
    where a ``string`` field holding JSON (``blocks``) may be sent as the JSON value itself.
    The ``token`` header parameter is sent, as Slack recommends, as ``Authorization: Bearer``.
    """
    problems = []
    declared = {p["name"]: p for p in slack_operation(path)["parameters"]}
    if declared["token"].get("required") and not token:
        problems.append("token: missing")
    for name, param in declared.items():
        if param["in"] == "formData" and param.get("required") and name not in params:
            problems.append(f"{name}: required")
    for name, value in params.items():
        param = declared.get(name)
        if param is None or param["in"] != "formData":
            problems.append(f"{name}: not a parameter of {path}")
            continue
        kind = param["type"]
        if kind == "string" and not isinstance(value, str | list | dict):
            problems.append(f"{name}: expected a string, got {value!r}")
        if kind == "boolean" and not (isinstance(value, bool) or value in ("true", "false")):
            problems.append(f"{name}: expected a boolean, got {value!r}")
        if name == "blocks":
            blocks = json.loads(value) if isinstance(value, str) else value
            problems += _errors(
                documented("slack_incoming_webhook"), {"text": "x", "blocks": blocks}, "blocks"
            )
    return problems


@cache
def documented(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((HERE / "schemas" / f"{name}.json").read_text()))


# --------------------------------------------------------------------------------- servers


class FakeServer:
    """A WSGI app on a free port in a thread; subclasses answer ``handle``."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.received: list[Any] = []  # messages accepted
        self.requests: list[Any] = []  # every request body
        self.problems: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.answers.clear()
        self.received.clear()
        self.requests.clear()
        self.problems.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def next_answer(self) -> str:
        return self.answers.pop(0) if self.answers else "ok"

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def _wsgi(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception as error:  # a bug in the fake must fail the test, not hang it
            self.problems.append(f"fake crashed: {error!r}")
            response = Response("fake crashed", 500)
        return response(environ, start)

    def _json_body(self, request: Request) -> Any:
        if request.mimetype != "application/json":
            self.problems.append(f"expected a JSON body, got {request.mimetype!r}")
        body = json.loads(request.get_data() or b"null")
        self.requests.append(body)
        return body


class SlackWebhook(FakeServer):
    """``POST /services/T…/B…/…``: answers as https://api.slack.com/messaging/webhooks#handling_errors."""

    path = "/services/T0000/B0000/XXXXXXXXXXXXXXXX"

    @property
    def url(self) -> str:
        return self.base + self.path

    def handle(self, request: Request) -> Response:
        body = self._json_body(request)
        self.problems += _errors(documented("slack_incoming_webhook"), body, "slack webhook")
        if request.path != self.path:
            return Response("no_service", 404, mimetype="text/plain")
        answer = self.next_answer()
        if answer == "rate_limited":
            return Response("rate_limited", 429, {"Retry-After": "1"}, mimetype="text/plain")
        if answer == "invalid_token":
            return Response("invalid_token", 403, mimetype="text/plain")
        if answer == "no_service":
            return Response("no_service", 404, mimetype="text/plain")
        if answer == "server_error":
            return Response("", 503)
        self.received.append(body)
        return Response("ok", 200, mimetype="text/plain")


class SlackApi(FakeServer):
    """``POST /api/chat.postMessage`` of the Slack Web API, checked against its Swagger spec."""

    token = "xoxb-0000-test-token"
    channel = "C0123ABCD"

    @property
    def api_base(self) -> str:
        return self.base + "/api/"

    def handle(self, request: Request) -> Response:
        if request.path != "/api/chat.postMessage":
            return self._answer(404, {"ok": False, "error": "unknown_method"}, None)
        params = self._json_body(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        self.problems += slack_parameter_problems("/chat.postMessage", token, params)
        answer = self.next_answer()
        if answer == "rate_limited":
            return self._answer(
                429, {"ok": False, "error": "rate_limited"}, "default", {"Retry-After": "1"}
            )
        if token != self.token or answer == "invalid_auth":
            return self._answer(200, {"ok": False, "error": "invalid_auth"}, "default")
        if params.get("channel") != self.channel:
            return self._answer(200, {"ok": False, "error": "channel_not_found"}, "default")
        self.received.append(params)
        ts = f"{1_700_000_000 + len(self.received)}.000100"
        message = {
            "type": "message",
            "text": params.get("text", ""),
            "ts": ts,
            "bot_id": "B0123ABCD",
        }
        return self._answer(
            200, {"ok": True, "channel": self.channel, "ts": ts, "message": message}, "200"
        )

    def _answer(
        self,
        status: int,
        body: dict[str, Any],
        schema: str | None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if schema is not None:
            validator = slack_response_validator("/chat.postMessage", schema)
            self.problems += _errors(validator, body, f"slack answer {status}")
        return Response(json.dumps(body), status, headers or {}, mimetype="application/json")


class TeamsWebhook(FakeServer):
    """A Teams incoming webhook: 200 "1" for a card it takes, 400 for a payload it does not,
    429 when throttled (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#rate-limiting-for-connectors)."""

    path = "/webhookb2/0000@0000/IncomingWebhook/abcdef/0000"

    @property
    def url(self) -> str:
        return self.base + self.path

    def handle(self, request: Request) -> Response:
        body = self._json_body(request)
        problems = _errors(documented("teams_incoming_webhook"), body, "teams webhook")
        self.problems += problems
        answer = self.next_answer()
        if answer == "throttled":
            return Response(
                "Microsoft Teams endpoint returned HTTP error 429", 429, {"Retry-After": "1"}
            )
        if answer == "bad_request" or problems:
            return Response("Bad payload received by generic incoming webhook.", 400)
        self.received.append(body)
        return Response("1", 200, mimetype="text/plain")


class DiscordWebhook(FakeServer):
    """``POST /api/webhooks/{id}/{token}`` (execute webhook), checked both ways against the
    Discord OpenAPI spec: the request body, and every answer against the operation's responses."""

    webhook_id = "112233445566778899"
    webhook_token = "fake-webhook-token"

    @property
    def url(self) -> str:
        return f"{self.base}/api/webhooks/{self.webhook_id}/{self.webhook_token}"

    def handle(self, request: Request) -> Response:
        body = self._json_body(request)
        request_schema = f"{DISCORD_OPERATION}/requestBody/content/application~1json/schema"
        self.problems += _errors(discord_validator(request_schema), body, "discord request")
        if request.args.get("wait") not in (None, "true", "false"):
            self.problems.append("discord request: wait must be a boolean")
        parts = request.path.strip("/").split("/")
        answer = self.next_answer()
        if parts[-1] != self.webhook_token or answer == "invalid_token":
            return self._answer(401, {"message": "Invalid Webhook Token", "code": 50027}, "4XX")
        if answer == "unknown_webhook":
            return self._answer(404, {"message": "Unknown Webhook", "code": 10015}, "4XX")
        if answer == "rate_limited":
            return self._answer(
                429,
                {
                    "message": "You are being rate limited.",
                    "retry_after": 0.5,
                    "global": False,
                    "code": 0,
                },
                "429",
                {"Retry-After": "1"},
            )
        self.received.append(body)
        if request.args.get("wait") != "true":
            return Response(status=204)
        return self._answer(200, self._message(body), "200")

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        embeds = [
            {
                "type": "rich",
                "title": e.get("title"),
                "description": e.get("description"),
                "url": e.get("url"),
                "color": e.get("color"),
                "fields": e.get("fields", []),
            }
            for e in body.get("embeds", [])
        ]
        return {
            "id": str(1_200_000_000_000_000_000 + len(self.received)),
            "type": 0,
            "content": body.get("content", ""),
            "channel_id": "998877665544332211",
            "author": {
                "id": self.webhook_id,
                "username": "Invoice Lite",
                "avatar": None,
                "discriminator": "0000",
                "public_flags": 0,
                "flags": 0,
                "bot": True,
                "global_name": None,
                "primary_guild": None,
            },
            "attachments": [],
            "embeds": [{k: v for k, v in e.items() if v is not None} for e in embeds],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "timestamp": now,
            "edited_timestamp": None,
            "flags": 0,
            "components": [],
            "webhook_id": self.webhook_id,
        }

    def _answer(
        self,
        status: int,
        body: dict[str, Any],
        response: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        pointer = f"{DISCORD_OPERATION}/responses/{response}"
        spec, _ = _discord()
        node: Any = spec
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        if "$ref" in node:  # a shared response object: #/components/responses/...
            pointer = node["$ref"].removeprefix("#")
        schema = f"{pointer}/content/application~1json/schema"
        self.problems += _errors(discord_validator(schema), body, f"discord answer {status}")
        return Response(json.dumps(body), status, headers or {}, mimetype="application/json")
