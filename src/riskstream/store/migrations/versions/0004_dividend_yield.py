"""Instruments: optional continuous dividend yield of an equity or index (dividend_yield).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("instruments", sa.Column("dividend_yield", sa.Float, nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 and PostgreSQL both drop a column in place.
    op.drop_column("instruments", "dividend_yield")
