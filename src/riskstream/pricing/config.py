"""Settings of the pricers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from riskstream.core.config import ConfigModel


class PricingConfig(ConfigModel):
    """How American options are priced (the PDE or a binomial tree), for the CLI's Greeks.

    The implied-volatility solvers take no setting: they solve to a relative price error
    of 1e-12 (:func:`riskstream.pricing.bsm_implied_vol`), as accurate as double precision
    allows at a cost of one or two Newton steps more than a loose tolerance."""

    american_method: Literal["pde", "leisen-reimer", "crr"] = "pde"  # for Greeks (CLI)
    american_steps: Annotated[int, Field(ge=10, le=20_000)] | None = None  # method default
