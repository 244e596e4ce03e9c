"""Scenario models: volatility (EWMA, GARCH), correlation (EWMA, DCC), copulas, scenario
generators (historical, filtered historical, Monte Carlo).

Inputs are daily log returns in decimal, shaped (n_obs, n_assets), oldest first. Every model
follows one shape: parameters in ``__init__``, ``fit(...)`` returns ``self``, fitted state ends
in ``_``. Scenario generators share ``fit(returns)`` / ``generate(n_scenarios, horizon_days,
seed)`` and are built by name with :func:`scenario_generator`.
"""

from riskstream.models.config import ModelsConfig
from riskstream.models.copulas import (
    GaussianCopula,
    StudentTCopula,
    kendall_tau_matrix,
    make_copula,
    nearest_correlation,
    pseudo_observations,
)
from riskstream.models.dcc import DCCGarch
from riskstream.models.ewma import EWMACovariance
from riskstream.models.garch import SCALE, GarchPanel, GarchVolatility
from riskstream.models.scenarios import (
    FilteredHistoricalSimulation,
    HistoricalSimulation,
    MonteCarloSimulation,
    ScenarioGenerator,
    scenario_generator,
)

__all__ = [
    "SCALE",
    "DCCGarch",
    "EWMACovariance",
    "FilteredHistoricalSimulation",
    "GarchPanel",
    "GarchVolatility",
    "GaussianCopula",
    "HistoricalSimulation",
    "ModelsConfig",
    "MonteCarloSimulation",
    "ScenarioGenerator",
    "StudentTCopula",
    "kendall_tau_matrix",
    "make_copula",
    "nearest_correlation",
    "pseudo_observations",
    "scenario_generator",
]
