"""Limits and kill-switch states (riskstream.store.limits_repo); audit entries: audit_log.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limits",
        sa.Column("limit_id", sa.String(200), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("limit_type", sa.String(32), nullable=False),
        sa.Column("soft", sa.Float, nullable=False),
        sa.Column("hard", sa.Float, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "kill_switches",
        sa.Column("scope_id", sa.String(160), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("ts_ns", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kill_switches")
    op.drop_table("limits")
