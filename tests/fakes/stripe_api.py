"""A stateful Stripe on 127.0.0.1 for API version 2023-08-16.

Every request and answer is checked against Stripe's published OpenAPI description (see
``SpecServer``); every webhook it sends has its envelope checked against the ``event`` schema and
its ``data.object`` against the object's own schema. Anything off lands in ``problems``.

Besides the API it serves the hosted Checkout page (``/checkout/<session id>``) with the buttons
"Complete payment" and "Decline card" and a "Cancel" link, and a Connect onboarding page.
Test controls: ``refund_from_dashboard``, ``open_dispute``, ``close_dispute``,
``decline_off_session``, ``add_payout``, ``answers`` (scripted failures), ``sent_events``.

    with FakeStripe() as fake:
        fake.webhook_url = "http://127.0.0.1:5000/hooks/stripe"  # or None: events only recorded
        ...
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from types import TracebackType
from typing import Any

from openapi_core.validation.schemas import oas30_read_schema_validators_factory
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from tests.fakes.spec_server import SPECS, SpecServer, deep_object_loads

API_VERSION = "2023-08-16"
ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
EVENT_OBJECTS = {
    "checkout.session": "checkout.session",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "dispute": "dispute",
}
PREFIXES = {
    "cs_test_": "checkout.session",
    "pi_": "payment_intent",
    "ch_": "charge",
    "txn_": "balance_transaction",
    "re_": "refund",
    "dp_": "dispute",
    "file_": "file",
    "cus_": "customer",
    "seti_": "setup_intent",
    "pm_": "payment_method",
    "acct_": "account",
    "po_": "payout",
    "evt_": "event",
}


@cache
def fixtures() -> dict[str, dict[str, Any]]:
    """stripe-mock's sample objects for the same release: the templates of every answer."""
    data = json.loads((SPECS / "stripe" / "fixtures3.json").read_text())
    return dict(data["resources"])


def template(kind: str, **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(fixtures()[kind])
    obj.update(fields)
    return obj


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def stripe_fee(amount: int) -> int:
    """2.9 % + 30 minor units, rounded half up."""
    percent = (Decimal(amount) * Decimal("0.029")).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(percent) + 30


def money_text(amount: int, currency: str) -> str:
    currency = currency.upper()
    if currency in ZERO_DECIMAL:
        return f"{currency} {amount}"
    return f"{currency} {Decimal(amount).scaleb(-2):.2f}"


def form_to_dict(form: MultiDict[str, Any]) -> dict[str, Any]:
    """The nested parameters of a Stripe form body (``a[b][0]=v``), values left as strings."""
    params: dict[str, Any] = {}
    for key in form:
        name = key.split("[", 1)[0]
        if name in params:
            continue
        if "[" in key:
            params[name] = deep_object_loads(True, name, "object", form)
            if all(k.isdigit() for k in params[name]):
                params[name] = [params[name][k] for k in sorted(params[name], key=int)]
        else:
            params[name] = form.get(key)
    return params


class StripeFailure(Exception):
    """An answer in Stripe's error shape."""

    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": type_, "message": message, **extra}


def not_found(kind: str, obj_id: str, param: str = "id") -> StripeFailure:
    return StripeFailure(
        404,
        "invalid_request_error",
        f"No such {kind}: '{obj_id}'",
        code="resource_missing",
        param=param,
    )


Route = tuple[str, str, Callable[..., Any]]


def patch_spec(spec: dict[str, Any]) -> None:
    """Two faults of Stripe's file, fixed in memory. Uploads name their own server
    (files.stripe.com): drop it so that the fake's root matches. And Stripe writes
    ``nullable: true`` beside ``enum`` and ``anyOf`` and means "or null"; under OpenAPI 3.0.3
    that says nothing there, so every such field set to null would fail: spell the null out."""
    for item in spec["paths"].values():
        item.pop("servers", None)
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("servers", None)
    stack: list[Any] = [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("nullable") is True:
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
            for key in ("anyOf", "oneOf"):
                if key in node and {"enum": [None]} not in node[key]:
                    node[key] = [*node[key], {"enum": [None]}]
        stack.extend(node.values())


class FakeStripe(SpecServer):
    specs = ("stripe/spec3.yaml",)
    patch = staticmethod(patch_spec)

    def __init__(
        self, secret_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake"
    ) -> None:
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.webhook_url: str | None = None
        self.answers: list[str] = []  # "rate_limited", "server_error": for the next API calls
        self.objects: dict[str, dict[str, Any]] = {}
        self.owner: dict[str, str | None] = {}  # object id -> connected account, None: platform
        self.sent_events: list[tuple[dict[str, Any], dict[str, str], bytes]] = []
        self.deliveries: list[tuple[str, int | str]] = []  # (event id, HTTP status or error)
        self.idempotent: dict[tuple[str | None, str], tuple[str, bytes, int, bytes]] = {}
        self.off_session_declines: set[str] = set()  # payment method ids
        self.api_calls: list[dict[str, Any]] = []  # method, path, params, headers of API calls
        # What Checkout puts on the PaymentIntent it creates when the payer pays.
        self.session_extra: dict[str, dict[str, Any]] = {}
        self.file_contents: dict[str, bytes] = {}
        self.account_links: dict[str, dict[str, Any]] = {}
        super().__init__()
        self._routes: list[Route] = [
            ("POST", "/v1/checkout/sessions", self._create_session),
            ("GET", "/v1/checkout/sessions/{session}", self._retrieve),
            ("GET", "/v1/payment_intents/{intent}", self._retrieve),
            ("POST", "/v1/payment_intents", self._create_payment_intent),
            ("GET", "/v1/charges/{charge}", self._retrieve),
            ("GET", "/v1/balance_transactions/{id}", self._retrieve),
            ("GET", "/v1/refunds", self._list_refunds),
            ("POST", "/v1/refunds", self._create_refund),
            ("GET", "/v1/refunds/{refund}", self._retrieve),
            ("GET", "/v1/disputes/{dispute}", self._retrieve),
            ("POST", "/v1/disputes/{dispute}", self._update_dispute),
            ("POST", "/v1/files", self._create_file),
            ("POST", "/v1/customers", self._create_customer),
            ("GET", "/v1/customers/{customer}", self._retrieve),
            ("GET", "/v1/setup_intents/{intent}", self._retrieve),
            ("GET", "/v1/payment_methods/{payment_method}", self._retrieve),
            ("POST", "/v1/accounts", self._create_account),
            ("GET", "/v1/accounts/{account}", self._retrieve),
            ("POST", "/v1/account_links", self._create_account_link),
            ("GET", "/v1/payouts", self._list_payouts),
            ("GET", "/v1/events/{id}", self._retrieve),
        ]

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeStripe:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ plumbing

    def unvalidated(self, request: Request) -> bool:
        return request.path.startswith(("/checkout/", "/connect/"))

    def handle(self, request: Request) -> Response:
        outbox: list[dict[str, Any]] = []
        with self.lock:
            if request.path.startswith("/checkout/"):
                response = self._hosted_page(request, outbox)
            elif request.path.startswith("/connect/"):
                response = self._onboarding_page(request)
            else:
                response = self._api(request, outbox)
        for event in outbox:  # outside the lock: the receiver may call back into the API
            self._deliver(event)
        return response

    def _api(self, request: Request, outbox: list[dict[str, Any]]) -> Response:
        try:
            self._check_headers(request)
            route, path_params = self._route(request)
            params = self._params(request, route)
            self.api_calls.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "params": params,
                    "headers": dict(request.headers),
                }
            )
            if self.answers:
                self._scripted(self.answers.pop(0))
            key = request.headers.get("Idempotency-Key")
            account = request.headers.get("Stripe-Account")
            if request.method == "POST" and key:
                seen = self.idempotent.get((account, key))
                body_bytes = request.get_data()
                if seen is not None:
                    if (seen[0], seen[1]) != (request.path, body_bytes):
                        raise StripeFailure(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                        )
                    return Response(
                        seen[3],
                        seen[2],
                        content_type="application/json",
                        headers={"Idempotent-Replayed": "true"},
                    )
            try:
                status, answer = 200, route[2](params, account, outbox, **path_params)
            except StripeFailure as failure:
                status, answer = failure.status, {"error": failure.body}
            except (ValueError, KeyError, TypeError) as error:  # a body the spec refuses too
                self.problems.append(f"{request.method} {request.path}: cannot serve {error!r}")
                status = 400
                answer = {"error": {"type": "invalid_request_error", "message": f"{error}"}}
            body = json.dumps(answer).encode()
            if request.method == "POST" and key and status != 429 and status < 500:
                self.idempotent[(account, key)] = (request.path, request.get_data(), status, body)
            return Response(body, status, content_type="application/json")
        except StripeFailure as failure:
            return Response(
                json.dumps({"error": failure.body}), failure.status, content_type="application/json"
            )

    def _check_headers(self, request: Request) -> None:
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer sk_") or key != self.secret_key:
            raise StripeFailure(
                401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}********"
            )
        version = request.headers.get("Stripe-Version")
        if version != API_VERSION:
            self.problems.append(f"{request.method} {request.path}: Stripe-Version {version!r}")
            raise StripeFailure(
                400, "invalid_request_error", f"Invalid Stripe API version: {version}"
            )

    def _route(self, request: Request) -> tuple[Route, dict[str, str]]:
        parts = request.path.strip("/").split("/")
        for route in self._routes:
            method, pattern, _ = route
            pattern_parts = pattern.strip("/").split("/")
            if method != request.method or len(pattern_parts) != len(parts):
                continue
            found: dict[str, str] = {}
            for want, got in zip(pattern_parts, parts, strict=True):
                if want.startswith("{"):
                    found[want[1:-1]] = got
                elif want != got:
                    break
            else:
                return route, found
        raise StripeFailure(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({request.method}: {request.path}).",
        )

    def _params(self, request: Request, route: Route) -> dict[str, Any]:
        """The nested parameters; a name the spec does not know is Stripe's 400 and a problem."""
        method, pattern, _ = route
        if method == "GET":
            params = form_to_dict(request.args)
            operation = self._apis[0].spec / "paths" / pattern / "get"
            listed = operation / "parameters" if "parameters" in operation else []
            known = {str((p / "name").read_value()) for p in listed}
        else:
            params = form_to_dict(request.form)
            for name, upload in request.files.items():
                params[name] = upload
            content = self._apis[0].spec / "paths" / pattern / "post" / "requestBody" / "content"
            schema = content / request.mimetype / "schema"
            known = set((schema / "properties").keys()) if "properties" in schema else set()
        unknown = sorted(set(params) - known)
        if unknown:
            self.problems.append(f"{method} {request.path}: unknown parameter {unknown[0]!r}")
            raise StripeFailure(
                400,
                "invalid_request_error",
                f"Received unknown parameter: {unknown[0]}",
                param=unknown[0],
            )
        return params

    def _scripted(self, answer: str) -> None:
        if answer == "rate_limited":
            raise StripeFailure(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
        if answer == "server_error":
            raise StripeFailure(500, "api_error", "Something went wrong on Stripe's end.")
        raise ValueError(f"unknown scripted answer {answer!r}")

    def _store(self, obj: dict[str, Any], account: str | None) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        self.owner[obj["id"]] = account
        return obj

    def _get(self, obj_id: str, account: str | None, kind: str | None = None) -> dict[str, Any]:
        obj = self.objects.get(obj_id)
        if obj is None or self.owner.get(obj_id) != account:
            raise not_found(kind or _kind_of(obj_id), obj_id)
        if kind is not None and obj.get("object") != kind:
            raise not_found(kind, obj_id)
        return obj

    def _expanded(self, obj: dict[str, Any], expand: Any, account: str | None) -> dict[str, Any]:
        result = copy.deepcopy(obj)
        for path in expand or []:
            self._expand_path(result, str(path).split("."), account)
        return result

    def _expand_path(self, node: Any, path: list[str], account: str | None) -> None:
        if not path or not isinstance(node, dict):
            return
        head, rest = path[0], path[1:]
        if head == "data" and isinstance(node.get("data"), list):
            for item in node["data"]:
                self._expand_path(item, rest, account)
            return
        value = node.get(head)
        if isinstance(value, str) and value in self.objects:
            value = copy.deepcopy(self._get(value, account))
            node[head] = value
        self._expand_path(value, rest, account)

    # ------------------------------------------------------------------ events

    def _event(
        self, type_: str, obj: dict[str, Any], account: str | None, outbox: list[dict[str, Any]]
    ) -> dict[str, Any]:
        event = template(
            "event",
            id=new_id("evt_"),
            api_version=API_VERSION,
            created=int(time.time()),
            data={"object": copy.deepcopy(obj)},
            type=type_,
            pending_webhooks=1,
            request={"id": None, "idempotency_key": None},
        )
        if account is not None:
            event["account"] = account
        self._check_schema("event", event, f"event {type_}")
        kind = EVENT_OBJECTS.get(str(obj.get("object")))
        if kind is not None:
            self._check_schema(kind, event["data"]["object"], f"event {type_} data.object")
        self._store(event, account)
        outbox.append(event)
        return event

    def _check_schema(self, name: str, value: dict[str, Any], what: str) -> None:
        spec = self._apis[0].spec
        validator = oas30_read_schema_validators_factory.create(
            spec, spec / "components" / "schemas" / name
        )
        for error in validator.validator.iter_errors(value):
            path = "/".join(map(str, error.absolute_path))
            self.problems.append(f"{what}: {path or '(root)'}: {error.message}")

    def sign(self, body: bytes, timestamp: int | None = None, secret: str | None = None) -> str:
        """``Stripe-Signature`` as Stripe writes it."""
        stamp = int(time.time()) if timestamp is None else timestamp
        signed = f"{stamp}.".encode() + body
        digest = hmac.new((secret or self.webhook_secret).encode(), signed, hashlib.sha256)
        return f"t={stamp},v1={digest.hexdigest()}"

    def _deliver(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": self.sign(body),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        with self.lock:
            self.sent_events.append((event, headers, body))
        url = self.webhook_url
        if url is None:
            return
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                outcome: int | str = answer.status
        except urllib.error.HTTPError as error:
            outcome = error.code
        except OSError as error:
            outcome = repr(error)
        with self.lock:
            self.deliveries.append((event["id"], outcome))

    def events_of(self, type_: str) -> list[dict[str, Any]]:
        with self.lock:
            return [event for event, _, _ in self.sent_events if event["type"] == type_]

    # ------------------------------------------------------------------ API handlers

    def _retrieve(
        self, params: dict[str, Any], account: str | None, outbox: list[Any], **ids: str
    ) -> dict[str, Any]:
        (obj_id,) = ids.values()
        return self._expanded(self._get(obj_id, account), params.get("expand"), account)

    def _create_session(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        mode = params.get("mode")
        if mode not in ("payment", "setup"):
            raise StripeFailure(
                400,
                "invalid_request_error",
                "This fake serves mode=payment and mode=setup only.",
                param="mode",
            )
        success_url = params.get("success_url")
        if not success_url:
            raise StripeFailure(
                400,
                "invalid_request_error",
                "Missing required param: success_url.",
                param="success_url",
            )
        session_id = new_id("cs_test_")
        items = params.get("line_items") or []
        amount, currency, name = 0, None, ""
        if mode == "payment":
            if len(items) != 1 or "price_data" not in items[0]:
                raise StripeFailure(
                    400,
                    "invalid_request_error",
                    "This fake takes exactly one line item with price_data.",
                    param="line_items",
                )
            price = items[0]["price_data"]
            currency = str(price["currency"])
            if currency != currency.lower():
                raise StripeFailure(
                    400,
                    "invalid_request_error",
                    f"Invalid currency: {currency}.",
                    param="line_items[0][price_data][currency]",
                )
            amount = int(price["unit_amount"]) * int(items[0].get("quantity", 1))
            name = str(price["product_data"]["name"])
        customer = params.get("customer")
        if customer is not None:
            self._get(customer, account, "customer")
        intent_data = params.get("payment_intent_data") or {}
        if "application_fee_amount" in intent_data and account is None:
            raise StripeFailure(
                400,
                "invalid_request_error",
                "Can only apply an application_fee_amount when the PaymentIntent is attempting "
                "a direct payment (using an OAuth key or Stripe-Account header) or destination "
                "payment (using `transfer_data[destination]`).",
                param="payment_intent_data[application_fee_amount]",
            )
        session = template(
            "checkout.session",
            id=session_id,
            mode=mode,
            amount_subtotal=amount if mode == "payment" else None,
            amount_total=amount if mode == "payment" else None,
            currency=currency,
            cancel_url=params.get("cancel_url"),
            success_url=success_url,
            client_reference_id=params.get("client_reference_id"),
            customer=customer,
            customer_email=params.get("customer_email"),
            customer_details=None,
            created=int(time.time()),
            expires_at=int(time.time()) + 24 * 3600,
            locale=params.get("locale"),
            metadata=dict(params.get("metadata") or {}),
            payment_intent=None,
            payment_method_types=list(params.get("payment_method_types") or ["card"]),
            payment_status="unpaid" if mode == "payment" else "no_payment_required",
            status="open",
            url=f"{self.base}/checkout/{session_id}",
            total_details=(
                {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}
                if mode == "payment"
                else None
            ),
        )
        self._store(session, account)
        self.session_extra[session_id] = {"name": name, "intent_data": intent_data}
        return session

    def _new_payment_method(self, account: str | None, customer: str | None) -> dict[str, Any]:
        method = template(
            "payment_method",
            id=new_id("pm_"),
            created=int(time.time()),
            customer=customer,
            metadata={},
        )
        return self._store(method, account)

    def _new_intent(
        self,
        amount: int,
        currency: str,
        account: str | None,
        *,
        metadata: dict[str, Any],
        customer: str | None = None,
        application_fee: int | None = None,
        setup_future_usage: str | None = None,
        methods: list[str] | None = None,
    ) -> dict[str, Any]:
        intent_id = new_id("pi_")
        intent = template(
            "payment_intent",
            id=intent_id,
            amount=amount,
            currency=currency,
            application_fee_amount=application_fee,
            canceled_at=None,
            client_secret=f"{intent_id}_secret_{secrets.token_hex(8)}",
            created=int(time.time()),
            customer=customer,
            metadata=dict(metadata),
            payment_method_types=methods or ["card"],
            setup_future_usage=setup_future_usage,
        )
        return self._store(intent, account)

    def _succeed(
        self, intent: dict[str, Any], method: dict[str, Any], account: str | None
    ) -> dict[str, Any]:
        """Charge the intent: a captured charge with its balance transaction (fee included)."""
        amount, currency = intent["amount"], intent["currency"]
        fee = stripe_fee(amount)
        charge_id = new_id("ch_")
        txn = template(
            "balance_transaction",
            id=new_id("txn_"),
            amount=amount,
            currency=currency,
            created=int(time.time()),
            available_on=int(time.time()) + 2 * 24 * 3600,
            description=None,
            fee=fee,
            fee_details=[
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ],
            net=amount - fee,
            reporting_category="charge",
            source=charge_id,
            status="pending",
            type="charge",
        )
        self._store(txn, account)
        charge = self._charge(intent, method, charge_id, account)
        charge.update(
            amount_captured=amount,
            balance_transaction=txn["id"],
            captured=True,
            paid=True,
            status="succeeded",
            outcome=_outcome("authorized", "approved_by_network"),
        )
        intent.update(
            amount_received=amount,
            latest_charge=charge_id,
            payment_method=method["id"],
            status="succeeded",
            last_payment_error=None,
        )
        return charge

    def _charge(
        self, intent: dict[str, Any], method: dict[str, Any], charge_id: str, account: str | None
    ) -> dict[str, Any]:
        charge = template(
            "charge",
            id=charge_id,
            amount=intent["amount"],
            amount_captured=0,
            application_fee_amount=intent["application_fee_amount"],
            balance_transaction=None,
            billing_details=method["billing_details"],
            captured=False,
            created=int(time.time()),
            currency=intent["currency"],
            customer=intent["customer"],
            description=None,
            metadata=dict(intent["metadata"]),
            payment_intent=intent["id"],
            payment_method=method["id"],
            receipt_url=None,
        )
        charge.pop("refunds", None)  # not part of a Charge since API version 2022-11-15
        return self._store(charge, account)

    def _decline(
        self, intent: dict[str, Any], method: dict[str, Any], account: str | None
    ) -> dict[str, Any]:
        charge = self._charge(intent, method, new_id("ch_"), account)
        message = "Your card was declined."
        charge.update(
            paid=False,
            status="failed",
            failure_code="card_declined",
            failure_message=message,
            outcome=_outcome("issuer_declined", "declined_by_network", "generic_decline"),
        )
        error = {
            "charge": charge["id"],
            "code": "card_declined",
            "decline_code": "generic_decline",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "message": message,
            "payment_method": copy.deepcopy(method),
            "type": "card_error",
        }
        intent.update(
            latest_charge=charge["id"],
            last_payment_error=error,
            payment_method=None,
            status="requires_payment_method",
        )
        return error

    def _create_payment_intent(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        """Off-session charges of a saved method: ``confirm=true`` with customer and method."""
        if params.get("confirm") != "true" or not params.get("payment_method"):
            raise StripeFailure(
                400,
                "invalid_request_error",
                "This fake creates PaymentIntents only with confirm=true and a payment_method.",
            )
        method = self._get(params["payment_method"], account, "payment_method")
        customer = params.get("customer")
        if method.get("customer") != customer:
            raise StripeFailure(
                400,
                "invalid_request_error",
                "The provided PaymentMethod was previously used with a PaymentIntent without "
                "Customer attachment, shared with a connected account without Customer "
                "attachment, or was detached from a Customer. It may not be used again.",
                param="payment_method",
            )
        intent = self._new_intent(
            int(params["amount"]),
            str(params["currency"]),
            account,
            metadata=dict(params.get("metadata") or {}),
            customer=customer,
            application_fee=_int_or_none(params.get("application_fee_amount")),
        )
        intent["payment_method"] = method["id"]
        if method["id"] in self.off_session_declines:
            error = self._decline(intent, method, account)
            self._event("payment_intent.payment_failed", intent, account, outbox)
            error["payment_intent"] = copy.deepcopy(intent)
            del error["type"]
            raise StripeFailure(402, "card_error", **error)
        self._succeed(intent, method, account)
        self._event("payment_intent.succeeded", intent, account, outbox)
        return self._expanded(intent, params.get("expand"), account)

    def _refunds_of(self, charge_id: str) -> list[dict[str, Any]]:
        found = [
            obj
            for obj in self.objects.values()
            if obj.get("object") == "refund" and obj.get("charge") == charge_id
        ]
        return sorted(found, key=lambda refund: refund["created"], reverse=True)

    def _refund(
        self,
        intent: dict[str, Any],
        amount: int | None,
        account: str | None,
        outbox: list[Any],
        *,
        metadata: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        if intent.get("status") != "succeeded":
            raise StripeFailure(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                code="charge_not_refundable",
            )
        charge = self.objects[intent["latest_charge"]]
        left = charge["amount"] - charge["amount_refunded"]
        amount = left if amount is None else amount
        if amount <= 0 or amount > left:
            raise StripeFailure(
                400,
                "invalid_request_error",
                f"Refund amount ({money_text(amount, charge['currency'])}) is greater than "
                f"unrefunded amount on charge ({money_text(left, charge['currency'])})",
                param="amount",
            )
        txn = template(
            "balance_transaction",
            id=new_id("txn_"),
            amount=-amount,
            currency=charge["currency"],
            created=int(time.time()),
            description="REFUND FOR PAYMENT",
            fee=0,
            fee_details=[],
            net=-amount,
            reporting_category="refund",
            source=None,
            status="available",
            type="refund",
        )
        self._store(txn, account)
        refund = template(
            "refund",
            id=new_id("re_"),
            amount=amount,
            balance_transaction=txn["id"],
            charge=charge["id"],
            created=int(time.time()),
            currency=charge["currency"],
            metadata=dict(metadata or {}),
            payment_intent=intent["id"],
            reason=reason,
            status="succeeded",
        )
        txn["source"] = refund["id"]
        self._store(refund, account)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._event("charge.refunded", charge, account, outbox)
        return refund

    def _create_refund(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise StripeFailure(
                400,
                "invalid_request_error",
                "This fake refunds by payment_intent only.",
                param="payment_intent",
            )
        intent = self._get(intent_id, account, "payment_intent")
        return self._refund(
            intent,
            _int_or_none(params.get("amount")),
            account,
            outbox,
            metadata=params.get("metadata"),
            reason=params.get("reason"),
        )

    def _list_refunds(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        refunds = [
            r
            for r in self.objects.values()
            if r.get("object") == "refund"
            and self.owner[r["id"]] == account
            and params.get("charge") in (None, r["charge"])
            and params.get("payment_intent") in (None, r["payment_intent"])
        ]
        refunds.sort(key=lambda r: r["created"], reverse=True)
        limit = int(params.get("limit", 10))
        return {
            "object": "list",
            "data": copy.deepcopy(refunds[:limit]),
            "has_more": len(refunds) > limit,
            "url": "/v1/refunds",
        }

    def _update_dispute(
        self, params: dict[str, Any], account: str | None, outbox: list[Any], dispute: str
    ) -> dict[str, Any]:
        found = self._get(dispute, account, "dispute")
        if found["status"] in ("won", "lost"):
            raise StripeFailure(
                400,
                "invalid_request_error",
                f"This dispute is already closed: {found['status']}.",
            )
        evidence = params.get("evidence") or {}
        for field, value in evidence.items():
            if field not in found["evidence"]:
                raise StripeFailure(
                    400, "invalid_request_error", f"Received unknown parameter: evidence[{field}]"
                )
            if (
                field.endswith(
                    (
                        "_file",
                        "_documentation",
                        "receipt",
                        "_policy",
                        "_communication",
                        "customer_signature",
                    )
                )
                and value
            ):
                upload = self._get(value, account, "file")
                if upload["purpose"] != "dispute_evidence":
                    raise StripeFailure(
                        400,
                        "invalid_request_error",
                        f"The file {value} has purpose {upload['purpose']}, not dispute_evidence.",
                        param=f"evidence[{field}]",
                    )
            found["evidence"][field] = value
        if params.get("metadata"):
            found["metadata"].update(params["metadata"])
        details = found["evidence_details"]
        details["has_evidence"] = any(v for v in found["evidence"].values())
        if params.get("submit") == "true":
            details["submission_count"] += 1
            found["status"] = "under_review"
        self._event("charge.dispute.updated", found, account, outbox)
        return self._expanded(found, params.get("expand"), account)

    def _create_file(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        upload = params.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise StripeFailure(
                400, "invalid_request_error", "Missing required param: file.", param="file"
            )
        content = upload.read()
        upload.close()
        file_id = new_id("file_")
        name = upload.filename or file_id
        found = template(
            "file",
            id=file_id,
            created=int(time.time()),
            expires_at=None,
            filename=name,
            links=None,
            purpose=params.get("purpose"),
            size=len(content),
            title=None,
            type=name.rsplit(".", 1)[-1].lower() if "." in name else None,
            url=f"{self.base}/v1/files/{file_id}/contents",
        )
        self._store(found, account)
        self.file_contents[file_id] = content
        return found

    def file_content(self, file_id: str) -> bytes:
        with self.lock:
            return self.file_contents[file_id]

    def _create_customer(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        customer = template(
            "customer",
            id=new_id("cus_"),
            created=int(time.time()),
            currency=None,
            email=params.get("email"),
            name=params.get("name"),
            description=params.get("description"),
            metadata=dict(params.get("metadata") or {}),
            invoice_prefix=secrets.token_hex(4).upper(),
        )
        return self._store(customer, account)

    def _create_account(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        if account is not None:
            raise StripeFailure(
                400, "invalid_request_error", "Connected accounts cannot create accounts."
            )
        account_id = "acct_" + secrets.token_hex(8).upper()
        created = template(
            "account",
            id=account_id,
            created=int(time.time()),
            email=params.get("email"),
            type=params.get("type", "standard"),
            charges_enabled=False,
            payouts_enabled=False,
            details_submitted=False,
            metadata=dict(params.get("metadata") or {}),
        )
        created["external_accounts"]["url"] = f"/v1/accounts/{account_id}/external_accounts"
        return self._store(created, None)

    def _create_account_link(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        target = self._get(str(params.get("account")), None, "account")
        token = secrets.token_urlsafe(12)
        self.account_links[token] = {
            "account": target["id"],
            "refresh_url": params.get("refresh_url"),
            "return_url": params.get("return_url"),
        }
        now = int(time.time())
        return template(
            "account_link",
            created=now,
            expires_at=now + 300,
            url=f"{self.base}/connect/onboarding/{token}",
        )

    def _list_payouts(
        self, params: dict[str, Any], account: str | None, outbox: list[Any]
    ) -> dict[str, Any]:
        payouts = [
            p
            for p in self.objects.values()
            if p.get("object") == "payout" and self.owner[p["id"]] == account
        ]
        payouts.sort(key=lambda p: p["created"], reverse=True)
        limit = int(params.get("limit", 10))
        return {
            "object": "list",
            "data": copy.deepcopy(payouts[:limit]),
            "has_more": len(payouts) > limit,
            "url": "/v1/payouts",
        }

    # ------------------------------------------------------------------ hosted pages

    def _hosted_page(self, request: Request, outbox: list[dict[str, Any]]) -> Response:
        parts = request.path.strip("/").split("/")  # checkout/<id>[/pay|/decline]
        session = self.objects.get(parts[1]) if len(parts) >= 2 else None
        if session is None or session.get("object") != "checkout.session":
            return Response("<h1>Something went wrong</h1>", 404, content_type="text/html")
        action = parts[2] if len(parts) == 3 else ""
        if request.method == "GET" and not action:
            return self._page(session, "")
        if request.method != "POST" or action not in ("pay", "decline"):
            return Response("Method not allowed", 405)
        if session["status"] == "complete":
            return _see_other(session["success_url"], session["id"])
        if session["status"] != "open":
            return self._page(session, "This Checkout Session is no longer active.", 410)
        account = self.owner[session["id"]]
        if session["mode"] == "setup":
            if action == "decline":
                return self._page(session, "Your card was declined.", 402)
            self._complete_setup(session, account, outbox)
        elif action == "decline":
            intent = self._session_intent(session, account)
            method = self._new_payment_method(account, None)
            self._decline(intent, method, account)
            self._event("payment_intent.payment_failed", intent, account, outbox)
            return self._page(session, "Your card was declined.", 402)
        else:
            intent = self._session_intent(session, account)
            method = self._new_payment_method(account, session["customer"])
            self._succeed(intent, method, account)
            session.update(status="complete", payment_status="paid")
            session["customer_details"] = _customer_details(session["customer_email"])
            self._event("checkout.session.completed", session, account, outbox)
            self._event("payment_intent.succeeded", intent, account, outbox)
        return _see_other(session["success_url"], session["id"])

    def _session_intent(self, session: dict[str, Any], account: str | None) -> dict[str, Any]:
        if session["payment_intent"] is not None:
            return self.objects[session["payment_intent"]]
        extra = self.session_extra[session["id"]]
        intent_data = extra["intent_data"]
        intent = self._new_intent(
            session["amount_total"],
            session["currency"],
            account,
            metadata=intent_data.get("metadata") or {},
            customer=session["customer"],
            application_fee=_int_or_none(intent_data.get("application_fee_amount")),
            setup_future_usage=intent_data.get("setup_future_usage"),
            methods=session["payment_method_types"],
        )
        intent["description"] = extra["name"]
        intent["receipt_email"] = session["customer_email"]
        session["payment_intent"] = intent["id"]
        return intent

    def _complete_setup(
        self, session: dict[str, Any], account: str | None, outbox: list[dict[str, Any]]
    ) -> None:
        customer = session["customer"]
        if customer is None:
            created = self._create_customer({"email": session["customer_email"]}, account, [])
            customer = session["customer"] = created["id"]
        method = self._new_payment_method(account, customer)
        intent = template(
            "setup_intent",
            id=new_id("seti_"),
            created=int(time.time()),
            customer=customer,
            metadata=dict(session["metadata"]),
            payment_method=method["id"],
            payment_method_types=session["payment_method_types"],
            status="succeeded",
            usage="off_session",
        )
        intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(8)}"
        self._store(intent, account)
        session.update(status="complete", setup_intent=intent["id"])
        session["customer_details"] = _customer_details(session["customer_email"])
        self._event("checkout.session.completed", session, account, outbox)

    def _page(self, session: dict[str, Any], message: str, status: int = 200) -> Response:
        extra = self.session_extra.get(session["id"], {})
        if session["mode"] == "payment":
            title = html.escape(str(extra.get("name", "")))
            amount = html.escape(money_text(session["amount_total"], session["currency"]))
            summary = f"<h1>{title}</h1><p class='amount'>{amount}</p>"
        else:
            summary = "<h1>Save a card for future payments</h1>"
        notice = f"<p role='alert'>{html.escape(message)}</p>" if message else ""
        sid = html.escape(session["id"])
        cancel = html.escape(str(session.get("cancel_url") or "/"))
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title></head>
<body><main>{summary}{notice}
<p>Card: Visa •••• 4242</p>
<form method="post" action="/checkout/{sid}/pay">
<button type="submit">Complete payment</button></form>
<form method="post" action="/checkout/{sid}/decline">
<button type="submit">Decline card</button></form>
<a href="{cancel}">Cancel</a>
</main></body></html>"""
        return Response(page, status, content_type="text/html; charset=utf-8")

    def _onboarding_page(self, request: Request) -> Response:
        token = request.path.rstrip("/").rsplit("/", 1)[-1]
        link = self.account_links.get(token)
        if link is None:
            return Response("<h1>This link has expired</h1>", 404, content_type="text/html")
        if request.method == "POST":
            self.complete_onboarding(link["account"])
            return Response(status=303, headers={"Location": link["return_url"]})
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stripe onboarding</title></head>
<body><main><h1>Set up payments for {html.escape(link["account"])}</h1>
<form method="post"><button type="submit">Complete onboarding</button></form>
<a href="{html.escape(str(link["refresh_url"]))}">Start again</a>
</main></body></html>"""
        return Response(page, 200, content_type="text/html; charset=utf-8")

    # ------------------------------------------------------------------ test controls

    def _run(self, work: Callable[[list[dict[str, Any]]], Any]) -> Any:
        outbox: list[dict[str, Any]] = []
        with self.lock:
            result = work(outbox)
        for event in outbox:
            self._deliver(event)
        return result

    def refund_from_dashboard(self, payment_intent_id: str, amount: int | None = None) -> str:
        """A refund made in Stripe's dashboard: sends ``charge.refunded``; the refund's id."""

        def work(outbox: list[dict[str, Any]]) -> str:
            account = self.owner[payment_intent_id]
            intent = self._get(payment_intent_id, account, "payment_intent")
            return str(self._refund(intent, amount, account, outbox)["id"])

        return str(self._run(work))

    def open_dispute(self, payment_intent_id: str, reason: str = "fraudulent") -> str:
        """The payer's bank disputes the payment: ``charge.dispute.created``; the dispute's id."""

        def work(outbox: list[dict[str, Any]]) -> str:
            account = self.owner[payment_intent_id]
            intent = self._get(payment_intent_id, account, "payment_intent")
            charge = self.objects[intent["latest_charge"]]
            charge["disputed"] = True
            dispute = template(
                "dispute",
                id=new_id("dp_"),
                amount=charge["amount"] - charge["amount_refunded"],
                charge=charge["id"],
                created=int(time.time()),
                currency=charge["currency"],
                evidence_details={
                    "due_by": int(time.time()) + 7 * 24 * 3600,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                metadata={},
                payment_intent=intent["id"],
                reason=reason,
                status="needs_response",
            )
            self._store(dispute, account)
            self._event("charge.dispute.created", dispute, account, outbox)
            return str(dispute["id"])

        return str(self._run(work))

    def close_dispute(self, dispute_id: str, status: str = "won") -> None:
        if status not in ("won", "lost"):
            raise ValueError(status)

        def work(outbox: list[dict[str, Any]]) -> None:
            account = self.owner[dispute_id]
            dispute = self._get(dispute_id, account, "dispute")
            dispute["status"] = status
            dispute["is_charge_refundable"] = False
            self._event("charge.dispute.closed", dispute, account, outbox)

        self._run(work)

    def decline_off_session(self, payment_method_id: str) -> None:
        """Later off-session charges of this saved method are declined (402 card_declined)."""
        with self.lock:
            self.off_session_declines.add(payment_method_id)

    def complete_onboarding(self, account_id: str) -> None:
        with self.lock:
            account = self.objects[account_id]
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)

    def add_payout(
        self,
        amount: int,
        currency: str = "eur",
        *,
        status: str = "paid",
        arrival_date: int | None = None,
        account: str | None = None,
    ) -> str:
        with self.lock:
            now = int(time.time())
            payout = template(
                "payout",
                id=new_id("po_"),
                amount=amount,
                arrival_date=arrival_date if arrival_date is not None else now + 2 * 24 * 3600,
                balance_transaction=None,
                created=now + len(self.objects),  # keeps newest-first order stable
                currency=currency,
                destination=None,
                status=status,
                metadata={},
            )
            self._store(payout, account)
            return str(payout["id"])

    def get(self, obj_id: str) -> dict[str, Any]:
        """A copy of a stored object, for assertions."""
        with self.lock:
            return copy.deepcopy(self.objects[obj_id])


@contextmanager
def fake_stripe_server(
    secret_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake"
) -> Iterator[FakeStripe]:
    """For a pytest fixture: ``with fake_stripe_server() as fake: yield fake``."""
    fake = FakeStripe(secret_key, webhook_secret)
    try:
        yield fake
    finally:
        fake.stop()


def _kind_of(obj_id: str) -> str:
    for prefix, kind in PREFIXES.items():
        if obj_id.startswith(prefix):
            return kind
    return "object"


def _int_or_none(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _outcome(type_: str, status: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "network_status": status,
        "reason": reason,
        "risk_level": "normal",
        "risk_score": 32,
        "seller_message": "Payment complete." if reason is None else "The bank declined it.",
        "type": type_,
    }


def _customer_details(email: str | None) -> dict[str, Any]:
    return {
        "address": None,
        "email": email,
        "name": "Jenny Rosen",
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def _see_other(success_url: str, session_id: str) -> Response:
    location = success_url.replace("{CHECKOUT_SESSION_ID}", session_id)
    return Response(status=303, headers={"Location": location})
