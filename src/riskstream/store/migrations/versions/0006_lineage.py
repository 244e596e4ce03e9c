"""BCBS 239 lineage: a record per reported figure and the snapshots it was computed from.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_records",
        sa.Column("lineage_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("positions_version", sa.BigInteger, nullable=False),
        sa.Column("positions_digest", sa.String(64), nullable=False),
        sa.Column("reference_digest", sa.String(64), nullable=False),
        sa.Column("market_versions", sa.Text, nullable=False),
        sa.Column("bus_sequences", sa.Text, nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("code_version", sa.String(128), nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("figures", sa.Text, nullable=False),
        sa.Column("data_quality", sa.Text, nullable=False),
    )
    op.create_index("ix_lineage_records_kind", "lineage_records", ["kind"])
    op.create_table(
        "lineage_snapshots",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lineage_snapshots")
    op.drop_index("ix_lineage_records_kind", "lineage_records")
    op.drop_table("lineage_records")
