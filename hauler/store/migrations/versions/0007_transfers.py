"""Transfers handed to download clients (issue 11, the watch).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hauler.store.models import BigId, JsonType

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), nullable=False, unique=True),
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(128)),
        sa.Column("tag", sa.String(128), nullable=False, unique=True),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("shown", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("max_bytes", sa.BigInteger),
        sa.Column("filename", sa.Text),
        sa.Column("dest", sa.Text, nullable=False),
        sa.Column("workdir", sa.Text, nullable=False),
        sa.Column("then", JsonType, nullable=False),
        sa.Column("canvas", JsonType, nullable=False),
        sa.Column("details", JsonType, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("bytes_done", sa.BigInteger, nullable=False),
        sa.Column("bytes_total", sa.BigInteger),
        sa.Column("rate", sa.Float),
        sa.Column("client_status", sa.String(64)),
        sa.Column("message", sa.Text),
        sa.Column("result", JsonType),
        sa.Column("download_id", sa.BigInteger),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("progressed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_transfers_client_job", "transfers", ["client", "job_id"])
    op.create_index("ix_transfers_state", "transfers", ["state"])
    op.create_index("ix_transfers_correlation", "transfers", ["correlation_id"])


def downgrade() -> None:
    op.drop_table("transfers")
