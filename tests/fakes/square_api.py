"""A stateful Square on 127.0.0.1: payment links, their orders, payments, refunds and disputes,
and the webhooks they cause, checked against Square's published OpenAPI description (release
2025-08-20). Every request, answer and webhook payload that strays from the spec lands in
``problems``.

The hosted checkout page lives at the link's ``url`` (``/checkout/<link id>``); it has a
"Complete payment" and a "Decline card" button and, like Square's, no way back to the seller.

Test controls: ``answers`` scripts the next API answers (``"rate_limited"``, ``"server_error"``,
``"service_unavailable"``); ``refund_from_dashboard``, ``open_dispute``, ``resolve_dispute`` and
``set_dispute_state`` act as the seller or the card network would; ``sent_events`` keeps every
webhook as ``(headers, body)``; with ``webhook_url`` set they are also POSTed there, in order, by
one background thread (``wait_for_deliveries`` waits for it).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import json
import queue
import secrets
import string
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit

from openapi_core.validation.schemas import oas30_read_schema_validators_factory
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tests.fakes.spec_server import SpecServer, _details

SQUARE_VERSION = "2025-08-20"
FEE_RATE = Decimal("0.026")
FEE_FIXED = 15
# ISO 4217 exponents other than 2, for showing amounts on the checkout page.
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
_ALPHABET = string.ascii_letters + string.digits


def patch_square_spec(spec: dict[str, Any]) -> None:
    """Make Square's file load in openapi-core and describe what Square really answers.

    - ``CatalogModifierToggleOverrideType`` is referenced but missing upstream: a string stub.
    - Three spec-validator errors: ``info.externalDocs``, ``security: [{oauth2: null}]`` on
      ``/oauth2/revoke``, and the undeclared ``vendor_id`` on ``PUT /v2/vendors/{vendor_id}``.
    - The ``oauth2`` scheme becomes HTTP bearer: that is how Square takes its tokens on the wire,
      and openapi-core cannot check an OAuth 2 flow (it only warns).
    - Every operation lists only its 200 answer, while Square sends the same body with
      ``errors`` under 4xx/5xx; that body becomes each operation's ``default`` answer.
    """
    schemas = spec["components"]["schemas"]
    schemas.setdefault("CatalogModifierToggleOverrideType", {"type": "string"})
    spec["info"].pop("externalDocs", None)
    spec["components"]["securitySchemes"]["oauth2"] = {"type": "http", "scheme": "bearer"}
    for item in spec["paths"].values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            if "security" in operation:  # a bearer scheme takes no scopes
                operation["security"] = [{key: [] for key in r} for r in operation["security"]]
            responses = operation.get("responses", {})
            if "200" in responses and "default" not in responses:
                responses["default"] = copy.deepcopy(responses["200"])
    vendor = spec["paths"]["/v2/vendors/{vendor_id}"]
    vendor["put"].setdefault("parameters", [])
    if not vendor["put"]["parameters"]:
        vendor["put"]["parameters"] = copy.deepcopy(vendor["get"]["parameters"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _fee(amount: int) -> int:
    fee = (Decimal(amount) * FEE_RATE + FEE_FIXED).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(fee)


def _shown(amount: int, currency: str) -> str:
    exponent = _EXPONENTS.get(currency, 2)
    return f"{currency} {Decimal(amount).scaleb(-exponent):.{exponent}f}"


class SquareError(Exception):
    def __init__(
        self, status: int, category: str, code: str, detail: str, field: str | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error: dict[str, str] = {"category": category, "code": code, "detail": detail}
        if field:
            self.error["field"] = field


def _invalid(code: str, detail: str, field: str | None = None) -> SquareError:
    return SquareError(400, "INVALID_REQUEST_ERROR", code, detail, field)


def _not_found(what: str, ident: str) -> SquareError:
    return SquareError(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"Could not find {what} {ident}.")


_SCRIPTED = {
    "rate_limited": SquareError(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limit exceeded."),
    "server_error": SquareError(500, "API_ERROR", "INTERNAL_SERVER_ERROR", "An internal error."),
    "service_unavailable": SquareError(
        503, "API_ERROR", "SERVICE_UNAVAILABLE", "Service temporarily unavailable."
    ),
}

_ROUTES = Map(
    [
        Rule("/v2/online-checkout/payment-links", methods=["POST"], endpoint="create_link"),
        Rule("/v2/online-checkout/payment-links/<ident>", methods=["GET"], endpoint="get_link"),
        Rule("/v2/orders/<ident>", methods=["GET"], endpoint="get_order"),
        Rule("/v2/payments/<ident>", methods=["GET"], endpoint="get_payment"),
        Rule("/v2/refunds", methods=["POST"], endpoint="create_refund"),
        Rule("/v2/refunds/<ident>", methods=["GET"], endpoint="get_refund"),
        Rule("/v2/disputes/<ident>", methods=["GET"], endpoint="get_dispute"),
        Rule("/checkout/<ident>", methods=["GET", "POST"], endpoint="checkout_page"),
    ]
)


class FakeSquare(SpecServer):
    specs = ("square/api.json",)
    patch = patch_square_spec

    def __init__(
        self,
        *,
        access_token: str = "EAAAl-fake-access-token",
        location_id: str = "LFAKE0LOCATION",
        signature_key: str = "fake-webhook-signature-key",
        notification_url: str = "https://invoices.example/hooks/square",
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.location_id = location_id
        self.merchant_id = "MFAKE0MERCHANT"
        self.signature_key = signature_key
        self.notification_url = notification_url
        self.webhook_url: str | None = None
        self.location_currency: str | None = None  # None: any currency is the location's
        self.auto_complete_refunds = True
        self.answers: list[str] = []
        self.links: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.sent_events: list[tuple[dict[str, str], bytes]] = []
        self.deliveries: list[tuple[str, int | str]] = []  # (event_id, HTTP status or error)
        self._idempotency: dict[tuple[str, str], tuple[str, str]] = {}
        self._outbox: queue.Queue[tuple[str, dict[str, str], bytes] | None] = queue.Queue()
        self._pending = 0
        self._delivered = threading.Condition()
        self._courier = threading.Thread(target=self._deliver, daemon=True)
        self._courier.start()

    def __enter__(self) -> FakeSquare:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._outbox.put(None)
        self._courier.join(timeout=5)
        super().stop()

    # -- the seller's dashboard and the card network -------------------------------------------

    def refund_from_dashboard(self, payment_id: str, amount_minor: int) -> str:
        """The seller refunds in Square's dashboard: refund.created, then refund.updated."""
        with self.lock:
            payment = self.payments[payment_id]
            money = {"amount": amount_minor, "currency": payment["amount_money"]["currency"]}
            refund = self._refund(payment, money, reason="Refunded in the Square Dashboard")
            self._complete_refund(refund, "COMPLETED")
            return str(refund["id"])

    def complete_refund(self, refund_id: str, status: str = "COMPLETED") -> None:
        """Settle a PENDING refund (with ``auto_complete_refunds`` off): COMPLETED or FAILED."""
        with self.lock:
            self._complete_refund(self.refunds[refund_id], status)

    def open_dispute(self, payment_id: str, reason: str = "NO_KNOWLEDGE") -> str:
        """The card holder's bank disputes the payment: dispute.created."""
        with self.lock:
            payment = self.payments[payment_id]
            now = datetime.now(UTC)
            due = (now + timedelta(days=14)).replace(hour=0, minute=0, second=0, microsecond=0)
            dispute_id = _new_id(20)
            dispute = {
                "id": dispute_id,
                "amount_money": dict(payment["amount_money"]),
                "reason": reason,
                "state": "EVIDENCE_REQUIRED",
                "due_at": due.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "disputed_payment": {"payment_id": payment_id},
                "evidence_ids": [],
                "card_brand": "VISA",
                "created_at": _now(),
                "updated_at": _now(),
                "brand_dispute_id": _new_id(22),
                "reported_at": now.replace(hour=0, minute=0, second=0, microsecond=0)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "version": 1,
                "location_id": self.location_id,
            }
            self.disputes[dispute_id] = dispute
            self._emit("dispute.created", "dispute", dispute_id, {"object": dispute})
            return dispute_id

    def resolve_dispute(self, dispute_id: str, state: str) -> None:
        """The bank decides: WON, LOST (or ACCEPTED): dispute.state.updated."""
        if state not in ("WON", "LOST", "ACCEPTED"):
            raise ValueError(f"a dispute is resolved as WON, LOST or ACCEPTED, not {state}")
        self.set_dispute_state(dispute_id, state)

    def set_dispute_state(self, dispute_id: str, state: str) -> None:
        with self.lock:
            dispute = self.disputes[dispute_id]
            dispute.update(state=state, updated_at=_now(), version=dispute["version"] + 1)
            self._emit("dispute.state.updated", "dispute", dispute_id, {"object": dispute})

    def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        """Block until every webhook queued so far was POSTed to ``webhook_url``."""
        with self._delivered:
            if not self._delivered.wait_for(lambda: self._pending == 0, timeout=timeout):
                raise AssertionError(f"{self._pending} webhook(s) not delivered in {timeout}s")

    # -- HTTP ----------------------------------------------------------------------------------

    def unvalidated(self, request: Request) -> bool:
        return request.path.startswith("/checkout/")

    def handle(self, request: Request) -> Response:
        try:
            endpoint, args = _ROUTES.bind("fake").match(request.path, method=request.method)
        except HTTPException:
            endpoint, args = "", {}
        if endpoint == "checkout_page":
            with self.lock:
                return self._checkout_page(request, args["ident"])
        try:
            self._check_headers(request)
            with self.lock:
                if self.answers:
                    raise _SCRIPTED[self.answers.pop(0)]
                if not endpoint:
                    raise _not_found("endpoint", request.path)
                body = getattr(self, "_" + endpoint)(request, **args)
        except SquareError as error:
            return _json({"errors": [error.error]}, error.status)
        return _json(body, 200)

    def _check_headers(self, request: Request) -> None:
        version = request.headers.get("Square-Version")
        if version != SQUARE_VERSION:
            with self.lock:
                self.problems.append(f"{request.method} {request.path}: Square-Version {version}")
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            raise SquareError(
                401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."
            )

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _invalid("EXPECTED_JSON_BODY", "The request body must be a JSON object.")
        return body

    def _idempotent(self, scope: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The object an earlier request with the same key made, or None for a new request."""
        key = body.get("idempotency_key")
        if not key:
            return None
        fingerprint = json.dumps(
            {k: v for k, v in body.items() if k != "idempotency_key"}, sort_keys=True
        )
        seen = self._idempotency.get((scope, key))
        if seen is None:
            return None
        if seen[0] != fingerprint:
            raise _invalid(
                "IDEMPOTENCY_KEY_REUSED",
                "The idempotency key can only be retried with the same request data.",
                "idempotency_key",
            )
        store = {"link": self.links, "refund": self.refunds}[scope]
        return store[seen[1]]

    def _remember(self, scope: str, body: dict[str, Any], ident: str) -> None:
        if body.get("idempotency_key"):
            fingerprint = json.dumps(
                {k: v for k, v in body.items() if k != "idempotency_key"}, sort_keys=True
            )
            self._idempotency[(scope, body["idempotency_key"])] = (fingerprint, ident)

    # -- Checkout API ----------------------------------------------------------------------------

    def _create_link(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        earlier = self._idempotent("link", body)
        if earlier is not None:
            return {
                "payment_link": earlier,
                "related_resources": {"orders": [self.orders[earlier["order_id"]]]},
            }
        order = self._order_from(body)
        options = body.get("checkout_options") or {}
        redirect = options.get("redirect_url")
        if redirect is not None and urlsplit(redirect).scheme not in ("http", "https"):
            raise _invalid(
                "INVALID_URL",
                "redirect_url must be an absolute URL.",
                "checkout_options.redirect_url",
            )
        fee = options.get("app_fee_money")
        if fee is not None and (
            fee.get("currency") != order["total_money"]["currency"]
            or not 0 <= fee.get("amount", 0) <= order["total_money"]["amount"]
        ):
            raise _invalid(
                "INVALID_VALUE",
                "app_fee_money is not valid for this order.",
                "checkout_options.app_fee_money",
            )
        prefill = body.get("pre_populated_data") or {}
        email = prefill.get("buyer_email")
        if email is not None and "@" not in email:
            raise _invalid(
                "INVALID_EMAIL_ADDRESS",
                "The buyer email is not valid.",
                "pre_populated_data.buyer_email",
            )
        link_id = _new_id(16).upper()
        url = f"{self.base}/checkout/{link_id}"
        link: dict[str, Any] = {
            "id": link_id,
            "version": 1,
            "order_id": order["id"],
            "url": url,
            "long_url": url,
            "created_at": order["created_at"],
        }
        for key in ("description", "checkout_options", "pre_populated_data", "payment_note"):
            if body.get(key) is not None:
                link[key] = body[key]
        self.orders[order["id"]] = order
        self.links[link_id] = link
        self._remember("link", body, link_id)
        return {"payment_link": link, "related_resources": {"orders": [order]}}

    def _order_from(self, body: dict[str, Any]) -> dict[str, Any]:
        order_in, quick = body.get("order"), body.get("quick_pay")
        if (order_in is None) == (quick is None):
            raise _invalid("BAD_REQUEST", "Exactly one of quick_pay and order is required.")
        if quick is not None:
            order_in = {
                "location_id": quick.get("location_id"),
                "line_items": [
                    {
                        "name": quick.get("name"),
                        "quantity": "1",
                        "base_price_money": quick.get("price_money"),
                    }
                ],
            }
        assert isinstance(order_in, dict)
        if order_in.get("location_id") != self.location_id:
            raise _not_found("location", str(order_in.get("location_id")))
        if len(order_in.get("reference_id") or "") > 40:
            raise _invalid(
                "VALUE_TOO_LONG", "reference_id is longer than 40.", "order.reference_id"
            )
        items_in = order_in.get("line_items") or []
        if not items_in:
            raise _invalid(
                "MISSING_REQUIRED_PARAMETER", "An order needs line items.", "order.line_items"
            )
        currency = (items_in[0].get("base_price_money") or {}).get("currency")
        if self.location_currency and currency != self.location_currency:
            raise _invalid(
                "CURRENCY_MISMATCH",
                f"The location takes {self.location_currency}.",
                "order.line_items",
            )
        now = _now()
        items, total = [], 0
        for index, item in enumerate(items_in):
            price = item.get("base_price_money") or {}
            try:
                quantity = Decimal(item.get("quantity", ""))
            except InvalidOperation:
                quantity = Decimal(0)
            if quantity <= 0 or not isinstance(price.get("amount"), int) or price["amount"] < 0:
                raise _invalid(
                    "INVALID_VALUE",
                    "Each line item needs a quantity and a price.",
                    f"order.line_items[{index}]",
                )
            if price.get("currency") != currency:
                raise _invalid(
                    "CURRENCY_MISMATCH",
                    "Line items differ in currency.",
                    f"order.line_items[{index}]",
                )
            amount = int((quantity * price["amount"]).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            total += amount
            money = {"amount": amount, "currency": currency}
            items.append(
                {
                    "uid": _new_id(22),
                    "name": item.get("name") or "",
                    "quantity": item["quantity"],
                    "item_type": "ITEM",
                    "base_price_money": price,
                    "variation_total_price_money": money,
                    "gross_sales_money": money,
                    "total_tax_money": {"amount": 0, "currency": currency},
                    "total_discount_money": {"amount": 0, "currency": currency},
                    "total_money": money,
                    "total_service_charge_money": {"amount": 0, "currency": currency},
                }
            )
        zero = {"amount": 0, "currency": currency}
        order: dict[str, Any] = {
            "id": _new_id(28),
            "location_id": self.location_id,
            "source": {"name": "Invoice Lite"},
            "line_items": items,
            "net_amounts": {
                "total_money": {"amount": total, "currency": currency},
                "tax_money": zero,
                "discount_money": zero,
                "tip_money": zero,
                "service_charge_money": zero,
            },
            "created_at": now,
            "updated_at": now,
            "state": "OPEN",
            "version": 1,
            "total_money": {"amount": total, "currency": currency},
            "total_tax_money": zero,
            "total_discount_money": zero,
            "total_tip_money": zero,
            "total_service_charge_money": zero,
            "net_amount_due_money": {"amount": total, "currency": currency},
        }
        if order_in.get("reference_id"):
            order["reference_id"] = order_in["reference_id"]
        return order

    def _get_link(self, request: Request, ident: str) -> dict[str, Any]:
        if ident not in self.links:
            raise _not_found("payment link", ident)
        return {"payment_link": self.links[ident]}

    def _get_order(self, request: Request, ident: str) -> dict[str, Any]:
        if ident not in self.orders:
            raise _not_found("order", ident)
        return {"order": self.orders[ident]}

    def _get_payment(self, request: Request, ident: str) -> dict[str, Any]:
        if ident not in self.payments:
            raise _not_found("payment", ident)
        return {"payment": self.payments[ident]}

    def _get_refund(self, request: Request, ident: str) -> dict[str, Any]:
        if ident not in self.refunds:
            raise _not_found("refund", ident)
        return {"refund": self.refunds[ident]}

    def _get_dispute(self, request: Request, ident: str) -> dict[str, Any]:
        if ident not in self.disputes:
            raise _not_found("dispute", ident)
        return {"dispute": self.disputes[ident]}

    # -- Refunds API -----------------------------------------------------------------------------

    def _create_refund(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        earlier = self._idempotent("refund", body)
        if earlier is not None:
            return {"refund": earlier}
        if not body.get("idempotency_key"):
            raise _invalid(
                "MISSING_REQUIRED_PARAMETER", "idempotency_key is required.", "idempotency_key"
            )
        payment_id = body.get("payment_id")
        if not payment_id:
            raise _invalid("MISSING_REQUIRED_PARAMETER", "payment_id is required.", "payment_id")
        if payment_id not in self.payments:
            raise _not_found("payment", payment_id)
        money = body.get("amount_money") or {}
        snapshot = copy.deepcopy(self._refund(self.payments[payment_id], money, body.get("reason")))
        self._remember("refund", body, snapshot["id"])
        if self.auto_complete_refunds:
            self._complete_refund(self.refunds[snapshot["id"]], "COMPLETED")
        return {"refund": snapshot}

    def _refund(
        self, payment: dict[str, Any], money: dict[str, Any], reason: str | None
    ) -> dict[str, Any]:
        """A PENDING refund of ``money`` from ``payment``, as Square checks and records it."""
        if payment["status"] != "COMPLETED":
            raise _invalid(
                "REFUND_ERROR_PAYMENT_NEEDS_COMPLETION",
                "The payment is not completed.",
                "payment_id",
            )
        if any(
            d["disputed_payment"]["payment_id"] == payment["id"]
            and d["state"] not in ("WON", "LOST", "ACCEPTED")
            for d in self.disputes.values()
        ):
            raise SquareError(
                400,
                "REFUND_ERROR",
                "PAYMENT_NOT_REFUNDABLE_DUE_TO_DISPUTE",
                "The payment is disputed.",
            )
        paid = payment["amount_money"]
        if money.get("currency") != paid["currency"]:
            raise _invalid(
                "CURRENCY_MISMATCH",
                f"The payment is in {paid['currency']}.",
                "amount_money.currency",
            )
        amount = money.get("amount")
        if not isinstance(amount, int) or amount <= 0:
            raise _invalid(
                "VALUE_TOO_LOW",
                "amount_money.amount must be greater than 0.",
                "amount_money.amount",
            )
        refunded = payment.get("refunded_money", {}).get("amount", 0)
        pending = sum(
            r["amount_money"]["amount"]
            for r in self.refunds.values()
            if r["payment_id"] == payment["id"] and r["status"] == "PENDING"
        )
        if amount > paid["amount"] - refunded - pending:
            raise _invalid(
                "REFUND_AMOUNT_INVALID",
                "The requested refund amount exceeds the amount available to refund.",
                "amount_money.amount",
            )
        now = _now()
        refund: dict[str, Any] = {
            "id": f"{payment['id']}_{_new_id(40)}",
            "status": "PENDING",
            "location_id": self.location_id,
            "amount_money": {"amount": amount, "currency": paid["currency"]},
            "payment_id": payment["id"],
            "order_id": payment["order_id"],
            "created_at": now,
            "updated_at": now,
        }
        if reason:
            refund["reason"] = reason
        self.refunds[refund["id"]] = refund
        self._emit("refund.created", "refund", refund["id"], {"refund": refund})
        return refund

    def _complete_refund(self, refund: dict[str, Any], status: str) -> None:
        if refund["status"] != "PENDING":
            raise ValueError(f"refund {refund['id']} is already {refund['status']}")
        refund.update(status=status, updated_at=_now())
        if status == "COMPLETED":
            payment = self.payments[refund["payment_id"]]
            refunded = (
                payment.get("refunded_money", {}).get("amount", 0)
                + refund["amount_money"]["amount"]
            )
            payment["refunded_money"] = {
                "amount": refunded,
                "currency": refund["amount_money"]["currency"],
            }
            payment["refund_ids"] = [*payment.get("refund_ids", []), refund["id"]]
            payment.update(updated_at=_now(), version_token=_new_id(43))
        self._emit("refund.updated", "refund", refund["id"], {"refund": refund})

    # -- the hosted checkout page ---------------------------------------------------------------

    def _checkout_page(self, request: Request, link_id: str) -> Response:
        link = self.links.get(link_id)
        if link is None:
            return Response(
                "<!doctype html><title>Not found</title><p>No such payment link.</p>",
                404,
                mimetype="text/html",
            )
        order = self.orders[link["order_id"]]
        paid = bool(order.get("tenders"))
        if request.method == "GET":
            return self._page(link, order, "This link has been paid." if paid else "")
        action = request.form.get("action")
        if action == "pay":
            if not paid:
                self._pay(link, order, request.form.get("email") or None)
            redirect = (link.get("checkout_options") or {}).get("redirect_url")
            if not redirect:
                return self._page(link, order, "Payment complete.")
            query = urlencode({"transactionId": order["id"], "orderId": order["id"]})
            separator = "&" if urlsplit(redirect).query else "?"
            return Response("", 303, headers={"Location": f"{redirect}{separator}{query}"})
        if action == "decline" and not paid:
            self._decline(order, request.form.get("email") or None)
            return self._page(link, order, "Your card was declined.", status=402)
        return self._page(
            link, order, "This link has been paid." if paid else "Choose an action.", status=400
        )

    def _page(
        self, link: dict[str, Any], order: dict[str, Any], message: str, status: int = 200
    ) -> Response:
        item = order["line_items"][0]
        total = order["total_money"]
        email = (link.get("pre_populated_data") or {}).get("buyer_email") or ""
        form = ""
        if not order.get("tenders"):
            form = (
                f'<form method="post" action="/checkout/{html.escape(link["id"])}">'
                '<label for="email">Email</label>'
                f'<input id="email" name="email" type="email" value="{html.escape(email)}">'
                '<button type="submit" name="action" value="pay">Complete payment</button>'
                '<button type="submit" name="action" value="decline">Decline card</button>'
                "</form>"
            )
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Pay {html.escape(item['name'])}</title></head><body><main>"
            f"<h1>{html.escape(item['name'])}</h1>"
            f'<p id="amount">{html.escape(_shown(total["amount"], total["currency"]))}</p>'
            + (f'<p role="status">{html.escape(message)}</p>' if message else "")
            + form
            + "</main></body></html>"
        )
        return Response(page, status, mimetype="text/html")

    def _new_payment(self, order: dict[str, Any], email: str | None, status: str) -> dict[str, Any]:
        now = _now()
        payment_id = _new_id(29)
        money = dict(order["total_money"])
        payment: dict[str, Any] = {
            "id": payment_id,
            "created_at": now,
            "updated_at": now,
            "amount_money": money,
            "total_money": money,
            "status": status,
            "source_type": "CARD",
            "card_details": {
                "status": "AUTHORIZED" if status == "APPROVED" else "FAILED",
                "card": {
                    "card_brand": "VISA",
                    "last_4": "1111",
                    "exp_month": 12,
                    "exp_year": datetime.now(UTC).year + 3,
                    "fingerprint": "sq-1-" + _new_id(60),
                    "card_type": "CREDIT",
                    "prepaid_type": "NOT_PREPAID",
                    "bin": "411111",
                },
                "entry_method": "KEYED",
                "cvv_status": "CVV_ACCEPTED",
                "avs_status": "AVS_ACCEPTED",
                "statement_description": "SQ *INVOICE LITE",
                "card_payment_timeline": {"authorized_at": now},
            },
            "location_id": self.location_id,
            "order_id": order["id"],
            "application_details": {
                "square_product": "ECOMMERCE_API",
                "application_id": "sq0idp-fake",
            },
            "version_token": _new_id(43),
        }
        if email:
            payment["buyer_email_address"] = email
        self.payments[payment_id] = payment
        return payment

    def _pay(self, link: dict[str, Any], order: dict[str, Any], email: str | None) -> None:
        payment = self._new_payment(order, email, "APPROVED")
        payment["approved_money"] = dict(payment["amount_money"])
        self._emit("payment.created", "payment", payment["id"], {"payment": payment})
        now = _now()
        amount = payment["amount_money"]
        payment["status"] = "COMPLETED"
        payment["updated_at"] = now
        payment["card_details"]["status"] = "CAPTURED"
        payment["card_details"]["card_payment_timeline"]["captured_at"] = now
        payment["processing_fee"] = [
            {
                "effective_at": now,
                "type": "INITIAL",
                "amount_money": {"amount": _fee(amount["amount"]), "currency": amount["currency"]},
            }
        ]
        payment["receipt_number"] = payment["id"][:4]
        payment["receipt_url"] = f"{self.base}/receipt/preview/{payment['id']}"
        payment["version_token"] = _new_id(43)
        # Payments on a payment link leave the order OPEN; the tender marks it paid.
        order["tenders"] = [
            {
                "id": payment["id"],
                "location_id": self.location_id,
                "transaction_id": order["id"],
                "created_at": payment["created_at"],
                "amount_money": dict(amount),
                "processing_fee_money": dict(payment["processing_fee"][0]["amount_money"]),
                "type": "CARD",
                "card_details": {
                    "status": "CAPTURED",
                    "card": {
                        k: payment["card_details"]["card"][k]
                        for k in ("card_brand", "last_4", "fingerprint")
                    },
                    "entry_method": "KEYED",
                },
                "payment_id": payment["id"],
            }
        ]
        order["net_amount_due_money"] = {"amount": 0, "currency": amount["currency"]}
        order["updated_at"] = now
        order["version"] += 1
        self._emit("payment.updated", "payment", payment["id"], {"payment": payment})

    def _decline(self, order: dict[str, Any], email: str | None) -> None:
        payment = self._new_payment(order, email, "FAILED")
        payment["card_details"]["errors"] = [
            {
                "category": "PAYMENT_METHOD_ERROR",
                "code": "GENERIC_DECLINE",
                "detail": "Authorization error: 'GENERIC_DECLINE'",
            }
        ]
        self._emit("payment.created", "payment", payment["id"], {"payment": payment})

    # -- webhooks --------------------------------------------------------------------------------

    def _emit(
        self, event_type: str, object_type: str, object_id: str, wrapped: dict[str, Any]
    ) -> None:
        event: dict[str, Any] = {
            "merchant_id": self.merchant_id,
            "type": event_type,
            "event_id": str(uuid.uuid4()),
            "created_at": _now(),
            "data": {"type": object_type, "id": object_id, "object": copy.deepcopy(wrapped)},
        }
        if object_type == "dispute":
            event["location_id"] = self.location_id
        self._check_event(event)
        body = json.dumps(event, separators=(",", ":")).encode()
        digest = hmac.new(
            self.signature_key.encode(), self.notification_url.encode() + body, hashlib.sha256
        ).digest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Square Connect v2",
            "Square-Version": SQUARE_VERSION,
            "Square-Initial-Delivery-Timestamp": event["created_at"],
            "Square-Retry-Number": "0",
            "X-Square-HmacSha256-Signature": base64.b64encode(digest).decode(),
        }
        self.sent_events.append((headers, body))
        if self.webhook_url:
            with self._delivered:
                self._pending += 1
            self._outbox.put((self.webhook_url, headers, body))

    def _check_event(self, event: dict[str, Any]) -> None:
        """The whole event against ``<Type>Event`` and its object against its own schema."""
        api = self._apis[0]
        schemas = api.spec / "components" / "schemas"
        name = "".join(part.capitalize() for part in event["type"].split(".")) + "Event"
        wrapped = event["data"]["object"]
        inner = {"payment": "Payment", "refund": "PaymentRefund", "object": "Dispute"}
        checks = [(name, event)] + [(inner[k], v) for k, v in wrapped.items() if k in inner]
        for schema_name, value in checks:
            validator = oas30_read_schema_validators_factory.create(api.spec, schemas / schema_name)
            try:
                validator.validate(value)
            except Exception as error:
                self.problems.append(f"webhook {event['type']} as {schema_name}: {error!r}")
                _details(error, self.problems)

    def _deliver(self) -> None:
        while (item := self._outbox.get()) is not None:
            url, headers, body = item
            event_id = json.loads(body)["event_id"]
            outcome: int | str
            try:
                request = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=10) as answer:
                    outcome = answer.status
            except urllib.error.HTTPError as error:
                outcome = error.code
            except OSError as error:
                outcome = repr(error)
            with self._delivered:
                self.deliveries.append((event_id, outcome))
                self._pending -= 1
                self._delivered.notify_all()


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")
