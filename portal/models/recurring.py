"""Recurring invoice schedules and the late-fee rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin
from portal.models.clients import Client
from portal.models.documents import Document


class RecurringSchedule(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "recurring_schedules"
    __table_args__ = (
        CheckConstraint("interval_count >= 1", name="interval_positive"),
        CheckConstraint("day_of_month IS NULL OR (day_of_month BETWEEN 1 AND 31)", name="dom"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    # The lines, currency and terms every generated invoice copies.
    template_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    frequency: Mapped[str] = mapped_column(String(10))  # weekly, monthly, quarterly, yearly
    interval_count: Mapped[int] = mapped_column(default=1)
    # For monthly and longer: the day to invoice on; 31 means the month's last day.
    day_of_month: Mapped[int | None] = mapped_column(default=None)
    start_date: Mapped[date] = mapped_column(Date)
    end_after_count: Mapped[int | None] = mapped_column(default=None)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)
    auto_send: Mapped[bool] = mapped_column(default=False)
    generated_count: Mapped[int] = mapped_column(default=0)
    next_run_on: Mapped[date | None] = mapped_column(Date, default=None)
    active: Mapped[bool] = mapped_column(default=True)
    # Charge each generated invoice to the client's saved card at the provider.
    saved_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("saved_payment_methods.id", ondelete="SET NULL"), default=None
    )

    client: Mapped[Client] = relationship()
    template: Mapped[Document] = relationship(foreign_keys=[template_id])


class LateFeeRule(TimestampMixin, Model):
    """One rule per business: a fixed amount or a percentage of the overdue balance."""

    __tablename__ = "late_fee_rules"
    __table_args__ = (CheckConstraint("after_days >= 0", name="after_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # "fixed" or "percent"
    # Fixed: an amount in the invoice's currency (major units); percent: of the balance.
    value: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    after_days: Mapped[int] = mapped_column(default=30)
    repeat: Mapped[str] = mapped_column(String(10), default="once")  # "once" or "monthly"
    # The most all late fees on one invoice may add up to, in its currency; None: no cap.
    cap: Mapped[Decimal | None] = mapped_column(Numeric(20, 6), default=None)
    active: Mapped[bool] = mapped_column(default=True)
