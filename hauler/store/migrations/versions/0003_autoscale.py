"""Autoscaler decisions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hauler.store.models import BigId, JsonType

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autoscale_decisions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("from_workers", sa.Integer, nullable=False),
        sa.Column("to_workers", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("signals", JsonType, nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
    )
    op.create_index("ix_autoscale_decisions_time", "autoscale_decisions", ["decided_at"])


def downgrade() -> None:
    op.drop_table("autoscale_decisions")
