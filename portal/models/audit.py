"""The append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.models.base import UTCDateTime, utcnow


class AuditChainHead(Model):
    """The last link of each chain; locking it serialises appends to that chain."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default="")


class AuditEvent(Model):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # One chain per business ("b:<public id>"); events with no business go to "system".
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int]
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
