"""Cards a client saves at Stripe (a SetupIntent through Checkout) and the recurring invoices
charged to them automatically."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from integrations.payments.base import GatewayError
from portal.billing.money import Money
from portal.billing.status import OPEN_STATUSES
from portal.extensions import db
from portal.models import (
    Business,
    Checkout,
    Client,
    Document,
    PaymentAccount,
    RecurringSchedule,
    Role,
    SavedPaymentMethod,
)
from portal.models.base import utcnow
from portal.services import audit, balances, notifications, outbox, payment_accounts
from portal.services.actors import Actor
from portal.services.client_portal import Opened
from portal.services.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from integrations.payments.stripe import StripeGateway

KIND = "payments.charge_saved"


def _stripe(business: Business) -> PaymentAccount | None:
    return next(
        (a for a in payment_accounts.enabled_accounts(business) if a.provider == "stripe"), None
    )


def _gateway(account: PaymentAccount) -> StripeGateway:
    from integrations.payments.stripe import StripeGateway  # the SDK only when Stripe is used

    gateway = payment_accounts.gateway_for(account)
    assert isinstance(gateway, StripeGateway)  # noqa: S101 -- the account is a Stripe one
    return gateway


def can_save(opened: Opened) -> bool:
    """The portal offers to save a card where the business takes Stripe."""
    return opened.document is None and _stripe(opened.business) is not None


def cards_of(business: Business, client: Client) -> list[SavedPaymentMethod]:
    return list(
        db.session.scalars(
            select(SavedPaymentMethod)
            .where(
                SavedPaymentMethod.business_id == business.id,
                SavedPaymentMethod.client_id == client.id,
                SavedPaymentMethod.removed_at.is_(None),
            )
            .order_by(SavedPaymentMethod.id)
        )
    )


def charging(business: Business, client: Client) -> set[int]:
    """Ids of the cards this client's recurring invoices are charged to."""
    return set(
        db.session.scalars(
            select(RecurringSchedule.saved_method_id).where(
                RecurringSchedule.business_id == business.id,
                RecurringSchedule.client_id == client.id,
                RecurringSchedule.saved_method_id.is_not(None),
            )
        )
    )


# ----------------------------------------------------------------------------- the client


def start_saving(
    opened: Opened, *, return_url: Callable[[str], str], cancel_url: Callable[[str], str]
) -> str:
    account = _stripe(opened.business)
    if account is None or opened.document is not None:
        raise InvalidInput({"card": "Cards cannot be saved here."})
    if not opened.client.email:
        raise InvalidInput({"card": "Ask the sender to add your email address first."})
    checkout = Checkout(
        business_id=opened.business.id,
        account_id=account.id,
        client_id=opened.client.id,
        link_id=opened.link.id,
        provider="stripe",
        purpose="setup",
        amount_minor=0,
        currency=opened.client.currency,
    )
    db.session.add(checkout)
    db.session.commit()
    try:
        hosted = _gateway(account).create_setup_checkout(
            reference=checkout.public_id,
            customer_email=opened.client.email,
            success_url=return_url(checkout.public_id),
            cancel_url=cancel_url(checkout.public_id),
            idempotency_key=f"setup-{checkout.public_id}",
        )
    except GatewayError as error:
        checkout.status, checkout.failure_message = "failed", str(error)[:500]
        db.session.commit()
        raise InvalidInput({"card": "Stripe is not answering just now; try again soon."}) from error
    checkout.provider_checkout_id = hosted.provider_id
    db.session.commit()
    return hosted.url


def finish_saving(opened: Opened, checkout_id: str) -> SavedPaymentMethod | None:
    """The client is back from Stripe: keep the card, once."""
    checkout = db.session.scalar(
        select(Checkout).where(
            Checkout.public_id == checkout_id,
            Checkout.client_id == opened.client.id,
            Checkout.purpose == "setup",
        )
    )
    if checkout is None or checkout.provider_checkout_id is None:
        raise NotFound("No such card.")
    account = db.session.get_one(PaymentAccount, checkout.account_id)
    try:
        saved = _gateway(account).saved_method(checkout.provider_checkout_id)
    except GatewayError:
        return None
    if saved is None:
        return None
    card = db.session.scalar(
        select(SavedPaymentMethod).where(
            SavedPaymentMethod.client_id == opened.client.id,
            SavedPaymentMethod.payment_method_id == saved.payment_method_id,
        )
    )
    if card is None:
        card = SavedPaymentMethod(
            business_id=opened.business.id,
            client_id=opened.client.id,
            provider="stripe",
            customer_id=saved.customer_id,
            payment_method_id=saved.payment_method_id,
            label=saved.label[:80],
        )
        db.session.add(card)
        db.session.flush()
        audit.record(
            business=opened.business,
            actor=None,
            action="client.card_saved",
            entity_type="client",
            entity_id=opened.client.public_id,
            after={"card": card.label},
        )
    checkout.status = "paid"
    db.session.commit()
    return card


# ----------------------------------------------------------------------------- the business


def use_for_recurring(actor: Actor, card_id: str, use: bool) -> int:
    """Charge (or stop charging) the client's recurring invoices to this card; returns how many
    schedules changed."""
    actor.require(Role.ACCOUNTANT)
    card = _card(actor, card_id)
    schedules = db.session.scalars(
        select(RecurringSchedule).where(
            RecurringSchedule.business_id == actor.business.id,
            RecurringSchedule.client_id == card.client_id,
        )
    ).all()
    changed = 0
    for schedule in schedules:
        target = card.id if use else None
        mine = use or schedule.saved_method_id == card.id
        if mine and schedule.saved_method_id != target:
            schedule.saved_method_id = target
            changed += 1
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.card_for_recurring" if use else "client.card_not_for_recurring",
        entity_type="client",
        entity_id=db.session.get_one(Client, card.client_id).public_id,
        after={"card": card.label, "schedules": changed},
    )
    db.session.commit()
    return changed


def remove(actor: Actor, card_id: str) -> None:
    actor.require(Role.ACCOUNTANT)
    card = _card(actor, card_id)
    for schedule in db.session.scalars(
        select(RecurringSchedule).where(RecurringSchedule.saved_method_id == card.id)
    ):
        schedule.saved_method_id = None
    card.removed_at = utcnow()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.card_removed",
        entity_type="client",
        entity_id=db.session.get_one(Client, card.client_id).public_id,
        after={"card": card.label},
    )
    db.session.commit()


def client_of(actor: Actor, card_id: str) -> Client:
    card = db.session.scalar(
        select(SavedPaymentMethod).where(
            SavedPaymentMethod.public_id == card_id,
            SavedPaymentMethod.business_id == actor.business.id,
        )
    )
    if card is None:
        raise NotFound("No such card.")
    return db.session.get_one(Client, card.client_id)


def _card(actor: Actor, card_id: str) -> SavedPaymentMethod:
    card = db.session.scalar(
        select(SavedPaymentMethod).where(
            SavedPaymentMethod.public_id == card_id,
            SavedPaymentMethod.business_id == actor.business.id,
            SavedPaymentMethod.removed_at.is_(None),
        )
    )
    if card is None:
        raise NotFound("No such card.")
    return card


def schedule_charge(business: Business, doc: Document, method_id: int) -> Any:
    """In the caller's transaction: charge the new invoice to the saved card after commit."""
    return outbox.add(
        business,
        KIND,
        f"charge-{doc.public_id}",
        {"document_id": doc.id, "method_id": method_id},
        queue="default",
    )


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    charged: bool
    message: str


def charge(document_id: int, method_id: int) -> ChargeOutcome:
    """Charge an issued invoice's balance to a saved card; the payment is recorded like any
    other (once, by Stripe's PaymentIntent id). Raises ``GatewayError`` when Stripe is down."""
    from portal.services import provider_payments  # it records through payments

    doc = db.session.get(Document, document_id)
    card = db.session.get(SavedPaymentMethod, method_id)
    if doc is None or card is None or card.removed_at is not None:
        return ChargeOutcome(False, "The invoice or the card is gone.")
    balances.refresh(doc)
    if doc.status not in OPEN_STATUSES or doc.balance_minor <= 0:
        db.session.commit()
        return ChargeOutcome(False, "Nothing is left to pay.")
    business = db.session.get_one(Business, doc.business_id)
    account = _stripe(business)
    if account is None:
        return ChargeOutcome(False, "Stripe is not connected any more.")
    checkout = db.session.scalar(
        select(Checkout).where(Checkout.document_id == doc.id, Checkout.purpose == "auto")
    )
    if checkout is None:
        checkout = Checkout(
            business_id=business.id,
            account_id=account.id,
            document_id=doc.id,
            client_id=doc.client_id,
            provider="stripe",
            purpose="auto",
            amount_minor=doc.balance_minor,
            currency=doc.currency,
        )
        db.session.add(checkout)
        db.session.commit()
    try:
        event = _gateway(account).charge_saved_method(
            card.customer_id,
            card.payment_method_id,
            checkout.amount_minor,
            doc.currency,
            reference=checkout.public_id,
            idempotency_key=f"auto-{checkout.public_id}",
        )
    except GatewayError as error:
        if error.retryable:
            raise
        checkout.status, checkout.failure_message = "failed", str(error)[:500]
        amount = str(Money(checkout.amount_minor, doc.currency))
        told = notifications.notify(
            business,
            "payment.failed",
            {
                "id": f"auto-{checkout.public_id}",
                "title": f"Automatic payment for invoice {doc.number} failed",
                "text": f"{card.label} was declined: {error}",
                "url": f"/app/invoices/{doc.public_id}",
                "facts": {"Amount": amount},
            },
        )
        db.session.commit()
        notifications.dispatch(told)
        return ChargeOutcome(False, f"{card.label} was declined: {error}")
    provider_payments.record_event(account, event)
    return ChargeOutcome(True, f"Charged {card.label}.")
