"""Health reports: each health check's document, kept for the timeline and the daily report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hauler.store.models import Base, BigId, JsonType


class HealthReport(Base):
    """One run of ``health.check``: the overall status, what failed, the whole document."""

    __tablename__ = "health_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(8))  # pass | warn | fail
    failing: Mapped[list[str]] = mapped_column(JsonType, default=list)  # targets that fail
    warning: Mapped[list[str]] = mapped_column(JsonType, default=list)  # targets that warn
    document: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)

    __table_args__ = (Index("ix_health_reports_time", "checked_at"),)
