"""Exchange rates and custom field definitions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime


class ExchangeRate(Model):
    """Units of ``currency`` per one euro on ``rate_date``, as the ECB publishes them."""

    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("currency", "rate_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    rate_date: Mapped[date] = mapped_column(Date)
    per_euro: Mapped[Decimal] = mapped_column(Numeric(20, 10))


class CustomField(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("business_id", "entity", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    entity: Mapped[str] = mapped_column(String(20))  # "client" or "invoice"
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10))  # text, number, date, choice
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
