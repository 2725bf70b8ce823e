"""Invoices, quotes, credit notes and recurring templates, with their lines.

One table holds every kind of document: they share lines, totals, numbering and the client, and
differ in status and in the links between them (a quote becomes invoices; a credit note credits
an invoice). Amounts typed by people (prices, discounts) are exact ``Numeric``; amounts the
engine computed are integer minor units of ``currency``.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Enum,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime
from portal.models.clients import Client

OPEN_SQL = "status IN ('issued', 'sent', 'viewed', 'partially_paid')"


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    QUOTE = "quote"
    CREDIT_NOTE = "credit_note"
    # The lines a recurring schedule copies into each invoice; never listed as a document.
    TEMPLATE = "template"


KIND_ENUM = Enum(DocumentKind, name="document_kind", values_callable=lambda e: [m.value for m in e])


class Document(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "documents"
    __table_args__ = (
        # Numbers are unique per business and kind: the database, not a check, guarantees it.
        UniqueConstraint("business_id", "kind", "number"),
        # A generator (recurring schedule, late fee) makes at most one document per key.
        UniqueConstraint("business_id", "generator_key"),
        Index("ix_documents_list", "business_id", "kind", "issue_date", "id"),
        Index("ix_documents_status", "business_id", "kind", "status", "id"),
        # Open invoices by due date: the overdue list and the receivables to come.
        Index(
            "ix_documents_open_due",
            "business_id",
            "kind",
            "due_date",
            "id",
            postgresql_where=text(OPEN_SQL),
            sqlite_where=text(OPEN_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(KIND_ENUM)
    status: Mapped[str] = mapped_column(String(20))
    number: Mapped[str | None] = mapped_column(String(40), default=None)
    title: Mapped[str] = mapped_column(String(200), default="")
    issue_date: Mapped[date | None] = mapped_column(Date, default=None)
    due_date: Mapped[date | None] = mapped_column(Date, default=None)
    valid_until: Mapped[date | None] = mapped_column(Date, default=None)
    terms_code: Mapped[str] = mapped_column(String(16), default="NET30")
    currency: Mapped[str] = mapped_column(String(3))
    # Units of the business's base currency per unit of ``currency``, fixed at issue.
    exchange_rate: Mapped[Decimal | None] = mapped_column(Numeric(20, 10), default=None)
    rounding_mode: Mapped[str] = mapped_column(String(10), default="half_up")
    notes: Mapped[str] = mapped_column(Text, default="")
    footer: Mapped[str] = mapped_column(Text, default="")
    po_number: Mapped[str] = mapped_column(String(60), default="")
    prepaid: Mapped[Decimal] = mapped_column(Numeric(20, 6), default=Decimal(0))

    # Totals as the engine computed them at the last save (frozen once issued).
    net_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_due_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # EN 16931 BT-114: added to the amount due, e.g. so a final invoice settles to the cent.
    rounding_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # amount_due less payments and credits applied; kept by portal.services.balances alone.
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    source_quote_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), default=None)
    credited_invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id"), default=None, index=True
    )
    # A final invoice names the deposit invoice whose amount it deducts.
    deposit_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), default=None)
    is_deposit: Mapped[bool] = mapped_column(default=False)
    generator_key: Mapped[str | None] = mapped_column(String(80), default=None)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("recurring_schedules.id", use_alter=True), default=None, index=True
    )

    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    close_reason: Mapped[str] = mapped_column(Text, default="")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    client: Mapped[Client] = relationship()
    lines: Mapped[list[DocumentLine]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="DocumentLine.position"
    )
    adjustments: Mapped[list[DocumentAdjustment]] = relationship(
        back_populates="document",
        cascade="all, delete-orphan",
        order_by="DocumentAdjustment.position",
    )
    instalments: Mapped[list[Instalment]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Instalment.seq"
    )


class DocumentLine(Model):
    __tablename__ = "document_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(20), default="")
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    base_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(1))
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4), default=None)
    discount_amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 6), default=None)
    charge_amount: Mapped[Decimal] = mapped_column(Numeric(20, 6), default=Decimal(0))
    price_includes_tax: Mapped[bool] = mapped_column(default=False)
    # A copy of the rates as they were when the line was written: later edits of a tax rate
    # never change a document. Items: {"name", "category", "percent", "compound"}.
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    net_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)

    document: Mapped[Document] = relationship(back_populates="lines")


class DocumentAdjustment(Model):
    """A document-level allowance (discount) or charge (shipping), with its own taxes."""

    __tablename__ = "document_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))  # "allowance" or "charge"
    reason: Mapped[str] = mapped_column(String(200), default="")
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    document: Mapped[Document] = relationship(back_populates="adjustments")


class Instalment(Model):
    __tablename__ = "instalments"
    __table_args__ = (UniqueConstraint("document_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    seq: Mapped[int]
    due_date: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    document: Mapped[Document] = relationship(back_populates="instalments")


class NumberSequence(Model):
    """The last number given per business, kind and period; its row lock keeps numbers gap-free."""

    __tablename__ = "number_sequences"
    __table_args__ = (UniqueConstraint("business_id", "kind", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    kind: Mapped[DocumentKind] = mapped_column(KIND_ENUM)
    period_key: Mapped[str] = mapped_column(String(10), default="")
    last_value: Mapped[int] = mapped_column(default=0)
