"""Settings of the pricers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from riskstream.core.config import ConfigModel


class PricingConfig(ConfigModel):
    """How American options are priced (binomial tree) and implied volatilities solved."""

    american_method: Literal["pde", "leisen-reimer", "crr"] = "pde"  # for Greeks (CLI)
    american_steps: Annotated[int, Field(ge=10, le=20_000)] | None = None  # method default
    implied_vol_tol: Annotated[float, Field(gt=0, lt=1e-3)] = 1e-12
