"""Settings of the reference-universe generator and the market simulator."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from riskstream.core.config import ConfigModel


class UniverseConfig(ConfigModel):
    """The generated reference universe and portfolio."""

    instruments: Annotated[int, Field(ge=50, le=1_000_000)] = 10_000
    seed: Annotated[int, Field(ge=0)] = 7
    base_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    aum_base: Annotated[float, Field(gt=0)] = 500_000_000.0  # minimum gross exposure (base ccy)
    as_of: dt.date = dt.date(2024, 6, 28)  # date of the reference prices; expiries follow it


class SimulatorConfig(ConfigModel):
    """The market simulator: how fast it produces events and from which seed."""

    seed: Annotated[int, Field(ge=0)] = 7
    events_per_s: Annotated[float, Field(gt=0)] = 200_000.0  # simulated-time event rate
    speedup: Annotated[float, Field(gt=0)] = 1.0  # simulated seconds per wall-clock second
    batch_events: Annotated[int, Field(ge=1, le=10_000_000)] = 16_384
