"""The model inventory: one row per model with its card, version and approval state.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_inventory",
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("card", sa.Text, nullable=False),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("validated_by", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("model_inventory")
