"""Health reports (issue 12, health checks).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hauler.store.models import BigId, JsonType

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "health_reports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("failing", JsonType, nullable=False),
        sa.Column("warning", JsonType, nullable=False),
        sa.Column("document", JsonType, nullable=False),
    )
    op.create_index("ix_health_reports_time", "health_reports", ["checked_at"])


def downgrade() -> None:
    op.drop_table("health_reports")
