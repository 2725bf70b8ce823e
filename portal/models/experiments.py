"""A/B experiments on the client's payment page: variants, a traffic split, and what happened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.models.base import PublicIdMixin, TimestampMixin, UTCDateTime


class Experiment(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft running paused ended
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Stop when one variant's chance to beat control passes this, once each has this many views.
    min_views_per_variant: Mapped[int] = mapped_column(Integer, default=100)

    variants: Mapped[list[ExperimentVariant]] = relationship(
        back_populates="experiment",
        order_by="ExperimentVariant.position",
        cascade="all, delete-orphan",
    )


class ExperimentVariant(Model):
    """One version of the payment page. ``settings`` is JSON: layout, wording, method order,
    whether a partial payment is offered. Position 0 is the control."""

    __tablename__ = "experiment_variants"
    __table_args__ = (UniqueConstraint("experiment_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(20))  # a, b, c
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[int] = mapped_column(Integer, default=50)  # share of traffic, in percent
    settings: Mapped[str] = mapped_column(Text, default="{}")

    experiment: Mapped[Experiment] = relationship(back_populates="variants")


class ExperimentEvent(Model):
    """What a visitor in a variant did; each kind counts once per visitor (a portal link)."""

    __tablename__ = "experiment_events"
    __table_args__ = (UniqueConstraint("variant_id", "subject", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("experiment_variants.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(64))  # the portal link's public id
    kind: Mapped[str] = mapped_column(String(20))  # viewed checkout_started paid
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
