"""Tenancy and people: businesses, users, memberships with roles, invitations."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime
from portal.secrets_at_rest import EncryptedText


class Role(enum.StrEnum):
    """Roles in rising order of power; a role may do all that the roles below it may."""

    VIEWER = "viewer"
    STAFF = "staff"
    ACCOUNTANT = "accountant"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


ROLE_ENUM = Enum(Role, name="role", values_callable=lambda e: [m.value for m in e])


class Business(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    tax_id: Mapped[str] = mapped_column(String(50), default="")
    base_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    logo_media_type: Mapped[str | None] = mapped_column(String(50), default=None)
    rounding_mode: Mapped[str] = mapped_column(String(10), default="half_up")
    default_terms: Mapped[str] = mapped_column(String(16), default="NET30")
    invoice_number_pattern: Mapped[str] = mapped_column(String(60), default="INV-{YYYY}-{SEQ:5}")
    quote_number_pattern: Mapped[str] = mapped_column(String(60), default="QUO-{YYYY}-{SEQ:4}")
    credit_note_number_pattern: Mapped[str] = mapped_column(String(60), default="CN-{YYYY}-{SEQ:4}")
    number_reset: Mapped[str] = mapped_column(String(10), default="yearly")
    # Branding of documents (PDFs, the client portal).
    design: Mapped[str] = mapped_column(String(20), default="classic")
    brand_color: Mapped[str] = mapped_column(String(7), default="#2f5bea")
    accent_color: Mapped[str] = mapped_column(String(7), default="#1d2433")
    font: Mapped[str] = mapped_column(String(40), default="Inter")
    footer_text: Mapped[str] = mapped_column(Text, default="")
    payment_instructions: Mapped[str] = mapped_column(Text, default="")
    # Email: the business's own SMTP server (else the platform's), and tracking.
    smtp_host: Mapped[str] = mapped_column(String(200), default="")
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_security: Mapped[str] = mapped_column(String(10), default="starttls")
    smtp_username: Mapped[str] = mapped_column(String(200), default="")
    smtp_password: Mapped[str] = mapped_column(EncryptedText, default="")
    mail_from: Mapped[str] = mapped_column(String(254), default="")
    track_opens: Mapped[bool] = mapped_column(default=True)
    bounce_address: Mapped[str] = mapped_column(String(254), default="")
    # Every member must log in with a second factor; those without one are sent to set it up.
    require_2fa: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Tracking data (open pixels, portal views) older than this many days is purged; 0 keeps it.
    tracking_retention_days: Mapped[int] = mapped_column(default=0, server_default="0")

    memberships: Mapped[list[Membership]] = relationship(back_populates="business")


class User(UserMixin, PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    def get_id(self) -> str:
        return self.public_id


class Membership(TimestampMixin, Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("business_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[Role] = mapped_column(ROLE_ENUM)

    business: Mapped[Business] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class Invitation(PublicIdMixin, TimestampMixin, Model):
    """A pending invitation; only the token's hash is stored."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint("role <> 'owner'", name="not_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(ROLE_ENUM)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    business: Mapped[Business] = relationship()
    invited_by: Mapped[User] = relationship()
