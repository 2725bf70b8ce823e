"""Work that must reach the outside world, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.models.base import PublicIdMixin, UTCDateTime, utcnow


class OutboxMessage(PublicIdMixin, Model):
    """One piece of outside work. It stays until a job has done it; ``key`` makes it unique
    (``send-invoice-<id>-v<version>``), so asking twice never does the work twice."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_outbox_pending", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(120))
    queue: Mapped[str] = mapped_column(String(20), default="default")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending: not yet handed to a queue; queued: on RQ; done; failed: out of retries.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
