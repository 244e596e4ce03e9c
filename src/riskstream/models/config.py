"""Settings of the scenario models (``[models]`` table of the TOML configuration)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from riskstream.core.config import ConfigModel


class ModelsConfig(ConfigModel):
    """Defaults of the volatility, dependence and scenario models.

    ``ewma_lambda`` is the RiskMetrics (1996) decay factor for daily data, 0.94.
    ``garch_dist`` is the GARCH innovation distribution ("t": standardised Student-t).
    ``garch_asymmetric`` adds the GJR leverage term (``o=1``) to scenario GARCH filters.
    ``copula`` joins the Monte Carlo marginals. ``hs_paths`` picks how historical simulation
    builds multi-day scenarios ("overlapping" h-day windows, or "bootstrap" of daily rows).
    """

    ewma_lambda: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.94
    garch_dist: Literal["normal", "t"] = "t"
    garch_mean: Literal["constant", "zero"] = "constant"
    garch_asymmetric: bool = False
    copula: Literal["gaussian", "t"] = "t"
    hs_paths: Literal["overlapping", "bootstrap"] = "overlapping"
    scenario_method: Literal["historical", "fhs", "mc"] = "fhs"
    scenarios: Annotated[int, Field(ge=1, le=10_000_000)] = 10_000
    seed: Annotated[int, Field(ge=0)] = 7
