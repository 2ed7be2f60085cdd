"""One row per download handed to an external client (aria2, qBittorrent, NZBGet, SABnzbd)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hauler.store.models import Base, BigId, JsonType


class Transfer(Base):
    """A ``downloads.fetch`` whose bytes a client moves while no worker waits for them.

    ``state`` goes submitted → downloading → (stalled | failed → recovering →
    downloading …) → done | gave-up. ``job_id`` may change while the transfer lives
    (SABnzbd's ``mode=retry`` gives a new nzo_id); ``task_id`` and ``tag`` never do.
    """

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    task_name: Mapped[str] = mapped_column(String(200), default="downloads.fetch")
    client: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(128))
    tag: Mapped[str] = mapped_column(String(128), unique=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)  # as given: a client-side retry resubmits it
    shown: Mapped[str] = mapped_column(Text)  # the URL as messages show it (no secrets)
    reason: Mapped[str] = mapped_column(Text, default="")  # why this client was chosen
    sha256: Mapped[str | None] = mapped_column(String(64))
    max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    filename: Mapped[str | None] = mapped_column(Text)
    dest: Mapped[str] = mapped_column(Text)  # the absolute destination directory
    workdir: Mapped[str] = mapped_column(Text)  # the job's staging directory
    then: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    canvas: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # see canvas.py
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # client's extras
    state: Mapped[str] = mapped_column(String(16), default="submitted")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int | None] = mapped_column(BigInteger)
    rate: Mapped[float | None] = mapped_column(Float)
    client_status: Mapped[str | None] = mapped_column(String(64))  # the client's own word
    message: Mapped[str | None] = mapped_column(Text)  # the last failure, in the client's words
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    download_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    progressed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # bytes last grew
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_transfers_client_job", "client", "job_id"),
        Index("ix_transfers_state", "state"),
        Index("ix_transfers_correlation", "correlation_id"),
    )
