"""Settings of the backtest package (``[backtest]`` in the TOML configuration)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from riskstream.core.config import ConfigModel


class BacktestConfig(ConfigModel):
    """Defaults of ``riskstream backtest var`` and of the rolling validation.

    ``models`` is a comma-separated list of hs, fhs, garch-t, ewma, mc.
    """

    models: Annotated[
        str, Field(pattern=r"^(hs|fhs|garch-t|ewma|mc)(,(hs|fhs|garch-t|ewma|mc))*$")
    ] = "hs,fhs,garch-t,ewma"
    confidence: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.99
    window_days: Annotated[int, Field(ge=100)] = 500
    refit_every_days: Annotated[int, Field(ge=1)] = 20
    n_scenarios: Annotated[int, Field(ge=100)] = 2000
    es_simulations: Annotated[int, Field(ge=100)] = 2000
    seed: Annotated[int, Field(ge=0)] = 0
