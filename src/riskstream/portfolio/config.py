"""Settings of the portfolio package: annualisation, risk measure, trading costs, hedging."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from riskstream.core.config import ConfigModel

Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class PortfolioConfig(ConfigModel):
    """How portfolios are estimated, optimised, costed and hedged.

    Returns are annualised at ``periods_per_year`` observations a year (252 trading days).
    Trading costs follow Almgren & Chriss (2000), calibrated from each instrument's spread
    and ADV as :func:`riskstream.risk.liquidity.impact_parameters` does: half the spread is
    the proportional cost, trading ``eta_adv_fraction`` of ADV in a day moves the execution
    price by one spread (temporary impact), ``gamma_adv_fraction`` of ADV moves it for good
    (permanent impact). A rebalance is worked over ``execution_days`` in a straight line.
    """

    periods_per_year: Annotated[int, Field(ge=1, le=100_000)] = 252
    risk_free_rate: Annotated[float, Field(ge=-0.1, le=1.0)] = 0.0  # annual, decimal
    eta_adv_fraction: Positive = 0.01
    gamma_adv_fraction: Positive = 0.10
    execution_days: Positive = 1.0
    # dynamic hedging (``riskstream hedge band``): re-hedge when the open exposure drifts
    # past this share of the exposure's mean absolute size (Whalley & Wilmott 1997: under
    # proportional costs a no-trade band, not a clock, is optimal)
    rehedge_band: Fraction = 0.1
