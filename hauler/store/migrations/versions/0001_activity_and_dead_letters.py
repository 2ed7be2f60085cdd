"""Activity log and dead-letter store.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hauler.store.models import BigId, JsonType

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(64)),
        sa.Column("task_name", sa.String(200)),
        sa.Column("queue", sa.String(64)),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("causation_id", sa.String(64)),
        sa.Column("status", sa.String(32)),
        sa.Column("hostname", sa.String(200)),
        sa.Column("payload", JsonType, nullable=False),
    )
    op.create_index("ix_activity_correlation_time", "activity", ["correlation_id", "occurred_at"])
    op.create_index("ix_activity_status_time", "activity", ["status", "occurred_at"])
    op.create_index("ix_activity_task_id", "activity", ["task_id"])
    op.create_index("ix_activity_occurred_at", "activity", ["occurred_at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), nullable=False, unique=True),
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(64)),
        sa.Column("args", JsonType, nullable=False),
        sa.Column("kwargs", JsonType, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("exception", sa.Text, nullable=False),
        sa.Column("traceback", sa.Text, nullable=False),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("causation_id", sa.String(64)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("retried_task_id", sa.String(64)),
    )
    op.create_index("ix_dead_letters_state_time", "dead_letters", ["state", "last_failed_at"])
    op.create_index("ix_dead_letters_correlation", "dead_letters", ["correlation_id"])


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_table("activity")
