"""What analytics keeps between requests: data versions for the dashboard cache, risk models
and the scores they gave."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.models.base import UTCDateTime, utcnow


class AnalyticsVersion(Model):
    """A counter per business, raised in every transaction that changes what dashboards show.

    ``business_id`` 0 is the counter for changes that touch every business (exchange rates).
    Cached aggregates are keyed by the counters, so a write makes them unreachable at once.
    """

    __tablename__ = "analytics_versions"

    business_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class RiskModel(Model):
    """A fitted late-payment model of one business, as ``analytics.model_store`` bytes."""

    __tablename__ = "risk_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    sklearn_version: Mapped[str] = mapped_column(String(20))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Training rows, held-out scores of the model and of the baseline.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RiskScore(Model):
    """The probability that an open invoice is paid late, and the reasons, from one model."""

    __tablename__ = "risk_scores"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("risk_models.id", ondelete="CASCADE"))
    # A probability, not money.
    probability: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
