"""SQLAlchemy models: the activity log and the dead-letter store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Base of every Hauler model."""


class Activity(Base):
    """One task lifecycle event or domain event, in the timeline of its correlation id."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_type: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(64))
    task_name: Mapped[str | None] = mapped_column(String(200))
    queue: Mapped[str | None] = mapped_column(String(64))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    causation_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(32))
    hostname: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)

    __table_args__ = (
        Index("ix_activity_correlation_time", "correlation_id", "occurred_at"),
        Index("ix_activity_status_time", "status", "occurred_at"),
        Index("ix_activity_task_id", "task_id"),
        Index("ix_activity_occurred_at", "occurred_at"),
    )


class DeadLetter(Base):
    """A task that failed for good, with what is needed to run it again by hand."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    task_name: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str | None] = mapped_column(String(64))
    args: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    reason: Mapped[str] = mapped_column(String(32))  # permanent | exhausted | unexpected | ...
    exception: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text, default="")
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    causation_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), default="dead")  # dead | retried
    retried_task_id: Mapped[str | None] = mapped_column(String(64))
    # the stored args/kwargs were masked or cut; the originals are in hauler.originals
    arguments_altered: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_dead_letters_state_time", "state", "last_failed_at"),
        Index("ix_dead_letters_correlation", "correlation_id"),
    )
