"""Card payments through a provider: a business's accounts, checkouts, provider events, disputes
and saved payment methods."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime
from portal.models.documents import Document
from portal.models.payments import Payment
from portal.secrets_at_rest import EncryptedText


class PaymentAccount(PublicIdMixin, TimestampMixin, Model):
    """A business's account at one provider. ``credentials`` is JSON (keys as the adapter names
    them); webhooks arrive at ``/hooks/<provider>/<public_id>``."""

    __tablename__ = "payment_accounts"
    __table_args__ = (UniqueConstraint("business_id", "provider"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    credentials: Mapped[str] = mapped_column(EncryptedText, default="{}")
    payment_methods: Mapped[str] = mapped_column(String(200), default="card")  # comma list
    allow_partial: Mapped[bool] = mapped_column(Boolean, default=False)
    minimum_partial_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    connected_account_id: Mapped[str] = mapped_column(String(64), default="")


class Checkout(PublicIdMixin, TimestampMixin, Model):
    """One attempt by a client to pay a document through a provider's hosted page."""

    __tablename__ = "checkouts"
    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="not_negative"),
        UniqueConstraint("provider", "provider_checkout_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("payment_accounts.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id"), index=True, default=None
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_links.id", ondelete="SET NULL"), default=None
    )
    provider: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(10), default="payment")  # payment | setup
    provider_checkout_id: Mapped[str | None] = mapped_column(String(120), default=None)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open paid failed cancelled
    failure_message: Mapped[str] = mapped_column(Text, default="")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), default=None)
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiment_variants.id", ondelete="SET NULL"), default=None
    )

    account: Mapped[PaymentAccount] = relationship()
    document: Mapped[Document | None] = relationship()
    payment: Mapped[Payment | None] = relationship()


class ProviderEvent(Model):
    """A provider's event, stored by its id so that a repeated webhook changes nothing.
    ``processed_at`` stays empty while the event waits for another (a refund before its
    payment); ``body`` is the translated event as JSON, to process it later."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    raw_type: Mapped[str] = mapped_column(String(80), default="")
    provider_payment_id: Mapped[str] = mapped_column(String(120), index=True)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    note: Mapped[str] = mapped_column(Text, default="")


class Dispute(PublicIdMixin, TimestampMixin, Model):
    """A client's bank contesting a card payment."""

    __tablename__ = "disputes"
    __table_args__ = (UniqueConstraint("provider", "provider_dispute_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_dispute_id: Mapped[str] = mapped_column(String(120))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(40), default="")
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_due_by: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    evidence_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    payment: Mapped[Payment] = relationship()


class SavedPaymentMethod(PublicIdMixin, TimestampMixin, Model):
    """A client's card kept at the provider for charging recurring invoices."""

    __tablename__ = "saved_payment_methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(120))
    payment_method_id: Mapped[str] = mapped_column(String(120))
    label: Mapped[str] = mapped_column(String(80), default="")
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
