"""The product catalogue and tax rates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model, db
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime

product_tax_rates = Table(
    "product_tax_rates",
    db.metadata,
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("tax_rate_id", ForeignKey("tax_rates.id", ondelete="CASCADE"), primary_key=True),
)


class TaxRate(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "tax_rates"
    __table_args__ = (
        UniqueConstraint("business_id", "name"),
        CheckConstraint("rate >= 0 AND rate <= 100", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # Percent with up to four decimals, e.g. 7.7500; Numeric keeps it exact.
    rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    inclusive: Mapped[bool] = mapped_column(default=False)
    compound: Mapped[bool] = mapped_column(default=False)
    category: Mapped[str] = mapped_column(String(4), default="S")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Product(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("business_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(20), default="unit")
    # Integer minor units of ``currency`` (cents for EUR, yen for JPY): never a float.
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    tax_rates: Mapped[list[TaxRate]] = relationship(secondary=product_tax_rates)
