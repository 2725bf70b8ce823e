"""Refunds and dispute evidence for payments clients made online."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.extensions import db
from portal.models import Checkout, Document, Role
from portal.services import payments, provider_payments, saved_cards
from portal.services.errors import InvalidInput
from portal.web.access import current_actor, require_role
from portal.web.filters import money

bp = Blueprint("online_payments", __name__)


@bp.app_context_processor
def request_keys() -> dict[str, object]:
    # A refund form carries a key of its own: the same form sent twice (a double click, a
    # resubmitted page) is one refund at the provider, not two.
    return {"new_request_key": lambda: secrets.token_urlsafe(18)}


def _back_to(payment_id: int) -> str:
    doc = db.session.scalar(
        select(Document)
        .join(Checkout, Checkout.document_id == Document.id)
        .where(Checkout.payment_id == payment_id)
    )
    if doc is None:
        return url_for("invoices.index")
    return url_for("invoices.detail", public_id=doc.public_id) + "#online-payments"


@bp.post("/app/payments/<public_id>/refund")
@require_role(Role.ACCOUNTANT)
def refund(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    payment = payments.get_payment(actor, public_id)
    back = _back_to(payment.id)
    raw = request.form.get("amount", "").strip().replace(",", "")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        flash(f"Enter the amount to refund in {payment.currency}, like 25.00.", "error")
        return redirect(back, 303)
    try:
        made = payments.refund_payment(
            actor,
            public_id,
            amount,
            date.today(),
            request.form.get("reason", ""),
            request_key=request.form.get("request_key") or None,
        )
    except InvalidInput as error:
        flash(next(iter(error.errors.values())), "error")
    else:
        flash(f"Refunded {money(made.amount_minor, made.currency)}.", "success")
    return redirect(back, 303)


@bp.post("/app/disputes/<public_id>/evidence")
@require_role(Role.ACCOUNTANT)
def evidence(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    dispute = provider_payments.get_dispute(actor, public_id)
    back = _back_to(dispute.payment_id)
    upload = request.files.get("file")
    try:
        provider_payments.submit_evidence(
            actor,
            public_id,
            request.form.get("text", ""),
            upload.filename or "" if upload else "",
            upload.read() if upload else b"",
            upload.mimetype if upload else "",
        )
    except InvalidInput as error:
        flash(" ".join(error.errors.values()), "error")
    else:
        flash("Evidence sent; the card network decides within a few weeks.", "success")
    return redirect(back, 303)


@bp.post("/app/cards/<public_id>/recurring")
@require_role(Role.ACCOUNTANT)
def card_recurring(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    use = request.form.get("use") == "1"
    changed = saved_cards.use_for_recurring(actor, public_id, use)
    client = saved_cards.client_of(actor, public_id)
    if use:
        flash(f"{changed} recurring schedule(s) will be charged to the card.", "success")
    else:
        flash("Recurring invoices are no longer charged to the card.", "success")
    return redirect(url_for("clients.detail", public_id=client.public_id), 303)


@bp.post("/app/cards/<public_id>/remove")
@require_role(Role.ACCOUNTANT)
def card_remove(public_id: str) -> ResponseReturnValue:
    actor = current_actor()
    client = saved_cards.client_of(actor, public_id)
    saved_cards.remove(actor, public_id)
    flash("Card removed.", "success")
    return redirect(url_for("clients.detail", public_id=client.public_id), 303)
