"""Scenario models: volatility (EWMA, GARCH), correlation (EWMA, DCC), copulas, scenario
generators (historical, filtered historical, Monte Carlo).

Inputs are daily log returns in decimal, shaped (n_obs, n_assets), oldest first. Every model
is a scikit-learn estimator (:class:`~riskstream.models.base.Estimator`): parameters in
``__init__``, ``fit(...)`` returns ``self``, fitted state ends in ``_`` (``warnings_`` lists
the fit's convergence and data-scale warnings), ``get_params`` / ``clone``; parts are
composed by passing instances. Scenario generators share ``fit(returns)`` /
``generate(n_scenarios, horizon_days, seed)``; :func:`scenario_generator` (by name) and
:func:`generator_from_config` (from ``[models]``) build them for the CLI and the engine.
"""

from riskstream.models.base import Estimator, clone
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
    generator_from_config,
    scenario_generator,
)

__all__ = [
    "SCALE",
    "DCCGarch",
    "EWMACovariance",
    "Estimator",
    "FilteredHistoricalSimulation",
    "GarchPanel",
    "GarchVolatility",
    "GaussianCopula",
    "HistoricalSimulation",
    "ModelsConfig",
    "MonteCarloSimulation",
    "ScenarioGenerator",
    "StudentTCopula",
    "clone",
    "generator_from_config",
    "kendall_tau_matrix",
    "make_copula",
    "nearest_correlation",
    "pseudo_observations",
    "scenario_generator",
]
