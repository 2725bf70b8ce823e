from datetime import date

from sqlalchemy import func, select

from portal.models import Client, Document, Payment, Product, TaxRate, User
from portal.services import demo, demo_history

TODAY = date(2026, 11, 25)


def test_the_demo_is_seeded_once_with_people_clients_and_a_catalogue(app, db):
    demo.seed_demo(clients_count=40)
    demo.seed_demo(clients_count=40)
    assert db.session.scalar(select(func.count(User.id))) == 4
    assert db.session.scalar(select(func.count(Client.id))) == 40
    assert db.session.scalar(select(func.count(Product.id))) == 6
    assert db.session.scalar(select(func.count(TaxRate.id))) == 4
    assert {login.role.value for login in demo.demo_logins()} == {
        "owner",
        "accountant",
        "staff",
        "viewer",
    }


def test_history_has_three_currencies_and_payers_of_every_kind(app, db):
    demo.seed_demo(clients_count=10)
    actor = demo.demo_owner()
    made = demo_history.seed_history(actor, today=TODAY, months=3)
    assert made > 40
    assert demo_history.seed_history(actor, today=TODAY, months=3) == 0
    currencies = set(db.session.scalars(select(Document.currency).distinct()))
    assert currencies == {"EUR", "GBP", "USD"}
    statuses = set(db.session.scalars(select(Document.status).distinct()))
    assert {"paid", "issued"} <= statuses
    late = db.session.scalar(
        select(func.count(Payment.id)).where(
            Payment.received_on
            > select(Document.due_date)
            .where(Document.client_id == Payment.client_id)
            .order_by(Document.due_date)
            .limit(1)
            .scalar_subquery()
        )
    )
    assert late > 0
    issued_in_future = db.session.scalar(
        select(func.count(Document.id)).where(Document.issue_date > TODAY)
    )
    assert issued_in_future == 0


def test_history_numbers_follow_dates(app, db):
    demo.seed_demo(clients_count=10)
    demo_history.seed_history(demo.demo_owner(), today=TODAY, months=4)
    rows = db.session.execute(
        select(Document.number, Document.issue_date)
        .where(Document.kind == "invoice", Document.number.is_not(None))
        .order_by(Document.number)
    ).all()
    dates = [d for _, d in rows]
    assert dates == sorted(dates)
    kinds = set(db.session.scalars(select(Document.kind).distinct()))
    assert {k.value for k in kinds} == {"invoice", "quote", "credit_note", "template"}
