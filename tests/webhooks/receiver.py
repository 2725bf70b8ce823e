"""A webhook receiver on 127.0.0.1 that checks every delivery with the ``standardwebhooks``
library, as a customer's server would, and answers from a script.

``receiver.answers.append("error")`` makes the next request get a 500; ``"hang"`` holds the answer
until the test ends (the sender's timeout fires first); ``"gone"`` is a 410; ``"redirect:<url>"``
a 302 to that URL. With the script empty it answers 200.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str
    payload: Any
    verified_by: tuple[str, ...]  # the secrets whose signature verified
    answer: str


class Receiver:
    def __init__(self) -> None:
        self.answers: list[str] = []
        self.secrets: list[str] = []
        self.received: list[Received] = []
        self.problems: list[str] = []
        self._arrived = threading.Condition()
        self._release = threading.Event()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self._release.set()  # let a held answer go before the next test
        self._release = threading.Event()
        self.answers.clear()
        self.secrets.clear()
        self.received.clear()
        self.problems.clear()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._thread.join(timeout=5)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Block until ``count`` requests have arrived (or fail the test)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} of {count} webhooks arrived")
        return list(self.received)

    def _verify(self, body: str, headers: dict[str, str]) -> tuple[str, ...]:
        ok = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError as error:
                self.problems.append(f"signature of secret {secret[:10]}… refused: {error}")
            else:
                ok.append(secret)
        if not self.secrets:
            self.problems.append("the receiver was given no secret to verify with")
        return tuple(ok)

    def _handle(self, request: Request) -> tuple[Response, str, Received | None]:
        body = request.get_data(as_text=True)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if request.method != "POST" or request.mimetype != "application/json":
            self.problems.append(f"expected a JSON POST, got {request.method} {request.mimetype}")
        answer = self.answers.pop(0) if self.answers else "ok"
        record = Received(headers, body, json.loads(body), self._verify(body, headers), answer)
        if answer == "hang":
            self._release.wait(30)
            return Response("too late", 200), answer, record
        if answer == "error":
            return Response("boom", 500), answer, record
        if answer == "gone":
            return Response("gone", 410), answer, record
        if answer.startswith("redirect:"):
            return Response("", 302, {"Location": answer.removeprefix("redirect:")}), answer, record
        return Response('{"ok":true}', 200, mimetype="application/json"), answer, record

    def _wsgi(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response, _, record = self._handle(request)
        except Exception as error:  # a bug in the fake must fail the test, not hang it
            self.problems.append(f"receiver crashed: {error!r}")
            response, record = Response("receiver crashed", 500), None
        if record is not None:
            with self._arrived:
                self.received.append(record)
                self._arrived.notify_all()
        return response(environ, start)
