"""Counts for the overview page."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Client, Membership, Product, TaxRate
from portal.services.actors import Actor


def counts(actor: Actor) -> dict[str, int]:
    bid = actor.business.id

    def count(stmt: object) -> int:
        return int(db.session.scalar(stmt) or 0)  # type: ignore[call-overload]

    return {
        "clients": count(
            select(func.count(Client.id)).where(
                Client.business_id == bid, Client.archived_at.is_(None)
            )
        ),
        "products": count(
            select(func.count(Product.id)).where(
                Product.business_id == bid, Product.archived_at.is_(None)
            )
        ),
        "tax_rates": count(
            select(func.count(TaxRate.id)).where(
                TaxRate.business_id == bid, TaxRate.archived_at.is_(None)
            )
        ),
        "members": count(select(func.count(Membership.id)).where(Membership.business_id == bid)),
    }
