"""``/products`` and ``/tax-rates``: the catalogue."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.api.pagination import SortKey
from portal.api.principal import require_scope
from portal.api.resources.common import actor, page, timestamps
from portal.api.schemas.common import page_schema
from portal.api.schemas.money_docs import (
    CatalogueQuery,
    ProductSchema,
    ProductUpdateSchema,
    TaxRateSchema,
    TaxRateUpdateSchema,
    dump_product,
    dump_tax_rate,
    major,
)
from portal.models import Product, TaxRate
from portal.services import catalogue
from portal.services.catalogue import ProductData, TaxRateData

products_bp = Blueprint(
    "api_products", __name__, url_prefix="/api/v1/products", description="Products and services"
)
tax_rates_bp = Blueprint(
    "api_tax_rates", __name__, url_prefix="/api/v1/tax-rates", description="Tax rates"
)
ProductPage = page_schema(ProductSchema, "ProductPage")
TaxRatePage = page_schema(TaxRateSchema, "TaxRatePage")
PRODUCT_SORTS = {"name": SortKey(Product.name, "name", "str"), **timestamps(Product)}
RATE_SORTS = {"name": SortKey(TaxRate.name, "name", "str"), **timestamps(TaxRate)}


def _product_data(body: dict[str, Any]) -> ProductData:
    currency = body["currency"].upper()
    return ProductData(
        name=body["name"],
        unit_price=major(body["unit_price_minor"], currency),
        currency=currency,
        description=body.get("description", ""),
        unit=body.get("unit", "unit"),
        tax_rate_ids=tuple(body.get("tax_rate_ids", ())),
    )


@products_bp.get("")
@require_scope("catalogue:read")
@products_bp.arguments(CatalogueQuery, location="query")
@products_bp.response(200, ProductPage)
def list_products(args: dict[str, Any]) -> dict[str, Any]:
    """List products (active by default)."""
    who = actor()
    stmt = (
        select(Product)
        .where(Product.business_id == who.business.id)
        .where(
            Product.archived_at.is_not(None) if args["archived"] else Product.archived_at.is_(None)
        )
        .options(selectinload(Product.tax_rates))
    )
    return page(
        stmt,
        Product.id,
        PRODUCT_SORTS,
        args,
        lambda p: dump_product(p, who.business),
        Product.updated_at,
    )


@products_bp.post("")
@require_scope("catalogue:write")
@products_bp.arguments(ProductSchema)
@products_bp.response(201, ProductSchema)
def create_product(body: dict[str, Any]) -> dict[str, Any]:
    """Add a product; its price in integer minor units of its currency."""
    who = actor()
    return dump_product(catalogue.create_product(who, _product_data(body)), who.business)


@products_bp.get("/<pid:public_id>")
@require_scope("catalogue:read")
@products_bp.response(200, ProductSchema)
def get_product(public_id: str) -> dict[str, Any]:
    """One product."""
    who = actor()
    return dump_product(catalogue.get_product(who, public_id), who.business)


@products_bp.patch("/<pid:public_id>")
@require_scope("catalogue:write")
@products_bp.arguments(ProductUpdateSchema)
@products_bp.response(200, ProductSchema)
def update_product(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Change a product: the fields sent replace the stored ones."""
    who = actor()
    current = catalogue.get_product(who, public_id)
    merged = {
        "name": current.name,
        "description": current.description,
        "unit": current.unit,
        "unit_price_minor": current.unit_price_minor,
        "currency": current.currency,
        "tax_rate_ids": [r.public_id for r in current.tax_rates],
        **body,
    }
    return dump_product(
        catalogue.update_product(who, public_id, _product_data(merged)), who.business
    )


@tax_rates_bp.get("")
@require_scope("catalogue:read")
@tax_rates_bp.arguments(CatalogueQuery, location="query")
@tax_rates_bp.response(200, TaxRatePage)
def list_tax_rates(args: dict[str, Any]) -> dict[str, Any]:
    """List tax rates (active by default)."""
    who = actor()
    stmt = (
        select(TaxRate)
        .where(TaxRate.business_id == who.business.id)
        .where(
            TaxRate.archived_at.is_not(None) if args["archived"] else TaxRate.archived_at.is_(None)
        )
    )
    return page(stmt, TaxRate.id, RATE_SORTS, args, dump_tax_rate, TaxRate.updated_at)


def _rate_data(body: dict[str, Any]) -> TaxRateData:
    return TaxRateData(
        name=body["name"],
        rate=body["rate"],
        inclusive=body.get("inclusive", False),
        compound=body.get("compound", False),
        category=body.get("category", "S"),
    )


@tax_rates_bp.post("")
@require_scope("catalogue:write")
@tax_rates_bp.arguments(TaxRateSchema)
@tax_rates_bp.response(201, TaxRateSchema)
def create_tax_rate(body: dict[str, Any]) -> dict[str, Any]:
    """Add a tax rate."""
    return dump_tax_rate(catalogue.create_tax_rate(actor(), _rate_data(body)))


@tax_rates_bp.get("/<pid:public_id>")
@require_scope("catalogue:read")
@tax_rates_bp.response(200, TaxRateSchema)
def get_tax_rate(public_id: str) -> dict[str, Any]:
    """One tax rate."""
    return dump_tax_rate(catalogue.get_tax_rate(actor(), public_id))


@tax_rates_bp.patch("/<pid:public_id>")
@require_scope("catalogue:write")
@tax_rates_bp.arguments(TaxRateUpdateSchema)
@tax_rates_bp.response(200, TaxRateSchema)
def update_tax_rate(body: dict[str, Any], public_id: str) -> dict[str, Any]:
    """Change a tax rate; documents already written keep the rate they had."""
    who = actor()
    current = dump_tax_rate(catalogue.get_tax_rate(who, public_id))
    return dump_tax_rate(catalogue.update_tax_rate(who, public_id, _rate_data({**current, **body})))
