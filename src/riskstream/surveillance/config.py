"""Settings of the surveillance package: the market-abuse detectors' thresholds."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from riskstream.core.config import ConfigModel


class AbuseConfig(ConfigModel):
    """Thresholds of the market-abuse detectors, each fixed from the reasoning beside it."""

    session_s: Annotated[float, Field(gt=0)] = 23_400.0  # a day: 6.5 h, as the simulator's
    day0_ns: int = 0  # start of day 0 (0: the first event's time)
    # an order in the top ~5% by size if sizes were exponential (P(X > 3 mean) = e^-3)
    large_mult: Annotated[float, Field(gt=0)] = 3.0
    mean_size_halflife: Annotated[int, Field(ge=1)] = 200  # orders, of the running mean
    # CFTC spoofing cases (e.g. U.S. v. Coscia, 2015: orders cancelled within a second of the
    # small fill; In re Panther Energy, 2013): the cancel follows the fill within seconds
    exec_window_s: Annotated[float, Field(gt=0)] = 2.0
    max_life_s: Annotated[float, Field(gt=0)] = 30.0  # a spoof is short-lived by purpose
    group_s: Annotated[float, Field(gt=0)] = 1.0  # cancels of one episode come together
    layering_levels: Annotated[int, Field(ge=2)] = 3  # "several" levels: three or more
    # a spoofer's large cancels follow its own opposite fills as a rule (CFTC: a pattern of
    # cancels); a busy market maker's only as often as its fills are frequent: at least half
    # of the participant's large cancels of the day must qualify
    spoof_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    # an accident happens once; three self-matches in a minute in one instrument is a pattern
    wash_min_trades: Annotated[int, Field(ge=1)] = 3
    wash_window_s: Annotated[float, Field(gt=0)] = 60.0
    close_window_s: Annotated[float, Field(gt=0)] = 120.0  # the last two minutes
    close_share: Annotated[float, Field(gt=0, le=1)] = 0.2  # a dominant taker: a fifth
    close_direction: Annotated[float, Field(gt=0, le=1)] = 0.8  # |net| / gross: one way
    close_move_spreads: Annotated[float, Field(ge=0)] = 2.0  # beyond the bid-ask bounce
    # marking is a series of orders holding the price (ESMA: "orders ... executed at or near
    # a reference time"); one late trade is not a pattern
    close_min_orders: Annotated[int, Field(ge=1)] = 3
    ignition_orders: Annotated[int, Field(ge=2)] = 4
    ignition_gap_s: Annotated[float, Field(gt=0)] = 1.0
    ignition_move_spreads: Annotated[float, Field(ge=0)] = 2.0
    ignition_reverse_s: Annotated[float, Field(gt=0)] = 10.0
    max_book_levels: Annotated[int, Field(ge=8)] = 64


class SurveillanceConfig(ConfigModel):
    """The ``[surveillance]`` table: the live market-abuse stage (``surveillance`` node)."""

    abuse: AbuseConfig = AbuseConfig()
    alerts_kept: Annotated[int, Field(ge=1)] = 1000  # newest alerts the dashboard shows
