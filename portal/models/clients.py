"""Clients, their contacts and tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model, db
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime

client_tags = Table(
    "client_tags",
    db.metadata,
    Column("client_id", ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Tag(Model):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("business_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))


class Client(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "clients"
    __table_args__ = (
        # One client per billing email inside a business; emails are stored lower-cased.
        UniqueConstraint("business_id", "email"),
        Index("ix_clients_business_sort", "business_id", "sort_name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased name: the keyset the list pages over, the same on every database.
    sort_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str] = mapped_column(String(40), default="")
    tax_id: Mapped[str] = mapped_column(String(50), default="")
    currency: Mapped[str] = mapped_column(String(3))
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    language: Mapped[str] = mapped_column(String(16), default="en")
    notes: Mapped[str] = mapped_column(Text, default="")
    billing_line1: Mapped[str] = mapped_column(String(200), default="")
    billing_line2: Mapped[str] = mapped_column(String(200), default="")
    billing_city: Mapped[str] = mapped_column(String(100), default="")
    billing_postal_code: Mapped[str] = mapped_column(String(20), default="")
    billing_country: Mapped[str] = mapped_column(String(2), default="")
    shipping_line1: Mapped[str] = mapped_column(String(200), default="")
    shipping_line2: Mapped[str] = mapped_column(String(200), default="")
    shipping_city: Mapped[str] = mapped_column(String(100), default="")
    shipping_postal_code: Mapped[str] = mapped_column(String(20), default="")
    shipping_country: Mapped[str] = mapped_column(String(2), default="")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The client asked not to be tracked: no open pixel, no view times recorded.
    tracking_opt_out: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Personal data erased on request (GDPR); the accounting records stay, anonymised.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reminders_paused: Mapped[bool] = mapped_column(default=False)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        order_by="(Contact.is_primary.desc(), Contact.id)",
    )
    tags: Mapped[list[Tag]] = relationship(secondary=client_tags, order_by=Tag.name)

    @property
    def primary_contact(self) -> Contact | None:
        return next((c for c in self.contacts if c.is_primary), None)


class Contact(PublicIdMixin, Model):
    __tablename__ = "contacts"
    __table_args__ = (
        # At most one primary billing contact per client, enforced by the database.
        Index(
            "uq_contacts_primary",
            "client_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    is_primary: Mapped[bool] = mapped_column(default=False)

    client: Mapped[Client] = relationship(back_populates="contacts")
