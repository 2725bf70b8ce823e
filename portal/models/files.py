"""Templates a business edits, rendered files kept for reuse, received e-invoices, jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime, utcnow


class DocumentTemplate(TimestampMixin, Model):
    """A business's own Markdown for one kind of document (intro, terms, notes)."""

    __tablename__ = "document_templates"
    __table_args__ = (UniqueConstraint("business_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    kind: Mapped[str] = mapped_column(String(40))  # invoice, quote, credit_note, statement
    body: Mapped[str] = mapped_column(Text, default="")


class RenderedFile(Model):
    """A file rendered once and served again: keyed by a hash of everything that shaped it."""

    __tablename__ = "rendered_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True, default=None
    )
    key: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReceivedDocument(PublicIdMixin, TimestampMixin, Model):
    """A supplier's e-invoice we were sent: kept as received, with what the check found."""

    __tablename__ = "received_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    source_format: Mapped[str] = mapped_column(String(10))  # ubl, cii, facturx
    supplier_name: Mapped[str] = mapped_column(String(200), default="")
    supplier_tax_id: Mapped[str] = mapped_column(String(50), default="")
    number: Mapped[str] = mapped_column(String(60), default="")
    issue_date: Mapped[date | None] = mapped_column(Date, default=None)
    currency: Mapped[str] = mapped_column(String(3))
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_due_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[bytes] = mapped_column(LargeBinary)


class Job(PublicIdMixin, TimestampMixin, Model):
    """Long work a person waits for: its progress is polled, its result downloaded."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="queued")  # running, done, failed
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result_path: Mapped[str] = mapped_column(String(400), default="")
    error: Mapped[str] = mapped_column(Text, default="")
