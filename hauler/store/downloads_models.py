"""One row per finished download."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hauler.store.models import Base, BigId


class Download(Base):
    """A file Hauler downloaded, verified and moved into place."""

    __tablename__ = "downloads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    client: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_downloads_task", "task_id"), Index("ix_downloads_sha", "sha256"))
