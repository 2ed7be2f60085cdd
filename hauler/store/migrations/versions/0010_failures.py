"""Failure records, monitored foreign jobs and recovery attempts (issue 11, recovery).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hauler.store.models import BigId, JsonType

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "failures",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("transfer_id", sa.BigInteger),
        sa.Column("task_id", sa.String(64)),
        sa.Column("monitored_id", sa.BigInteger),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("retry_same", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("details", JsonType, nullable=False),
        sa.Column("rule", sa.Text),
        sa.Column("foreign_job", sa.Boolean, nullable=False),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(16)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _WHEN),
        sa.Column("error", sa.Text),
        sa.Column("failed_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("closed_at", _WHEN),
    )
    op.create_index("ix_failures_state_time", "failures", ["state", "failed_at"])
    op.create_index("ix_failures_category", "failures", ["category"])
    op.create_index("ix_failures_client_job", "failures", ["client", "job_id"])
    op.create_index("ix_failures_transfer", "failures", ["transfer_id"])
    op.create_table(
        "monitored_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("category", sa.String(128)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("failure_category", sa.String(32)),
        sa.Column("in_dlq", sa.Boolean, nullable=False),
        sa.Column("failure_id", sa.BigInteger),
        sa.Column("changes", sa.Integer, nullable=False),
        sa.Column("first_seen_at", _WHEN, nullable=False),
        sa.Column("last_seen_at", _WHEN, nullable=False),
        sa.Column("changed_at", _WHEN, nullable=False),
        sa.Column("gone_at", _WHEN),
    )
    op.create_index("ux_monitored_client_job", "monitored_jobs", ["client", "job_id"], unique=True)
    op.create_index("ix_monitored_status", "monitored_jobs", ["status"])
    op.create_index("ix_monitored_category", "monitored_jobs", ["category"])
    op.create_index("ix_monitored_in_dlq", "monitored_jobs", ["in_dlq"])
    op.create_table(
        "recovery_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("failure_id", sa.BigInteger, nullable=False),
        sa.Column("transfer_id", sa.BigInteger),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(128)),
        sa.Column("new_job_id", sa.String(128)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("finished_at", _WHEN),
    )
    op.create_index("ix_recovery_attempts_failure", "recovery_attempts", ["failure_id"])
    op.create_index("ix_recovery_attempts_transfer", "recovery_attempts", ["transfer_id"])


def downgrade() -> None:
    op.drop_table("recovery_attempts")
    op.drop_table("monitored_jobs")
    op.drop_table("failures")
