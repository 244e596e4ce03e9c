"""Reference data: instruments, books, positions, FX rates to base and universe metadata.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("instrument_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("asset_class", sa.String(8), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("exchange", sa.String(16), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("sector", sa.String(64)),
        sa.Column("multiplier", sa.Float, nullable=False),
        sa.Column("tick_size", sa.Float, nullable=False),
        sa.Column("lot_size", sa.Float, nullable=False),
        sa.Column("ref_price", sa.Float, nullable=False),
        sa.Column("adv", sa.Float, nullable=False),
        sa.Column("spread_bps", sa.Float, nullable=False),
        sa.Column(
            "underlying_id",
            sa.Integer,
            sa.ForeignKey(
                "instruments.instrument_id",
                name="fk_instruments_underlying",
                deferrable=True,
                initially="DEFERRED",
            ),
        ),
        sa.Column("expiry", sa.Date),
        sa.Column("strike", sa.Float),
        sa.Column("right", sa.String(1)),
        sa.Column("exercise", sa.String(8)),
        sa.Column("base_currency", sa.String(3)),
        sa.Column("coupon", sa.Float),
        sa.Column("maturity", sa.Date),
        sa.Column("coupon_frequency", sa.SmallInteger),
        sa.Column("rating", sa.String(8)),
    )
    op.create_index("ix_instruments_symbol", "instruments", ["symbol"])
    op.create_table(
        "books",
        sa.Column("book_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("desk", sa.String(64), nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("trader", sa.String(64), nullable=False),
    )
    op.create_table(
        "positions",
        sa.Column(
            "book_id",
            sa.Integer,
            sa.ForeignKey("books.book_id", name="fk_positions_book"),
            primary_key=True,
        ),
        sa.Column(
            "instrument_id",
            sa.Integer,
            sa.ForeignKey("instruments.instrument_id", name="fk_positions_instrument"),
            primary_key=True,
        ),
        sa.Column("quantity", sa.Float, nullable=False),
    )
    op.create_table(
        "fx_rates",
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("to_base", sa.Float, nullable=False),
    )
    op.create_table(
        "universe_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("universe_meta", "fx_rates", "positions", "books", "instruments"):
        op.drop_table(table)
