"""Portfolio construction and hedging: what to hold, and how to hedge what is held.

Estimation (:mod:`~riskstream.portfolio.estimation`), mean-variance with costs
(:mod:`~riskstream.portfolio.optimise`, :mod:`~riskstream.portfolio.costs`), risk parity
(:mod:`~riskstream.portfolio.risk_parity`), Black-Litterman
(:mod:`~riskstream.portfolio.black_litterman`), hedges (:mod:`~riskstream.portfolio.hedging`)
and the risk before/after (:mod:`~riskstream.portfolio.report`). The package proposes
trades; the CLI and the service pass them through the limits package's pre-trade gate.
"""

from riskstream.portfolio.black_litterman import black_litterman, equilibrium_returns
from riskstream.portfolio.costs import TradingCosts
from riskstream.portfolio.hedging import (
    band_rehedge,
    beta_hedge_contracts,
    duration_hedge,
    greek_hedge,
    min_variance_hedge,
    round_to_lots,
)
from riskstream.portfolio.optimise import (
    Allocation,
    Constraints,
    GroupBound,
    efficient_frontier,
    optimise,
)
from riskstream.portfolio.report import risk_before_after, risk_figures
from riskstream.portfolio.risk_parity import (
    levered_risk_parity,
    risk_budget_weights,
    risk_contributions,
)

__all__ = [
    "Allocation",
    "Constraints",
    "GroupBound",
    "TradingCosts",
    "band_rehedge",
    "beta_hedge_contracts",
    "black_litterman",
    "duration_hedge",
    "efficient_frontier",
    "equilibrium_returns",
    "greek_hedge",
    "levered_risk_parity",
    "min_variance_hedge",
    "optimise",
    "risk_before_after",
    "risk_budget_weights",
    "risk_contributions",
    "risk_figures",
    "round_to_lots",
]
