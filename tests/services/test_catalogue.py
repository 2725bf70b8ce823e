from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.models import Product, Role, TaxRate
from portal.services import catalogue
from portal.services.catalogue import ProductData, TaxRateData
from portal.services.errors import Forbidden, InvalidInput


def test_a_rate_is_stored_exactly(team, db):
    rate = catalogue.create_tax_rate(
        team.actor(Role.ACCOUNTANT), TaxRateData("QST", Decimal("9.975"))
    )
    db.session.expire_all()
    assert db.session.get(TaxRate, rate.id).rate == Decimal("9.975")


@pytest.mark.parametrize(
    ("rate", "category", "message"),
    [
        (Decimal("100.01"), "S", "A tax rate must be between 0 and 100 %."),
        (Decimal("-1"), "S", "A tax rate must be between 0 and 100 %."),
        (Decimal("7.12345"), "S", "A tax rate has at most four decimal places."),
        (Decimal("5"), "AE", "The category AE (Reverse charge) has a rate of 0 %."),
    ],
)
def test_bad_rates_are_refused(team, db, rate, category, message):
    with pytest.raises(InvalidInput) as info:
        catalogue.create_tax_rate(team.actor(), TaxRateData("Bad", rate, category=category))
    assert info.value.errors == {"rate": message}
    assert db.session.scalar(select(func.count(TaxRate.id))) == 0


def test_staff_cannot_manage_the_catalogue(team, db):
    with pytest.raises(Forbidden):
        catalogue.create_tax_rate(team.actor(Role.STAFF), TaxRateData("VAT", Decimal(20)))


@pytest.mark.parametrize(
    ("price", "currency", "minor"),
    [
        (Decimal("12.5"), "EUR", 1250),
        (Decimal("1500"), "JPY", 1500),
        (Decimal("1.234"), "KWD", 1234),
    ],
)
def test_prices_are_integer_minor_units_of_their_currency(team, db, price, currency, minor):
    product = catalogue.create_product(team.actor(), ProductData("Item", price, currency))
    assert product.unit_price_minor == minor
    assert catalogue.from_minor(product.unit_price_minor, currency) == price


@pytest.mark.parametrize(
    ("price", "currency", "message"),
    [
        (Decimal("1.234"), "EUR", "EUR amounts have at most 2 decimal places."),
        (Decimal("1.5"), "JPY", "JPY amounts have at most 0 decimal places."),
        (Decimal("-1"), "EUR", "The unit price cannot be negative."),
    ],
)
def test_prices_the_currency_cannot_hold_are_refused_not_rounded(
    team, db, price, currency, message
):
    with pytest.raises(InvalidInput) as info:
        catalogue.create_product(team.actor(), ProductData("Item", price, currency))
    assert info.value.errors == {"unit_price": message}
    assert db.session.scalar(select(func.count(Product.id))) == 0


def test_a_product_takes_only_this_business_tax_rates(team, db):
    from tests.conftest import make_team

    other = make_team("Other Co")
    foreign = catalogue.create_tax_rate(other.actor(), TaxRateData("VAT", Decimal(20)))
    with pytest.raises(InvalidInput) as info:
        catalogue.create_product(
            team.actor(),
            ProductData("Item", Decimal(1), "EUR", tax_rate_ids=(foreign.public_id,)),
        )
    assert info.value.errors == {"tax_rates": "One of the chosen tax rates does not exist."}


def test_a_unit_longer_than_the_column_is_refused_beside_the_field(team, db):
    data = ProductData(name="Hours", unit_price=Decimal("10"), currency="EUR", unit="x" * 21)
    with pytest.raises(InvalidInput) as refused:
        catalogue.create_product(team.actor(Role.ADMIN), data)
    assert refused.value.errors == {"unit": "A unit has at most 20 characters."}
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0
