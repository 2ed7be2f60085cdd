"""The backup catalog (issue 12, backups).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hauler.store.models import BigId, JsonType

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("database", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("bytes", sa.BigInteger),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("seconds", sa.Float),
        sa.Column("row_counts", JsonType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("verify_seconds", sa.Float),
        sa.Column("uploaded_to", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_backups_database_started", "backups", ["database", "started_at"])
    op.create_index("ix_backups_status_started", "backups", ["status", "started_at"])


def downgrade() -> None:
    op.drop_table("backups")
