"""Settings of the limits package: hysteresis, kill-switch triggers, reduction and venue."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from riskstream.core.config import ConfigModel

Fraction = Annotated[float, Field(gt=0, lt=1)]


class LimitsConfig(ConfigModel):
    """How limits are monitored and how they act.

    Utilisations are ``exposure / hard threshold``: 1.0 is a hard breach.
    """

    hysteresis: Annotated[float, Field(ge=0, lt=0.5)] = 0.05  # a state clears this far below
    # reduce until the limit is used this much: half, so that the next snapshots' noise (or
    # a regime switch raising VaR again) does not breach it at once
    reduction_target_utilisation: Fraction = 0.5
    stop_loss_var_fraction: Fraction = 0.1  # a stop-loss takes 90% of the scope's VaR off
    # the reference firm stop-loss (intraday drawdown) is hard at this multiple of the
    # day's one-day 99% VaR (soft at 0.6 of it); docs/benchmarks.md (flash crash) measures
    # what it saves in crashes and what it costs on ordinary days
    stop_loss_var_multiple: Annotated[float, Field(gt=0)] = 0.5
    reduction_quotes: Annotated[int, Field(ge=1, le=100_000)] = 256  # books quoted per plan
    auto_reduce: bool = True  # a hard breach puts the scope in REDUCING and sends trades
    circuit_breakers: bool = True  # price-gap and stale-feed halts, checked every batch
    price_gap_fraction: Fraction = 0.15  # a mid jumps this much between two batches (and
    # its quotes do not overlap; options: the underlying-equivalent move) -> instrument halt
    stale_feed_s: Annotated[float, Field(gt=0)] = 30.0  # no update this long is stale
    stale_feed_share: Fraction = 0.5  # ... for this share of held instruments -> firm halt
    schedule_periods: Annotated[int, Field(ge=1, le=1000)] = 10  # Almgren-Chriss child orders
    # an emergency reduction finishes within this: in a crash the price risk of waiting
    # outweighs the extra impact of trading fast (Almgren & Chriss 2000: urgency grows with
    # volatility)
    schedule_horizon_s: Annotated[float, Field(gt=0)] = 15.0
    risk_aversion: Annotated[float, Field(ge=0)] = 1e-6  # Almgren-Chriss lambda, per currency
    max_participation: Fraction = 0.1  # of ADV per day, for the liquidation horizon
    venue_depth_levels: Annotated[int, Field(ge=1, le=50)] = 10  # synthetic book levels
    venue_resilience_s: Annotated[float, Field(gt=0)] = 5.0  # depth refills with this time const
    # the limits stage re-reads stored limits and kill switches this often (wall clock), so a
    # change made by another process (``riskstream serve``, the CLI) takes effect
    store_poll_s: Annotated[float, Field(gt=0)] = 1.0
