"""Payments received, how they are allocated, credit applied, and refunds."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin
from portal.models.clients import Client
from portal.models.documents import Document


class Payment(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="positive"),
        UniqueConstraint("provider", "provider_payment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(30), default="bank_transfer")
    reference: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # Set for money taken through a payment provider: which one, its id, and its fee.
    provider: Mapped[str | None] = mapped_column(String(20), default=None)
    provider_payment_id: Mapped[str | None] = mapped_column(String(120), default=None)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)

    client: Mapped[Client] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="payment", foreign_keys="Refund.payment_id"
    )


class PaymentAllocation(Model):
    """The part of a payment that settles one invoice."""

    __tablename__ = "payment_allocations"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    document: Mapped[Document] = relationship()


class CreditApplication(Model):
    """The part of a credit note that reduces one invoice's balance."""

    __tablename__ = "credit_applications"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    credit_note: Mapped[Document] = relationship(foreign_keys=[credit_note_id])
    invoice: Mapped[Document] = relationship(foreign_keys=[invoice_id])


class Refund(PublicIdMixin, TimestampMixin, Model):
    """Money paid back: from a payment (an overpayment) or for a credit note."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="positive"),
        CheckConstraint("(payment_id IS NULL) <> (credit_note_id IS NULL)", name="one_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), default=None)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), default=None)
    refunded_on: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(120), default="")
    provider_refund_id: Mapped[str | None] = mapped_column(String(120), default=None, unique=True)

    payment: Mapped[Payment | None] = relationship(
        back_populates="refunds", foreign_keys=[payment_id]
    )
