"""Risk measures: VaR, ES, liquidity-adjusted VaR, Euler allocation and the real-time risk
engine.

Losses are positive amounts throughout. The stable single-series entry point is
:func:`var_es`; the engine is :class:`RiskEngine` (wrapped for the pipeline by
:class:`RiskStage`), publishing immutable :class:`RiskSnapshot` records.
"""

from riskstream.risk.config import LiquidityConfig, RiskConfig
from riskstream.risk.engine import RiskEngine
from riskstream.risk.euler import (
    TailRows,
    aggregate,
    component_es,
    component_var,
    euler_allocation,
    incremental_var,
    marginal_var,
    tail_rows,
)
from riskstream.risk.factor_history import (
    FactorHistory,
    MarketHistoryFrames,
    build_factor_history,
)
from riskstream.risk.factors import FactorSpace, build_factor_space
from riskstream.risk.liquidity import (
    AlmgrenChriss,
    FundingCost,
    bangia_spread_cost,
    funding_cost,
    impact_parameters,
    intraday_multiplier,
    liquidation_days,
)
from riskstream.risk.measures import (
    VaRResult,
    cornish_fisher_var_es,
    delta_gamma_moments,
    delta_gamma_var_es,
    normal_var_es,
    var_es,
    var_es_from_pnl,
)
from riskstream.risk.scenarios import ScenarioSet
from riskstream.risk.snapshot import Contributor, Exclusion, Measure, RiskSnapshot
from riskstream.risk.stage import RiskStage

__all__ = [
    "AlmgrenChriss",
    "Contributor",
    "Exclusion",
    "FactorHistory",
    "FactorSpace",
    "FundingCost",
    "LiquidityConfig",
    "MarketHistoryFrames",
    "Measure",
    "RiskConfig",
    "RiskEngine",
    "RiskSnapshot",
    "RiskStage",
    "ScenarioSet",
    "TailRows",
    "VaRResult",
    "aggregate",
    "bangia_spread_cost",
    "build_factor_history",
    "build_factor_space",
    "component_es",
    "component_var",
    "cornish_fisher_var_es",
    "delta_gamma_moments",
    "delta_gamma_var_es",
    "euler_allocation",
    "funding_cost",
    "impact_parameters",
    "incremental_var",
    "intraday_multiplier",
    "liquidation_days",
    "marginal_var",
    "normal_var_es",
    "tail_rows",
    "var_es",
    "var_es_from_pnl",
]
