"""Alert groups, their alerts and the notification log (issue 12, alerts).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hauler.store.models import BigId, JsonType

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_groups",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("labels", JsonType, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_flush_at", sa.DateTime(timezone=True)),
        sa.Column("has_flushed", sa.Boolean, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("group_key", sa.String(255), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("labels", JsonType, nullable=False),
        sa.Column("annotations", JsonType, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inhibited", sa.Boolean, nullable=False),
    )
    op.create_index("ix_alerts_group", "alerts", ["group_key"])
    op.create_table(
        "alert_notifications",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("group_key", sa.String(255)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("firing", JsonType, nullable=False),
        sa.Column("resolved", JsonType, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_alert_notifications_group", "alert_notifications", ["group_key", "receiver", "at"]
    )
    op.create_index("ix_alert_notifications_at", "alert_notifications", ["at"])


def downgrade() -> None:
    op.drop_table("alert_notifications")
    op.drop_table("alerts")
    op.drop_table("alert_groups")
