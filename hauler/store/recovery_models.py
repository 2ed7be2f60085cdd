"""Failure records, monitored foreign jobs and recovery attempts (issue 11, recovery)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hauler.store.models import Base, BigId, JsonType


class Failure(Base):
    """One failure a client reported, classified, and what recovery did about it.

    ``state`` goes open → recovering → recovered | gave-up, or reported (a foreign job
    under ``HAULER_RECOVERY_FOREIGN=report``, or a category that is only reported).
    """

    __tablename__ = "failures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transfer_id: Mapped[int | None] = mapped_column(BigInteger)  # Hauler's download, if any
    task_id: Mapped[str | None] = mapped_column(String(64))  # its downloads.fetch task
    monitored_id: Mapped[int | None] = mapped_column(BigInteger)  # a foreign job's row
    client: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str] = mapped_column(String(128))  # the client's id when it failed
    name: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32))  # Hauler's failure category
    severity: Mapped[str] = mapped_column(String(16))
    retry_same: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(64), default="")  # the client's own status
    message: Mapped[str | None] = mapped_column(Text)  # the client's own words
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    rule: Mapped[str | None] = mapped_column(Text)  # the table row's source, None = unknown
    foreign_job: Mapped[bool] = mapped_column(Boolean, default=False)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="open")
    strategy: Mapped[str | None] = mapped_column(String(16))  # the last strategy taken
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # recovery attempts made
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)  # why the last attempt did not recover
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_failures_state_time", "state", "failed_at"),
        Index("ix_failures_category", "category"),
        Index("ix_failures_client_job", "client", "job_id"),
        Index("ix_failures_transfer", "transfer_id"),
    )


class MonitoredJob(Base):
    """A job Hauler did not start, watched in its client for failures (failure polling)."""

    __tablename__ = "monitored_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(128))  # the client's category
    state: Mapped[str] = mapped_column(String(16))  # JobState
    status: Mapped[str] = mapped_column(String(64), default="")  # the client's own status
    message: Mapped[str | None] = mapped_column(Text)
    failure_category: Mapped[str | None] = mapped_column(String(32))
    in_dlq: Mapped[bool] = mapped_column(Boolean, default=False)  # recovery gave up on it
    failure_id: Mapped[int | None] = mapped_column(BigInteger)
    changes: Mapped[int] = mapped_column(Integer, default=0)  # state changes seen
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    gone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ux_monitored_client_job", "client", "job_id", unique=True),
        Index("ix_monitored_status", "status"),
        Index("ix_monitored_category", "category"),
        Index("ix_monitored_in_dlq", "in_dlq"),
    )


class RecoveryAttempt(Base):
    """One strategy tried for one failure."""

    __tablename__ = "recovery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    failure_id: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … per Hauler download
    strategy: Mapped[str] = mapped_column(String(16))
    client: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(128))  # the job it acted on
    new_job_id: Mapped[str | None] = mapped_column(String(128))  # what the client answered
    outcome: Mapped[str] = mapped_column(String(16))  # started | recovered | failed
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_recovery_attempts_failure", "failure_id"),
        Index("ix_recovery_attempts_transfer", "transfer_id"),
    )
