"""Settings of the market-data stage: sequencing limits, book capacity, feature windows."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from riskstream.core.config import ConfigModel

MAX_LEVELS = 1 << 16  # the largest max_levels (a replay sizes its books from the data)


class MdConfig(ConfigModel):
    """Market data: validation bounds, order-book capacity and feature parameters.

    Capacities are initial sizes: the order table and the VWAP trade pool grow between
    batches when a batch could overflow them; ``max_levels`` is a hard per-side limit (an
    event that would open one more level is quarantined as ``LEVELS_FULL``).
    """

    sources_per_instrument: Annotated[int, Field(ge=1, le=64)] = 4  # feeds sequenced each
    max_levels: Annotated[int, Field(ge=1, le=MAX_LEVELS)] = 64  # price levels per side and book
    order_capacity: Annotated[int, Field(ge=16, le=2**30)] = 1 << 20  # initial order slots
    depth_levels: Annotated[int, Field(ge=1, le=50)] = 5  # top-N for depth and imbalance
    # an aggressive order that locks or crosses the book: "trust" applies it as sent and
    # flags the book crossed until the venue's messages uncross it; "match" executes it
    # against the resting orders (price-time priority) as the venue's engine would
    crossing: Literal["trust", "match"] = "trust"
    ts_floor_ns: Annotated[int, Field(ge=0)] = 946_684_800 * 10**9  # 2000-01-01T00:00Z
    max_ahead_ns: Annotated[int, Field(ge=0)] = 5 * 10**9  # ts_event beyond ts_recv/clock
    spread_halflife_s: Annotated[float, Field(gt=0)] = 30.0  # EWMA of the spread
    profile_bucket_s: Annotated[int, Field(ge=60, le=86_400)] = 1_800  # time-of-day bucket
    profile_alpha: Annotated[float, Field(gt=0, le=1)] = 0.01  # weight of a new observation
    intensity_halflife_s: Annotated[float, Field(gt=0)] = 10.0  # EWMA of the trade rate
    grid_s: Annotated[float, Field(gt=0)] = 1.0  # sampling grid of mid returns, OFI, rate
    rv_window: Annotated[int, Field(ge=2, le=10_000)] = 60  # grid returns in realised vol
    vwap_window_s: Annotated[float, Field(gt=0)] = 60.0  # rolling VWAP window
    vwap_capacity: Annotated[int, Field(ge=16, le=2**30)] = 1 << 16  # initial trade pool
    quarantine_buffer: Annotated[int, Field(ge=1)] = 1_000_000  # kept until drained
