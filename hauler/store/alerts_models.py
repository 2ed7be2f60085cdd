"""Alert state (groups and their alerts) and the notification log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hauler.store.models import Base, BigId, JsonType


class AlertGroup(Base):
    """Alerts notified together (Alertmanager's aggregation group), with its timer."""

    __tablename__ = "alert_groups"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_flush_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    has_flushed: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertState(Base):
    """One alert (a label set) in a group: firing, or resolved and not yet notified as such."""

    __tablename__ = "alerts"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))  # rules | alertmanager
    labels: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    inhibited: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_alerts_group", "group_key"),)


class Notification(Base):
    """One message to one receiver (or one that was held back): the notification log."""

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    receiver: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # alert | message | maintenance | report | test
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved | message
    severity: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))  # why it was sent, or held back
    title: Mapped[str] = mapped_column(String(300))
    firing: Mapped[list[str]] = mapped_column(JsonType, default=list)  # fingerprints
    resolved: Mapped[list[str]] = mapped_column(JsonType, default=list)
    outcome: Mapped[str] = mapped_column(String(16))  # sent | deferred | failed | suppressed
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_alert_notifications_group", "group_key", "receiver", "at"),
        Index("ix_alert_notifications_at", "at"),
    )
