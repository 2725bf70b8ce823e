"""The demo business: people, clients with contacts, a catalogue and tax rates."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.models import Business, Membership, Role, User
from portal.services import catalogue, clients
from portal.services.actors import Actor
from portal.services.auth import SignUp, sign_up
from portal.services.passwords import hash_password

DEMO_BUSINESS = "Northwind Studio Ltd"
DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - printed for the demo, never used in production
DEMO_PEOPLE = (
    ("owner@northwind.example", "Olivia Owner", Role.OWNER),
    ("accountant@northwind.example", "Adam Accountant", Role.ACCOUNTANT),
    ("staff@northwind.example", "Sam Staff", Role.STAFF),
    ("viewer@northwind.example", "Vera Viewer", Role.VIEWER),
)

_COMPANIES = (
    "Acme",
    "Blue Harbor",
    "Cedar & Pine",
    "Delta Freight",
    "Evergreen",
    "Fjord Design",
    "Granite Works",
    "Helios Energy",
    "Iris Labs",
    "Juniper Foods",
    "Kestrel Media",
    "Lumen Optics",
    "Maple Dental",
    "Nimbus Cloud",
    "Orchid Spa",
    "Pioneer Bikes",
    "Quartz Legal",
    "Riverbend Farm",
    "Summit Yoga",
    "Tidewater Marine",
)
_SUFFIXES = ("GmbH", "Ltd", "SARL", "LLC")
_FIRST = ("Anna", "Ben", "Chloé", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas")
_LAST = ("Schmidt", "Martin", "García", "Smith", "Rossi", "Dubois", "Novak", "Berg", "Silva")
_CITIES = (("Berlin", "DE"), ("Paris", "FR"), ("Madrid", "ES"), ("London", "GB"), ("Austin", "US"))
_CURRENCY = {"DE": "EUR", "FR": "EUR", "ES": "EUR", "GB": "GBP", "US": "USD"}
_TAGS = ("retainer", "agency", "design", "consulting", "priority", "non-profit")


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    role: Role
    password: str


def demo_exists() -> bool:
    return (
        db.session.scalar(select(Business.id).where(Business.legal_name == DEMO_BUSINESS))
        is not None
    )


def demo_owner() -> Actor:
    """The demo business's owner, as the actor the history is written by."""
    business = db.session.scalar(select(Business).where(Business.legal_name == DEMO_BUSINESS))
    if business is None:
        raise LookupError("the demo business is not seeded")
    owner = db.session.scalar(
        select(User)
        .join(Membership)
        .where(Membership.business_id == business.id, Membership.role == Role.OWNER)
    )
    if owner is None:
        raise LookupError("the demo business has no owner")
    return Actor(owner, business, Role.OWNER)


def demo_logins() -> list[DemoLogin]:
    return [DemoLogin(email, role, DEMO_PASSWORD) for email, _, role in DEMO_PEOPLE]


def seed_demo(clients_count: int = 40, progress: Callable[[int], None] | None = None) -> Business:
    """Create the demo business once; a second run changes nothing."""
    existing = db.session.scalar(select(Business).where(Business.legal_name == DEMO_BUSINESS))
    if existing is not None:
        return existing
    rng = random.Random(2026)  # noqa: S311 - repeatable demo data, not security
    owner_email, owner_name, _ = DEMO_PEOPLE[0]
    owner, business = sign_up(
        SignUp(
            email=owner_email,
            password=DEMO_PASSWORD,
            name=owner_name,
            business_name=DEMO_BUSINESS,
            base_currency="EUR",
            time_zone="Europe/Berlin",
            locale="en",
        )
    )
    password_hash = hash_password(DEMO_PASSWORD)
    for email, name, role in DEMO_PEOPLE[1:]:
        user = User(email=email, name=name, password_hash=password_hash)
        db.session.add_all([user, Membership(user=user, business=business, role=role)])
    db.session.commit()
    actor = Actor(owner, business, Role.OWNER)
    vat = catalogue.create_tax_rate(actor, catalogue.TaxRateData("VAT 19%", Decimal("19")))
    reduced = catalogue.create_tax_rate(actor, catalogue.TaxRateData("VAT 7%", Decimal("7")))
    catalogue.create_tax_rate(
        actor, catalogue.TaxRateData("Zero rated", Decimal("0"), category="Z")
    )
    catalogue.create_tax_rate(
        actor, catalogue.TaxRateData("Reverse charge", Decimal("0"), category="AE")
    )
    for name, price, unit, rate in (
        ("Design hour", "95.00", "hour", vat),
        ("Development hour", "110.00", "hour", vat),
        ("Strategy workshop", "1200.00", "day", vat),
        ("Hosting (monthly)", "49.00", "month", vat),
        ("Printed brochure", "3.40", "piece", reduced),
        ("Support retainer", "750.00", "month", vat),
    ):
        catalogue.create_product(
            actor,
            catalogue.ProductData(
                name=name,
                unit_price=Decimal(price),
                currency="EUR",
                unit=unit,
                tax_rate_ids=(rate.public_id,),
            ),
        )
    for i in range(clients_count):
        company = f"{_COMPANIES[i % len(_COMPANIES)]} {_SUFFIXES[i // len(_COMPANIES) % 4]}"
        city, country = _CITIES[i % len(_CITIES)]
        slug = company.lower().replace(" & ", "-").replace(" ", "-")
        contacts = tuple(
            clients.ContactData(
                name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                email=f"contact{n}@{slug}.example",
                phone=f"+49 30 {rng.randint(1000000, 9999999)}",
                is_primary=n == 0,
            )
            for n in range(rng.randint(1, 3))
        )
        clients.create_client(
            actor,
            clients.ClientData(
                name=company,
                email=f"billing@{slug}.example",
                currency=_CURRENCY[country],
                payment_terms_days=rng.choice((14, 30, 30, 45)),
                billing_line1=f"{rng.randint(1, 200)} Market Street",
                billing_city=city,
                billing_postal_code=str(rng.randint(10000, 99999)),
                billing_country=country,
                tags=tuple(rng.sample(_TAGS, rng.randint(0, 2))),
                contacts=contacts,
            ),
        )
        if progress is not None:
            progress(1)
    return business
