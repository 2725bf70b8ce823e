"""A client saves a card through Stripe; recurring invoices are charged to it automatically."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Checkout,
    Document,
    DocumentKind,
    OutboxMessage,
    Payment,
    RecurringSchedule,
    Role,
    SavedPaymentMethod,
)
from portal.services import client_portal, recurring, saved_cards
from portal.services.recurring import ScheduleData
from tests.conftest import Team
from tests.fakes.stripe_api import FakeStripe, stripe_fee
from tests.payments.conftest import connect, submit
from tests.services import factories as f


@pytest.fixture
def card_shop(team: Team, fake_stripe: FakeStripe) -> dict[str, Any]:
    actor = team.actor(Role.STAFF)
    client = f.client(actor, email="ap@blueharbor.example")
    connect(
        team,
        "stripe",
        {"secret_key": fake_stripe.secret_key, "webhook_secret": fake_stripe.webhook_secret},
    )
    _, token = client_portal.create_link(actor, client.public_id)
    return {"client": client, "token": token}


def _save_card(client: FlaskClient, token: str) -> Any:
    home = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "Save a card" in home
    started = client.post(f"/pay/{token}/cards")
    assert started.status_code == 303, started.get_data(as_text=True)
    back = submit(started.location + "/pay")
    return client.get(back.replace("http://127.0.0.1", ""))


def test_a_client_saves_a_card_once(client: FlaskClient, card_shop: dict[str, Any]) -> None:
    page = _save_card(client, card_shop["token"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Card saved" in text and "4242" in text
    again = client.get(page.request.path)
    assert "Card saved" in again.get_data(as_text=True)
    cards = list(db.session.scalars(select(SavedPaymentMethod)))
    assert len(cards) == 1 and cards[0].customer_id.startswith("cus_")
    assert "4242" in client.get(f"/pay/{card_shop['token']}").get_data(as_text=True)


def _schedule_for(team: Team, customer: Any) -> RecurringSchedule:
    return recurring.create_schedule(
        team.actor(Role.OWNER),
        ScheduleData(
            client_id=customer.public_id,
            lines=(f.line("Retainer", "1", "500.00"),),
            frequency="monthly",
            start_date=date(2026, 1, 31),
            end_after_count=1,
            auto_send=True,
        ),
    )


def test_recurring_invoices_are_charged_to_the_saved_card(
    client: FlaskClient, team: Team, card_shop: dict[str, Any], fake_stripe: FakeStripe
) -> None:
    _save_card(client, card_shop["token"])
    schedule = _schedule_for(team, card_shop["client"])
    [card] = db.session.scalars(select(SavedPaymentMethod))
    assert saved_cards.use_for_recurring(team.actor(Role.ACCOUNTANT), card.public_id, True) == 1
    db.session.refresh(schedule)
    assert schedule.saved_method_id == card.id

    [made] = recurring.run_due_schedules(team.business, today=date(2026, 1, 31))
    doc = db.session.get_one(Document, made.id)
    db.session.refresh(doc)
    assert doc.status == "paid"
    [payment] = db.session.scalars(select(Payment))
    assert payment.amount_minor == 50000 and payment.fee_minor == stripe_fee(50000)
    [message] = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "payments.charge_saved")
    )
    assert message.status == "done"
    # Running the job again (a retry) charges nothing twice.
    assert saved_cards.charge(doc.id, card.id).charged is False
    assert len(list(db.session.scalars(select(Payment)))) == 1


def test_a_declined_saved_card_leaves_the_invoice_open_and_says_why(
    client: FlaskClient, team: Team, card_shop: dict[str, Any], fake_stripe: FakeStripe
) -> None:
    _save_card(client, card_shop["token"])
    _schedule_for(team, card_shop["client"])
    [card] = db.session.scalars(select(SavedPaymentMethod))
    saved_cards.use_for_recurring(team.actor(Role.ACCOUNTANT), card.public_id, True)
    fake_stripe.decline_off_session(card.payment_method_id)
    [made] = recurring.run_due_schedules(team.business, today=date(2026, 1, 31))
    doc = db.session.get_one(Document, made.id)
    db.session.refresh(doc)
    assert doc.status == "sent" and doc.balance_minor == 50000
    failed = db.session.scalar(select(Checkout).where(Checkout.purpose == "auto"))
    assert failed is not None and failed.status == "failed" and failed.failure_message


def test_staff_see_the_card_and_switch_recurring_charges(
    client: FlaskClient, team: Team, card_shop: dict[str, Any], login: Any
) -> None:
    _save_card(client, card_shop["token"])
    _schedule_for(team, card_shop["client"])
    staff = login(Role.ACCOUNTANT)
    page = staff.get(f"/app/clients/{card_shop['client'].public_id}").get_data(as_text=True)
    assert "Saved cards" in page and "4242" in page and "Not used" in page
    [card] = db.session.scalars(select(SavedPaymentMethod))
    done = staff.post(f"/app/cards/{card.public_id}/recurring", data={"use": "1"})
    assert done.status_code == 303
    page = staff.get(done.location).get_data(as_text=True)
    assert "Charged automatically" in page
    staff.post(f"/app/cards/{card.public_id}/remove")
    schedule = db.session.scalar(select(RecurringSchedule))
    assert schedule is not None and schedule.saved_method_id is None
    page = staff.get(f"/app/clients/{card_shop['client'].public_id}").get_data(as_text=True)
    assert "Saved cards" not in page


def test_a_card_is_not_offered_on_a_single_invoice_link(
    client: FlaskClient, team: Team, card_shop: dict[str, Any]
) -> None:
    actor = team.actor(Role.STAFF)
    invoice = f.issued_invoice(actor, card_shop["client"], f.line(price="10"))
    _, token = client_portal.create_link(actor, card_shop["client"].public_id, invoice.public_id)
    response = client.post(f"/pay/{token}/cards")
    assert response.status_code == 422
    assert invoice.kind is DocumentKind.INVOICE
