"""Products, services and tax rates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.billing.errors import BillingError
from portal.billing.money import Money, exponent, require_minor
from portal.billing.tax import TaxRate as RateRule
from portal.extensions import db
from portal.models import Product, Role, TaxRate
from portal.models.base import utcnow
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound
from portal.services.validation import check_currency

TAX_CATEGORIES = {
    "S": "Standard rate",
    "Z": "Zero rated",
    "E": "Exempt",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Outside the scope of VAT",
}


@dataclass(frozen=True, slots=True)
class TaxRateData:
    name: str
    rate: Decimal
    inclusive: bool = False
    compound: bool = False
    category: str = "S"


@dataclass(frozen=True, slots=True)
class ProductData:
    name: str
    unit_price: Decimal  # in major units as typed, e.g. Decimal("12.50")
    currency: str
    description: str = ""
    unit: str = "unit"
    tax_rate_ids: tuple[str, ...] = ()


def tax_rate_snapshot(rate: TaxRate) -> dict[str, Any]:
    return {
        "name": rate.name,
        "rate": rate.rate,
        "inclusive": rate.inclusive,
        "compound": rate.compound,
        "category": rate.category,
        "archived": rate.archived_at is not None,
    }


def product_snapshot(product: Product) -> dict[str, Any]:
    return {
        "name": product.name,
        "description": product.description,
        "unit": product.unit,
        "unit_price_minor": product.unit_price_minor,
        "currency": product.currency,
        "tax_rates": [r.public_id for r in product.tax_rates],
        "archived": product.archived_at is not None,
    }


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact conversion; more decimals than the currency has is an error, not a rounding."""
    try:
        return require_minor(amount, "unit_price", currency)
    except BillingError as exc:
        places = exponent(currency)
        raise InvalidInput(
            {"unit_price": f"{currency} amounts have at most {places} decimal places."}
        ) from exc


def from_minor(minor: int, currency: str) -> Decimal:
    return Money(minor, currency).to_decimal()


def tax_rates(actor: Actor, *, archived: bool = False) -> list[TaxRate]:
    stmt = select(TaxRate).where(TaxRate.business_id == actor.business.id)
    stmt = stmt.where(
        TaxRate.archived_at.is_not(None) if archived else TaxRate.archived_at.is_(None)
    )
    return list(db.session.scalars(stmt.order_by(TaxRate.name)))


def get_tax_rate(actor: Actor, public_id: str) -> TaxRate:
    rate = db.session.scalar(
        select(TaxRate).where(
            TaxRate.public_id == public_id, TaxRate.business_id == actor.business.id
        )
    )
    if rate is None:
        raise NotFound("No such tax rate.")
    return rate


def _check_rate(actor: Actor, data: TaxRateData, current: TaxRate | None) -> None:
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = "A tax rate needs a name."
    if not isinstance(data.rate, Decimal) or not Decimal(0) <= data.rate <= Decimal(100):
        errors["rate"] = "A tax rate must be between 0 and 100 %."
    elif data.rate.as_tuple().exponent < -4:  # type: ignore[operator]
        errors["rate"] = "A tax rate has at most four decimal places."
    if data.category not in TAX_CATEGORIES:
        errors["category"] = f"Unknown tax category {data.category!r}."
    elif "rate" not in errors and data.rate != 0 and not _rate_fits_category(data):
        name = TAX_CATEGORIES[data.category]
        errors["rate"] = f"The category {data.category} ({name}) has a rate of 0 %."
    clash = select(TaxRate.id).where(
        TaxRate.business_id == actor.business.id, TaxRate.name == data.name.strip()
    )
    if current is not None:
        clash = clash.where(TaxRate.id != current.id)
    if db.session.scalar(clash) is not None:
        errors["name"] = "Another tax rate already has this name."
    if errors:
        raise InvalidInput(errors)


def _rate_fits_category(data: TaxRateData) -> bool:
    try:
        RateRule(category=data.category, percent=data.rate)
    except BillingError:
        return False
    return True


def _commit(field: str, message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise InvalidInput({field: message}) from exc


def create_tax_rate(actor: Actor, data: TaxRateData) -> TaxRate:
    actor.require(Role.ACCOUNTANT)
    _check_rate(actor, data, None)
    rate = TaxRate(business_id=actor.business.id)
    _apply_rate(rate, data)
    db.session.add(rate)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="tax_rate.created",
        entity_type="tax_rate",
        entity_id=rate.public_id,
        after=tax_rate_snapshot(rate),
    )
    _commit("name", "Another tax rate already has this name.")
    return rate


def update_tax_rate(actor: Actor, public_id: str, data: TaxRateData) -> TaxRate:
    actor.require(Role.ACCOUNTANT)
    rate = get_tax_rate(actor, public_id)
    _check_rate(actor, data, rate)
    before = tax_rate_snapshot(rate)
    _apply_rate(rate, data)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="tax_rate.updated",
        entity_type="tax_rate",
        entity_id=rate.public_id,
        before=before,
        after=tax_rate_snapshot(rate),
    )
    _commit("name", "Another tax rate already has this name.")
    return rate


def _apply_rate(rate: TaxRate, data: TaxRateData) -> None:
    rate.name = data.name.strip()
    rate.rate = data.rate
    rate.inclusive = data.inclusive
    rate.compound = data.compound
    rate.category = data.category


def set_tax_rate_archived(actor: Actor, public_id: str, *, archived: bool) -> TaxRate:
    actor.require(Role.ACCOUNTANT)
    rate = get_tax_rate(actor, public_id)
    if (rate.archived_at is not None) != archived:
        rate.archived_at = utcnow() if archived else None
        audit.record(
            business=actor.business,
            actor=actor.user,
            action="tax_rate.archived" if archived else "tax_rate.restored",
            entity_type="tax_rate",
            entity_id=rate.public_id,
            after={"archived": archived},
        )
        db.session.commit()
    return rate


def products(actor: Actor, *, archived: bool = False) -> list[Product]:
    stmt = (
        select(Product)
        .where(Product.business_id == actor.business.id)
        .where(Product.archived_at.is_not(None) if archived else Product.archived_at.is_(None))
        .options(selectinload(Product.tax_rates))
        .order_by(Product.name)
    )
    return list(db.session.scalars(stmt))


def get_product(actor: Actor, public_id: str) -> Product:
    product = db.session.scalar(
        select(Product)
        .where(Product.public_id == public_id, Product.business_id == actor.business.id)
        .options(selectinload(Product.tax_rates))
    )
    if product is None:
        raise NotFound("No such product.")
    return product


def _check_product(actor: Actor, data: ProductData, current: Product | None) -> list[TaxRate]:
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = "A product needs a name."
    if len(data.unit.strip()) > 20:  # products.unit
        errors["unit"] = "A unit has at most 20 characters."
    if (msg := check_currency(data.currency)) is not None:
        errors["currency"] = msg
    elif data.unit_price < 0:
        errors["unit_price"] = "The unit price cannot be negative."
    else:
        try:
            to_minor(data.unit_price, data.currency.upper())
        except InvalidInput as exc:
            errors.update(exc.errors)
    clash = select(Product.id).where(
        Product.business_id == actor.business.id, Product.name == data.name.strip()
    )
    if current is not None:
        clash = clash.where(Product.id != current.id)
    if db.session.scalar(clash) is not None:
        errors["name"] = "Another product already has this name."
    rates = list(
        db.session.scalars(
            select(TaxRate).where(
                TaxRate.business_id == actor.business.id,
                TaxRate.public_id.in_(data.tax_rate_ids),
            )
        )
    )
    if len(rates) != len(set(data.tax_rate_ids)):
        errors["tax_rates"] = "One of the chosen tax rates does not exist."
    if errors:
        raise InvalidInput(errors)
    return rates


def _apply_product(product: Product, data: ProductData, rates: list[TaxRate]) -> None:
    product.name = data.name.strip()
    product.description = data.description.strip()
    product.unit = data.unit.strip() or "unit"
    product.currency = data.currency.upper()
    product.unit_price_minor = to_minor(data.unit_price, product.currency)
    product.tax_rates = rates


def create_product(actor: Actor, data: ProductData) -> Product:
    actor.require(Role.ACCOUNTANT)
    rates = _check_product(actor, data, None)
    product = Product(business_id=actor.business.id)
    _apply_product(product, data, rates)
    db.session.add(product)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="product.created",
        entity_type="product",
        entity_id=product.public_id,
        after=product_snapshot(product),
    )
    _commit("name", "Another product already has this name.")
    return product


def update_product(actor: Actor, public_id: str, data: ProductData) -> Product:
    actor.require(Role.ACCOUNTANT)
    product = get_product(actor, public_id)
    rates = _check_product(actor, data, product)
    before = product_snapshot(product)
    _apply_product(product, data, rates)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="product.updated",
        entity_type="product",
        entity_id=product.public_id,
        before=before,
        after=product_snapshot(product),
    )
    _commit("name", "Another product already has this name.")
    return product


def set_product_archived(actor: Actor, public_id: str, *, archived: bool) -> Product:
    actor.require(Role.ACCOUNTANT)
    product = get_product(actor, public_id)
    if (product.archived_at is not None) != archived:
        product.archived_at = utcnow() if archived else None
        audit.record(
            business=actor.business,
            actor=actor.user,
            action="product.archived" if archived else "product.restored",
            entity_type="product",
            entity_id=product.public_id,
            after={"archived": archived},
        )
        db.session.commit()
    return product
