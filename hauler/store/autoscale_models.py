"""Autoscaler decisions: when, which queue, from → to, why, and the signals it saw."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hauler.store.models import Base, BigId, JsonType


class ScalingDecision(Base):
    """One scaling action (or a manual override) taken by the autoscaler."""

    __tablename__ = "autoscale_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    queue: Mapped[str] = mapped_column(String(64))
    from_workers: Mapped[int] = mapped_column(Integer)
    to_workers: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    signals: Mapped[dict[str, Any]] = mapped_column(JsonType)
    backend: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_autoscale_decisions_time", "decided_at"),)
