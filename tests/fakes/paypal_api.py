"""A stateful fake of PayPal's REST API: OAuth tokens, Orders v2, Payments v2 (captures, refunds),
webhook delivery and verify-webhook-signature, disputes driven by the test, and the hosted page
where the payer approves an order.

Every request and answer on a path of the published specs is validated by ``SpecServer``; the
token endpoint and the approval page, which are in no spec, are checked here by hand against
PayPal's documentation. Webhook bodies are validated against the notifications spec's ``event``
schema and their resource against the Payments spec's capture or refund schema.

    with FakePayPal() as fake:
        gateway = PayPalGateway(GatewayConfig("paypal", fake.base, fake.credentials))
"""

from __future__ import annotations

import base64
import html
import json
import logging
import queue
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from babel.numbers import get_currency_precision
from openapi_schema_validator import OAS30ReadValidator
from werkzeug.wrappers import Request, Response

from tests.fakes.spec_server import SpecServer, load_spec

ORDERS = "paypal/checkout_orders_v2.json"
PAYMENTS = "paypal/payments_payment_v2.json"
NOTIFICATIONS = "paypal/notifications_webhooks_v1.json"

# PayPal's currency table: no decimals for these, although ISO 4217 gives them two.
WHOLE_UNITS_ONLY = ("HUF", "TWD")
FEE_RATE = Decimal("0.0349")
FEE_FIXED_MINOR = 49
# The approval page sends the payer back with PayerID=FAKEPAYER; in API bodies the spec wants
# thirteen characters of PayPal's id alphabet.
PAYER_ID = "FAKEPAYER"
PAYER_ACCOUNT_ID = "FAKEPAYER2345"
MERCHANT_ID = "FAKEMERCHANT2"

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _fit_specs_for_validation(spec: dict[str, Any]) -> None:
    """Two in-memory changes, the same for all three specs:

    - The security requirements go: openapi-core has no provider for ``oauth2`` schemes and warns
      "Unsupported scheme type" on every request, which the test suite turns into an error. The
      fake checks the Bearer token itself (``_authorized``).
    - Orders and Payments describe their ``default`` error answer as one of the errors they list,
      none of which is the documented 429 ``RATE_LIMIT_REACHED``; it is added to that list.
    - The notifications spec marks every property of ``event`` read-only, yet the documented
      verify-webhook-signature request carries the event exactly as received (the spec's own
      example does): as written, no valid request could pass a validator that honours readOnly.
    """
    spec.pop("security", None)
    _add_rate_limit_error(spec)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    schemas = spec.get("components", {}).get("schemas", {})
    if "verify_webhook_signature" not in schemas:
        return
    for name in ("event", "link_description"):
        for prop in schemas[name].get("properties", {}).values():
            prop.pop("readOnly", None)
            if isinstance(prop.get("items"), dict):
                prop["items"].pop("readOnly", None)


def _add_rate_limit_error(spec: dict[str, Any]) -> None:
    schemas = spec.get("components", {}).get("schemas", {})
    if "error_default" not in schemas:
        return
    schemas["error_429"] = {
        "type": "object",
        "title": "Too Many Requests Error",
        "properties": {
            "name": {"type": "string", "enum": ["RATE_LIMIT_REACHED"]},
            "message": {"type": "string"},
            "debug_id": {"type": "string"},
            "details": {"type": "array", "items": {"$ref": "#/components/schemas/error_details"}},
            "links": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/error_link_description"},
            },
        },
    }
    schemas["error_default"]["oneOf"].append({"$ref": "#/components/schemas/error_429"})


@cache
def _issue_description(spec_file: str, schema: str, issue: str) -> str:
    """PayPal's fixed wording for an error issue, as the spec lists it for that operation."""
    details = load_spec(spec_file)["components"]["schemas"][schema]["properties"]["details"]
    for option in details["items"]["anyOf"]:
        if option.get("title") == issue:
            enum = option["properties"]["description"].get("enum")
            return str(enum[0]) if enum else issue.replace("_", " ").capitalize()
    raise KeyError(f"{issue} not in {spec_file} {schema}")


@cache
def _validator(spec_file: str, schema: str) -> OAS30ReadValidator:
    spec = load_spec(spec_file)
    root = {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
    return OAS30ReadValidator(root)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _paypal_id(length: int = 17) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


def _money(minor: int, currency: str) -> dict[str, str]:
    digits = _exponent(currency)
    return {"currency_code": currency, "value": f"{Decimal(minor).scaleb(-digits):.{digits}f}"}


def _minor(money: dict[str, Any]) -> int:
    return int(Decimal(money["value"]).scaleb(_exponent(money["currency_code"])))


def _debug_id() -> str:
    return secrets.token_hex(7)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def _signature() -> str:
    """Real signatures are RSA over ``id|time|webhook_id|crc32(body)``; the fake keeps what it
    sent and compares. The spec's pattern wants a word character first."""
    while True:
        sig = base64.b64encode(secrets.token_bytes(256)).decode()
        if sig[0].isalnum():
            return sig


class FakePayPal(SpecServer):
    specs = (ORDERS, PAYMENTS, NOTIFICATIONS)
    patch = _fit_specs_for_validation

    def __init__(
        self,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        webhook_id: str = "1JE4291016473214C",
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_id = webhook_id
        self.webhook_url: str | None = None
        self.token_ttl = 32400
        # Scripted outcomes, consumed in order: "rate_limited" / "server_error" by the next API
        # call (the token endpoint included); "capture_pending" / "capture_declined" by the
        # next capture.
        self.answers: list[str] = []
        self.token_requests = 0
        self.tokens: dict[str, float] = {}  # access token -> monotonic expiry
        self.orders: dict[str, dict[str, Any]] = {}
        self.captures: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.capture_requests: list[str] = []  # order ids of every capture that did capture
        self.request_ids: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.sent_events: list[tuple[dict[str, str], bytes]] = []
        self._transmissions: dict[str, tuple[dict[str, str], bytes]] = {}
        self.deliveries: list[tuple[str, int | str]] = []  # (transmission id, status or error)
        self._outbox: queue.Queue[tuple[dict[str, str], bytes] | None] = queue.Queue()
        self._delivered = threading.Condition()
        self._pending = 0
        self._courier = threading.Thread(target=self._deliver_forever, daemon=True)
        self._courier.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakePayPal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._outbox.put(None)
        self._courier.join(timeout=5)
        self.stop()

    @property
    def credentials(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "webhook_id": self.webhook_id,
        }

    # -- routing -----------------------------------------------------------------------------

    def unvalidated(self, request: Request) -> bool:
        return request.path in ("/v1/oauth2/token", "/checkoutnow")

    def handle(self, request: Request) -> Response:
        with self.lock:
            if request.path == "/checkoutnow":
                return self._approval_page(request)
            scripted = self._scripted_failure()
            if scripted is not None:
                return scripted
            if request.path == "/v1/oauth2/token":
                return self._token(request)
            if not self._authorized(request):
                return self._error(
                    401,
                    "AUTHENTICATION_FAILURE",
                    "Authentication failed due to missing authorization header, or invalid"
                    " authentication credentials.",
                )
            for method, pattern, action in self._routes():
                match = re.fullmatch(pattern, request.path)
                if match and request.method == method:
                    return action(request, *match.groups())
            return self._not_found()

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        return [
            ("POST", r"/v2/checkout/orders", self._create_order),
            ("GET", r"/v2/checkout/orders/([^/]+)", self._get_order),
            ("POST", r"/v2/checkout/orders/([^/]+)/capture", self._capture_order),
            ("GET", r"/v2/payments/captures/([^/]+)", self._get_capture),
            ("POST", r"/v2/payments/captures/([^/]+)/refund", self._refund_capture),
            ("GET", r"/v2/payments/refunds/([^/]+)", self._get_refund),
            ("POST", r"/v1/notifications/verify-webhook-signature", self._verify_signature),
        ]

    def _scripted_failure(self) -> Response | None:
        if not self.answers or self.answers[0] not in ("rate_limited", "server_error"):
            return None
        answer = self.answers.pop(0)
        if answer == "rate_limited":
            return self._error(
                429, "RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."
            )
        return self._error(500, "INTERNAL_SERVER_ERROR", "An internal server error occurred.")

    # -- errors ------------------------------------------------------------------------------

    def _error(
        self,
        status: int,
        name: str,
        message: str,
        details: list[dict[str, str]] | None = None,
    ) -> Response:
        body: dict[str, Any] = {"name": name, "message": message, "debug_id": _debug_id()}
        if details:
            body["details"] = details
        body["links"] = [
            {
                "href": f"https://developer.paypal.com/docs/api/overview/#error-{name}",
                "rel": "information_link",
            }
        ]
        return _json(body, status)

    def _not_found(self, spec_file: str = ORDERS) -> Response:
        issue = "INVALID_RESOURCE_ID"
        return self._error(
            404,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
            [{"issue": issue, "description": _issue_description(spec_file, "404", issue)}],
        )

    def _unprocessable(self, spec_file: str, schema: str, issue: str) -> Response:
        return self._error(
            422,
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed"
            " business validation.",
            [{"issue": issue, "description": _issue_description(spec_file, schema, issue)}],
        )

    # -- OAuth 2.0 client credentials (documented, in no spec) ---------------------------------

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        if request.method != "POST":
            self.problems.append(f"token endpoint called with {request.method}")
            return Response("", 405)
        if request.mimetype != "application/x-www-form-urlencoded":
            self.problems.append(f"token request sent as {request.mimetype!r}, not a form")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _json(
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
                401,
            )
        grant = request.form.get("grant_type")
        if grant != "client_credentials":
            self.problems.append(f"token request with grant_type={grant!r}")
            return _json(
                {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"},
                400,
            )
        token = "A21AA" + secrets.token_urlsafe(48)
        self.tokens[token] = time.monotonic() + self.token_ttl
        return _json(
            {
                "scope": "https://uri.paypal.com/services/payments/payment "
                "https://uri.paypal.com/services/applications/webhooks",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.token_ttl,
                "nonce": f"{_now()}{secrets.token_urlsafe(16)}",
            }
        )

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        expiry = self.tokens.get(header.removeprefix("Bearer "))
        return expiry is not None and expiry > time.monotonic()

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # -- idempotency -------------------------------------------------------------------------

    def _replay(self, request: Request, operation: str) -> Response | None:
        key = request.headers.get("PayPal-Request-Id")
        if key and (operation, key) in self.request_ids:
            status, body = self.request_ids[(operation, key)]
            return _json(body, status)
        return None

    def _remember(
        self, request: Request, operation: str, status: int, body: dict[str, Any]
    ) -> Response:
        key = request.headers.get("PayPal-Request-Id")
        if key:
            self.request_ids[(operation, key)] = (status, body)
        return _json(body, status)

    # -- Orders v2 ---------------------------------------------------------------------------

    def _create_order(self, request: Request) -> Response:
        replay = self._replay(request, "orders.create")
        if replay is not None:
            return replay
        payload = request.get_json(silent=True) or {}
        unit = payload["purchase_units"][0]
        amount = unit["amount"]
        digits = (
            0 if amount["currency_code"] in WHOLE_UNITS_ONLY else _exponent(amount["currency_code"])
        )
        decimals = len(amount["value"].partition(".")[2])
        if decimals > digits or (digits == 0 and "." in amount["value"]):
            issue = "DECIMALS_NOT_SUPPORTED" if digits == 0 else "DECIMAL_PRECISION"
            if digits == 0:
                return self._error(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    "The requested action could not be performed, semantically incorrect, or"
                    " failed business validation.",
                    [{"issue": issue, "description": "Currency does not support decimals."}],
                )
            return self._unprocessable(ORDERS, "422", issue)
        order_id = _paypal_id()
        paypal_source = (payload.get("payment_source") or {}).get("paypal")
        experience = (paypal_source or {}).get("experience_context") or {}
        legacy = payload.get("application_context") or {}
        now = _now()
        order: dict[str, Any] = {
            "id": order_id,
            "intent": payload["intent"],
            "status": "PAYER_ACTION_REQUIRED" if paypal_source is not None else "CREATED",
            "purchase_units": [
                {
                    "reference_id": unit.get("reference_id", "default"),
                    "amount": amount,
                    "payee": {"email_address": "merchant@example.com", "merchant_id": MERCHANT_ID},
                    **{k: unit[k] for k in ("description", "custom_id", "invoice_id") if k in unit},
                }
            ],
            "create_time": now,
            "update_time": now,
        }
        if paypal_source is not None:
            order["payment_source"] = {"paypal": {}}
        approve_rel = "payer-action" if paypal_source is not None else "approve"
        order["links"] = [
            {"href": f"{self.base}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
            {
                "href": f"{self.base}/checkoutnow?token={order_id}",
                "rel": approve_rel,
                "method": "GET",
            },
            {
                "href": f"{self.base}/v2/checkout/orders/{order_id}/capture",
                "rel": "capture",
                "method": "POST",
            },
        ]
        self.orders[order_id] = {
            "order": order,
            "return_url": experience.get("return_url") or legacy.get("return_url"),
            "cancel_url": experience.get("cancel_url") or legacy.get("cancel_url"),
            "request_id": request.headers.get("PayPal-Request-Id"),
        }
        if "return=representation" in request.headers.get("Prefer", ""):
            body = json.loads(json.dumps(order))
        else:
            body = {
                "id": order_id,
                "status": order["status"],
                **(
                    {"payment_source": order["payment_source"]} if "payment_source" in order else {}
                ),
                "links": [link for link in order["links"] if link["rel"] != "capture"],
            }
        return self._remember(request, "orders.create", 201, body)

    def _get_order(self, request: Request, order_id: str) -> Response:
        held = self.orders.get(order_id)
        if held is None:
            return self._not_found()
        return _json(held["order"])

    def _capture_order(self, request: Request, order_id: str) -> Response:
        replay = self._replay(request, f"orders.capture:{order_id}")
        if replay is not None:
            return replay
        held = self.orders.get(order_id)
        if held is None:
            return self._not_found()
        order = held["order"]
        if order["status"] == "COMPLETED":
            return self._unprocessable(ORDERS, "orders.capture-422", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return self._unprocessable(ORDERS, "orders.capture-422", "ORDER_NOT_APPROVED")
        outcome = "COMPLETED"
        if self.answers and self.answers[0] in ("capture_pending", "capture_declined"):
            outcome = {"capture_pending": "PENDING", "capture_declined": "DECLINED"}[
                self.answers.pop(0)
            ]
        self.capture_requests.append(order_id)
        capture = self._new_capture(order_id, outcome)
        order["status"] = "COMPLETED"
        order["update_time"] = capture["update_time"]
        order["purchase_units"][0]["payments"] = {"captures": [capture]}
        if outcome == "COMPLETED":
            self._send_event("PAYMENT.CAPTURE.COMPLETED", "capture", capture)
        elif outcome == "DECLINED":
            self._send_event("PAYMENT.CAPTURE.DECLINED", "capture", capture)
        return self._remember(
            request, f"orders.capture:{order_id}", 201, json.loads(json.dumps(order))
        )

    def _new_capture(self, order_id: str, status: str) -> dict[str, Any]:
        unit = self.orders[order_id]["order"]["purchase_units"][0]
        amount = unit["amount"]
        capture_id = _paypal_id()
        now = _now()
        capture: dict[str, Any] = {
            "id": capture_id,
            "status": status,
            "amount": amount,
            "final_capture": True,
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "links": [
                {
                    "href": f"{self.base}/v2/payments/captures/{capture_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{self.base}/v2/payments/captures/{capture_id}/refund",
                    "rel": "refund",
                    "method": "POST",
                },
                {
                    "href": f"{self.base}/v2/checkout/orders/{order_id}",
                    "rel": "up",
                    "method": "GET",
                },
            ],
            "create_time": now,
            "update_time": now,
        }
        for key in ("custom_id", "invoice_id"):
            if key in unit:
                capture[key] = unit[key]
        if status == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        else:
            self._settle(capture)
        self.captures[capture_id] = {"capture": capture, "order_id": order_id, "refunded_minor": 0}
        return capture

    def _settle(self, capture: dict[str, Any]) -> None:
        currency = capture["amount"]["currency_code"]
        gross = _minor(capture["amount"])
        fee = int((gross * FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP)) + FEE_FIXED_MINOR
        capture["seller_receivable_breakdown"] = {
            "gross_amount": _money(gross, currency),
            "paypal_fee": _money(fee, currency),
            "net_amount": _money(gross - fee, currency),
        }

    # -- the hosted approval page (in no spec) ---------------------------------------------------

    def _approval_page(self, request: Request) -> Response:
        order_id = request.args.get("token", "")
        held = self.orders.get(order_id)
        if held is None:
            return Response(
                "<!doctype html><title>Not found</title><p>No such order.</p>",
                404,
                content_type="text/html; charset=utf-8",
            )
        order = held["order"]
        if request.method == "POST":
            if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
                return Response(
                    "<!doctype html><title>Done</title><p>Already approved.</p>",
                    409,
                    content_type="text/html; charset=utf-8",
                )
            self._approve(order)
            self._send_event("CHECKOUT.ORDER.APPROVED", "checkout-order", order)
            target = _with_query(
                held["return_url"] or f"{self.base}/", token=order_id, PayerID=PAYER_ID
            )
            return Response("", 303, headers={"Location": target})
        if request.method != "GET":
            return Response("", 405)
        unit = order["purchase_units"][0]
        amount = unit["amount"]
        cancel = _with_query(held["cancel_url"] or f"{self.base}/", token=order_id)
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pay with PayPal</title></head>
<body><main>
<h1>Pay with PayPal</h1>
<p id="description">{html.escape(unit.get("description", ""))}</p>
<p id="amount">{html.escape(amount["value"])} {html.escape(amount["currency_code"])}</p>
<form method="post" action="/checkoutnow?token={html.escape(order_id)}">
<button type="submit">Complete payment</button>
</form>
<a href="{html.escape(cancel)}">Cancel</a>
</main></body></html>"""
        return Response(page, 200, content_type="text/html; charset=utf-8")

    def _approve(self, order: dict[str, Any]) -> None:
        payer_name = {"given_name": "Pat", "surname": "Payer"}
        order["status"] = "APPROVED"
        order["update_time"] = _now()
        order["payer"] = {
            "name": payer_name,
            "email_address": "payer@example.com",
            "payer_id": PAYER_ACCOUNT_ID,
        }
        order["payment_source"] = {
            "paypal": {
                "email_address": "payer@example.com",
                "account_id": PAYER_ACCOUNT_ID,
                "account_status": "VERIFIED",
                "name": payer_name,
            }
        }

    def approve(self, order_id: str) -> None:
        """What the payer does on the hosted page, for tests that do not drive it."""
        with self.lock:
            order = self.orders[order_id]["order"]
            self._approve(order)
            self._send_event("CHECKOUT.ORDER.APPROVED", "checkout-order", order)

    # -- Payments v2 -------------------------------------------------------------------------

    def _get_capture(self, request: Request, capture_id: str) -> Response:
        held = self.captures.get(capture_id)
        if held is None:
            return self._not_found(PAYMENTS)
        return _json(held["capture"])

    def _get_refund(self, request: Request, refund_id: str) -> Response:
        refund = self.refunds.get(refund_id)
        if refund is None:
            return self._not_found(PAYMENTS)
        return _json(refund)

    def _refund_capture(self, request: Request, capture_id: str) -> Response:
        replay = self._replay(request, f"captures.refund:{capture_id}")
        if replay is not None:
            return replay
        held = self.captures.get(capture_id)
        if held is None:
            return self._not_found(PAYMENTS)
        payload = request.get_json(silent=True) or {}
        outcome = self._refund(capture_id, payload.get("amount"), payload.get("note_to_payer"))
        if isinstance(outcome, Response):
            return outcome
        if "return=representation" in request.headers.get("Prefer", ""):
            body = outcome
        else:
            body = {"id": outcome["id"], "status": outcome["status"], "links": outcome["links"]}
        return self._remember(request, f"captures.refund:{capture_id}", 201, body)

    def _refund(
        self, capture_id: str, amount: dict[str, str] | None, note: str | None
    ) -> dict[str, Any] | Response:
        held = self.captures[capture_id]
        capture = held["capture"]
        currency = capture["amount"]["currency_code"]
        gross = _minor(capture["amount"])
        remaining = gross - held["refunded_minor"]
        if capture["status"] == "PENDING":
            return self._unprocessable(PAYMENTS, "captures.refund-422", "PENDING_CAPTURE")
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"):
            return self._unprocessable(PAYMENTS, "captures.refund-422", "REFUND_NOT_ALLOWED")
        if remaining == 0:
            return self._unprocessable(PAYMENTS, "captures.refund-422", "CAPTURE_FULLY_REFUNDED")
        if amount is not None and amount["currency_code"] != currency:
            return self._unprocessable(
                PAYMENTS, "captures.refund-422", "REFUND_CAPTURE_CURRENCY_MISMATCH"
            )
        minor = remaining if amount is None else _minor(amount)
        if minor > remaining:
            return self._unprocessable(PAYMENTS, "captures.refund-422", "REFUND_AMOUNT_EXCEEDED")
        held["refunded_minor"] += minor
        capture["status"] = "REFUNDED" if held["refunded_minor"] == gross else "PARTIALLY_REFUNDED"
        refund_id = _paypal_id()
        now = _now()
        refund: dict[str, Any] = {
            "id": refund_id,
            "amount": _money(minor, currency),
            "seller_payable_breakdown": {
                "gross_amount": _money(minor, currency),
                "paypal_fee": _money(0, currency),
                "net_amount": _money(minor, currency),
                "total_refunded_amount": _money(held["refunded_minor"], currency),
            },
            "status": "COMPLETED",
            "create_time": now,
            "update_time": now,
            "links": [
                {
                    "href": f"{self.base}/v2/payments/refunds/{refund_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{self.base}/v2/payments/captures/{capture_id}",
                    "rel": "up",
                    "method": "GET",
                },
            ],
        }
        for key in ("custom_id", "invoice_id"):
            if key in capture:
                refund[key] = capture[key]
        if note:
            refund["note_to_payer"] = note
        self.refunds[refund_id] = refund
        self._send_event("PAYMENT.CAPTURE.REFUNDED", "refund", refund)
        return refund

    # -- test controls -----------------------------------------------------------------------

    def refund_from_dashboard(self, capture_id: str, amount_minor: int) -> str:
        """The merchant refunds in PayPal's own dashboard; PayPal tells us by webhook."""
        with self.lock:
            currency = self.captures[capture_id]["capture"]["amount"]["currency_code"]
            outcome = self._refund(capture_id, _money(amount_minor, currency), None)
            if isinstance(outcome, Response):
                raise ValueError(outcome.get_data(as_text=True))
            return str(outcome["id"])

    def complete_capture(self, capture_id: str) -> None:
        """A pending capture clears."""
        with self.lock:
            capture = self.captures[capture_id]["capture"]
            capture["status"] = "COMPLETED"
            capture.pop("status_details", None)
            capture["update_time"] = _now()
            self._settle(capture)
            self._send_event("PAYMENT.CAPTURE.COMPLETED", "capture", capture)

    def deny_capture(self, capture_id: str) -> None:
        """A pending capture is denied (PayPal's word for the event; the capture is DECLINED)."""
        with self.lock:
            capture = self.captures[capture_id]["capture"]
            capture["status"] = "DECLINED"
            capture.pop("status_details", None)
            capture["update_time"] = _now()
            self._send_event("PAYMENT.CAPTURE.DENIED", "capture", capture)

    def open_dispute(
        self, capture_id: str, reason: str = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"
    ) -> str:
        with self.lock:
            capture = self.captures[capture_id]["capture"]
            dispute_id = f"PP-D-{secrets.randbelow(10**6):06d}"
            now = _now()
            due = datetime.fromtimestamp(time.time() + 20 * 86400, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            dispute: dict[str, Any] = {
                "dispute_id": dispute_id,
                "create_time": now,
                "update_time": now,
                "disputed_transactions": [
                    {
                        "seller_transaction_id": capture_id,
                        "create_time": capture["create_time"],
                        "transaction_status": "COMPLETED",
                        "gross_amount": capture["amount"],
                        "invoice_number": capture.get("invoice_id", ""),
                        "custom": capture.get("custom_id", ""),
                        "buyer": {"name": "Pat Payer"},
                        "seller": {"merchant_id": MERCHANT_ID, "name": "Merchant"},
                    }
                ],
                "reason": reason,
                "status": "WAITING_FOR_SELLER_RESPONSE",
                "dispute_amount": capture["amount"],
                "seller_response_due_date": due,
                "dispute_life_cycle_stage": "INQUIRY",
                "dispute_channel": "INTERNAL",
                "links": [
                    {
                        "href": f"{self.base}/v1/customer/disputes/{dispute_id}",
                        "rel": "self",
                        "method": "GET",
                    }
                ],
            }
            self.disputes[dispute_id] = dispute
            self._send_event("CUSTOMER.DISPUTE.CREATED", "dispute", dispute)
            return dispute_id

    def update_dispute(self, dispute_id: str, status: str = "UNDER_REVIEW") -> None:
        with self.lock:
            dispute = self.disputes[dispute_id]
            dispute["status"] = status
            dispute["dispute_life_cycle_stage"] = "CHARGEBACK"
            dispute["update_time"] = _now()
            self._send_event("CUSTOMER.DISPUTE.UPDATED", "dispute", dispute)

    def resolve_dispute(self, dispute_id: str, outcome: str) -> None:
        """``outcome``: PayPal's outcome code, RESOLVED_BUYER_FAVOUR or RESOLVED_SELLER_FAVOUR."""
        if outcome not in ("RESOLVED_BUYER_FAVOUR", "RESOLVED_SELLER_FAVOUR", "CANCELED_BY_BUYER"):
            raise ValueError(f"unknown dispute outcome {outcome!r}")
        with self.lock:
            dispute = self.disputes[dispute_id]
            dispute["status"] = "RESOLVED"
            dispute["update_time"] = _now()
            dispute["dispute_outcome"] = {"outcome_code": outcome}
            if outcome == "RESOLVED_BUYER_FAVOUR":
                dispute["dispute_outcome"]["amount_refunded"] = dispute["dispute_amount"]
            dispute.pop("seller_response_due_date", None)
            self._send_event("CUSTOMER.DISPUTE.RESOLVED", "dispute", dispute)

    # -- webhooks ----------------------------------------------------------------------------

    def _send_event(self, event_type: str, resource_type: str, resource: dict[str, Any]) -> None:
        event_id = f"WH-{_paypal_id(17)}-{_paypal_id(17)}"
        resource = json.loads(json.dumps(resource))
        if resource_type == "capture":
            order_id = self.captures[resource["id"]]["order_id"]
            resource["supplementary_data"] = {"related_ids": {"order_id": order_id}}
            resource["payee"] = {
                "email_address": "merchant@example.com",
                "merchant_id": MERCHANT_ID,
            }
            self._check(PAYMENTS, "capture-2", resource, event_type)
        elif resource_type == "refund":
            self._check(PAYMENTS, "refund", resource, event_type)
        elif resource_type == "checkout-order":
            self._check(ORDERS, "order", resource, event_type)
        amount = (
            resource.get("amount")
            or resource.get("dispute_amount")
            or resource.get("purchase_units", [{}])[0].get("amount")
            or {}
        )
        event = {
            "id": event_id,
            "event_version": "1.0",
            "create_time": _now(),
            "resource_type": resource_type,
            "resource_version": "2.0" if resource_type != "dispute" else "1.0",
            "event_type": event_type,
            "summary": f"{event_type} for {amount.get('currency_code')} {amount.get('value')}",
            "resource": resource,
            "links": [
                {
                    "href": f"{self.base}/v1/notifications/webhooks-events/{event_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{self.base}/v1/notifications/webhooks-events/{event_id}/resend",
                    "rel": "resend",
                    "method": "POST",
                },
            ],
        }
        self._check(NOTIFICATIONS, "event", event, event_type)
        body = json.dumps(event).encode()
        transmission_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": _now(),
            "PAYPAL-TRANSMISSION-SIG": _signature(),
            "PAYPAL-CERT-URL": f"{self.base}/v1/notifications/certs/CERT-{transmission_id[:8]}",
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }
        self.sent_events.append((headers, body))
        self._transmissions[transmission_id] = (headers, body)
        if self.webhook_url is not None:
            with self._delivered:
                self._pending += 1
            self._outbox.put((headers, body))

    def _check(self, spec_file: str, schema: str, body: dict[str, Any], what: str) -> None:
        for error in _validator(spec_file, schema).iter_errors(body):
            path = "/".join(map(str, error.absolute_path))
            self.problems.append(
                f"webhook {what} against {schema}: {path or '(root)'}: {error.message}"
            )

    def _deliver_forever(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            headers, body = item
            outcome: int | str
            try:
                target = self.webhook_url
                if target is None:
                    outcome = "no webhook_url"
                else:
                    post = urllib.request.Request(target, data=body, headers=headers, method="POST")
                    with urllib.request.urlopen(post, timeout=10) as answer:
                        outcome = int(answer.status)
            except urllib.error.HTTPError as error:
                error.close()
                outcome = error.code
            except OSError as error:
                outcome = repr(error)
            with self._delivered:
                self.deliveries.append((headers["PAYPAL-TRANSMISSION-ID"], outcome))
                self._pending -= 1
                self._delivered.notify_all()

    def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        """Until every webhook queued so far has been posted to ``webhook_url``."""
        with self._delivered:
            if not self._delivered.wait_for(lambda: self._pending == 0, timeout=timeout):
                raise TimeoutError(f"{self._pending} webhook deliveries still pending")

    def _verify_signature(self, request: Request) -> Response:
        payload = request.get_json(silent=True) or {}
        sent = self._transmissions.get(payload.get("transmission_id", ""))
        status = "FAILURE"
        if sent is not None:
            headers, body = sent
            if (
                payload.get("transmission_sig") == headers["PAYPAL-TRANSMISSION-SIG"]
                and payload.get("transmission_time") == headers["PAYPAL-TRANSMISSION-TIME"]
                and payload.get("cert_url") == headers["PAYPAL-CERT-URL"]
                and payload.get("auth_algo") == headers["PAYPAL-AUTH-ALGO"]
                and payload.get("webhook_id") == self.webhook_id
                and payload.get("webhook_event") == json.loads(body)
            ):
                status = "SUCCESS"
        return _json({"verification_status": status})


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    merged = urlencode([*((k, v) for k, vs in query.items() for v in vs), *params.items()])
    return urlunsplit(parts._replace(query=merged))
