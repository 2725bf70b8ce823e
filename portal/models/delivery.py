"""Emails sent about documents, reminder rules, and the team's chat channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime
from portal.secrets_at_rest import EncryptedText


class Delivery(PublicIdMixin, TimestampMixin, Model):
    """One email about one document: who it went to, what the server said, what came back."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True, default=None
    )
    kind: Mapped[str] = mapped_column(String(30))  # invoice, quote, reminder, ...
    to: Mapped[list[str]] = mapped_column(JSON, default=list)
    cc: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300), default="")
    message_id: Mapped[str] = mapped_column(String(300), default="", index=True)
    # queued, sent, failed, bounced
    status: Mapped[str] = mapped_column(String(10), default="queued")
    error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class ReminderRule(TimestampMixin, Model):
    """Remind N days from the due date (negative: before it), with its own template."""

    __tablename__ = "reminder_rules"
    __table_args__ = (UniqueConstraint("business_id", "offset_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    offset_days: Mapped[int]
    # Which email template: reminder_before, reminder_due, reminder_late, reminder_final.
    template: Mapped[str] = mapped_column(String(30), default="reminder_late")
    active: Mapped[bool] = mapped_column(default=True)


class NotificationChannel(PublicIdMixin, TimestampMixin, Model):
    """Where the team hears about events: a Slack, Teams or Discord channel."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    provider: Mapped[str] = mapped_column(String(10))  # slack, teams, discord
    name: Mapped[str] = mapped_column(String(80), default="")
    # Webhook URL, or for Slack's Web API a bot token and channel id in ``settings``.
    target: Mapped[str] = mapped_column(EncryptedText, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # invoice.paid, invoice.overdue, quote.accepted, payment.failed, delivery.failed
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Heartbeat(Model):
    """The last sign of life of a worker or the scheduler, and of each periodic task."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
