"""Webhooks from payment providers: verified by the adapter, applied once by the service."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from portal.extensions import csrf, db
from portal.services import provider_payments
from portal.services.errors import InvalidInput, NotFound

bp = Blueprint("hooks", __name__)


def _answer(receive: Callable[[], int], missing: str) -> ResponseReturnValue:
    """The provider's answer: 200 with how many events were new, 400 for a webhook that does
    not verify (the provider shows it failed), 503 when we could not check it (it retries)."""
    try:
        new = receive()
    except (NotFound, InvalidInput):
        return jsonify(error=missing), 404
    except provider_payments.WebhookInvalid as error:
        db.session.rollback()
        return jsonify(error=str(error)), 400
    except provider_payments.ProviderUnavailable as error:
        db.session.rollback()
        return jsonify(error=str(error)), 503
    return jsonify(received=new), 200


@bp.post("/hooks/payments/<provider>/<account_id>")
@csrf.exempt
def payment_webhook(provider: str, account_id: str) -> ResponseReturnValue:
    return _answer(
        lambda: provider_payments.receive_webhook(
            provider, account_id, dict(request.headers), request.get_data()
        ),
        "No such payment account.",
    )


@bp.post("/hooks/stripe-connect")
@csrf.exempt
def stripe_connect_webhook() -> ResponseReturnValue:
    return _answer(
        lambda: provider_payments.receive_connect_webhook(
            dict(request.headers), request.get_data()
        ),
        "Stripe Connect is not offered on this server.",
    )
