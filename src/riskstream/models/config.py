"""Settings of the scenario models (``[models]`` table of the TOML configuration)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from riskstream.core.config import ConfigModel


class ModelsConfig(ConfigModel):
    """Defaults of the volatility, dependence and scenario models.

    Read by the risk engine's scenario generator (``riskstream risk``, the demo:
    :func:`~riskstream.models.scenarios.generator_from_config`), by ``riskstream scenarios``
    and ``riskstream garch``, and (``ewma_lambda``) by ``riskstream backtest var``.

    ``ewma_lambda`` is the RiskMetrics (1996) decay factor for daily data, 0.94 (the
    backtest's ``ewma`` model).
    ``garch_dist`` is the GARCH innovation distribution ("t": standardised Student-t) and
    ``garch_mean`` its mean model, for the FHS filter and the MC marginals.
    ``garch_asymmetric`` adds the GJR leverage term (``o=1``) to those GARCHes.
    ``copula`` joins the Monte Carlo marginals. ``hs_paths`` picks how historical simulation
    builds multi-day scenarios ("overlapping" h-day windows, exact historical simulation, or
    "bootstrap" of daily rows). ``scenario_method``, ``scenarios`` and ``seed`` are the
    defaults of ``riskstream scenarios`` (the engine's are ``[risk]``'s).
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
