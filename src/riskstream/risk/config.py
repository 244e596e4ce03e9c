"""Settings of the risk engine: measures, scenarios, option grids and liquidity adjustments.

Units are in the field names. ``RiskConfig`` is the ``[risk]`` table of the application's
settings; its :meth:`~riskstream.core.config.ConfigModel.fingerprint` is recorded in every
risk snapshot so a figure can be replayed with the settings that produced it (BCBS 239).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import Field, model_validator

from riskstream.core.config import ConfigModel

Confidence = Annotated[float, Field(gt=0.5, lt=1.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]

VaRMethod = Literal["historical", "parametric", "mc", "fhs"]


class LiquidityConfig(ConfigModel):
    """Liquidity-adjusted VaR: spread, market impact, funding and intraday pattern.

    * Exogenous spread cost (Bangia et al. 1999): ``spread_k`` stresses the relative spread
      to ``mu + k sigma``; without a spread history ``sigma = spread_vol_ratio * mu``.
    * Endogenous impact (Almgren & Chriss 2000): a position is liquidated at
      ``max_participation`` of average daily volume; temporary impact ``eta`` makes trading
      ``eta_adv_fraction`` of ADV in a day cost one full spread, permanent impact ``gamma``
      moves the price one spread per ``gamma_adv_fraction`` of ADV (the paper's section 4
      rules of thumb: 1% and 10%); ``risk_aversion`` is the paper's lambda, in 1/currency.
    * Funding (margin and haircut calls under the stressed move, and their financing cost):
      initial-margin and haircut rates per asset class, normal and stressed.
    * Intraday: a U-shaped time-of-day multiplier on spreads (inverse on depth) between
      ``session_open_utc_h`` and ``session_close_utc_h``, used when the market state has no
      live spread.
    """

    spread_k: NonNegative = 3.0
    spread_vol_ratio: NonNegative = 0.5
    max_participation: Annotated[float, Field(gt=0.0, le=1.0)] = 0.10
    eta_adv_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.01
    gamma_adv_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.10
    risk_aversion_per_ccy: NonNegative = 1e-6
    max_liquidation_days: Annotated[int, Field(ge=1, le=250)] = 20
    initial_margin: dict[str, NonNegative] = Field(
        default_factory=lambda: {"future": 0.06, "option": 0.15}
    )
    initial_margin_stressed: dict[str, NonNegative] = Field(
        default_factory=lambda: {"future": 0.09, "option": 0.25}
    )
    haircut: dict[str, NonNegative] = Field(
        default_factory=lambda: {"equity": 0.15, "bond": 0.02, "fx": 0.0}
    )
    haircut_stressed: dict[str, NonNegative] = Field(
        default_factory=lambda: {"equity": 0.25, "bond": 0.05, "fx": 0.0}
    )
    funding_rate_annual: NonNegative = 0.05
    intraday_amplitude: NonNegative = 0.6
    intraday_decay_h: Annotated[float, Field(gt=0.0)] = 0.75
    session_open_utc_h: Annotated[float, Field(ge=0.0, lt=24.0)] = 14.5
    session_close_utc_h: Annotated[float, Field(gt=0.0, le=24.0)] = 21.0


class RiskConfig(ConfigModel):
    """The real-time risk engine.

    Attributes
    ----------
    snapshot_interval_ms : int
        Event time between two published snapshots.
    method : {"historical", "parametric", "mc", "fhs"}
        How factor scenarios are produced (the models package's scenario generators; for
        ``parametric`` the delta-normal / delta-gamma Cornish-Fisher measures are reported
        alongside the simulation-free figures).
    confidence_levels, horizons_days : tuple
        Every VaR/ES figure is reported at each level and horizon.
    n_scenarios, seed : int
        Scenarios drawn per horizon, and the seed of the draw (determinism).
    history_days : int
        Length of the factor history the scenario generator is fitted on.
    euler_var_neighbours : int
        Half-width (in ranks) of the neighbourhood of the VaR scenario used for component
        VaR (kernel estimator); 0 picks ``max(2, n_scenarios // 400)``.
    grid_spot_points, grid_vol_points : int
        Option revaluation grid per underlying: log-spot points and log-vol points.
    grid_margin : float
        Extra log-spot range beyond the widest scenario move, so the spot may drift before
        the grid must be rebuilt.
    rate, dividend_yield : float
        Flat continuously compounded risk-free rate and dividend yield for option pricing.
    top_n : int
        Largest Euler contributors listed in a snapshot.
    full_recompute_every : int
        The linear P&L vectors are updated incrementally (only changed exposures); every
        this many refreshes they are recomputed from scratch, bounding rounding drift.
    threads : int
        Threads for the engine's two parallel sweeps (capped by numba's pool). Results do
        not depend on it; 1 is fastest on a busy shared machine (idle threads spin).
    regime_conditional : bool
        Let a regime detector switch the scenarios to the detected regime's volatility
        and correlation (:meth:`RiskEngine.condition_on_regime`,
        :mod:`riskstream.risk.conditioning`); off, the figures are unconditional (the
        scenario set's through-the-cycle law). On, the engine computes the scenarios'
        moments once at start (three sweeps of the scenario matrix).
    """

    snapshot_interval_ms: Annotated[int, Field(ge=1, le=3_600_000)] = 100
    method: VaRMethod = "historical"
    confidence_levels: tuple[Confidence, ...] = (0.99, 0.975)
    horizons_days: tuple[Annotated[int, Field(ge=1, le=250)], ...] = (1, 10)
    n_scenarios: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000
    seed: Annotated[int, Field(ge=0)] = 7
    history_days: Annotated[int, Field(ge=30, le=20_000)] = 750
    euler_var_neighbours: Annotated[int, Field(ge=0)] = 0
    grid_spot_points: Annotated[int, Field(ge=5, le=1001)] = 61
    grid_vol_points: Annotated[int, Field(ge=2, le=101)] = 11
    grid_margin: Annotated[float, Field(ge=0.0, le=2.0)] = 0.10
    rate: Annotated[float, Field(ge=-0.1, le=1.0)] = 0.03
    dividend_yield: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    top_n: Annotated[int, Field(ge=1, le=10_000)] = 10
    full_recompute_every: Annotated[int, Field(ge=1)] = 600
    threads: Annotated[int, Field(ge=1, le=256)] = 1
    regime_conditional: bool = False
    liquidity: LiquidityConfig = LiquidityConfig()

    def fingerprint(self) -> str:
        """Hash of the settings that shape the figures (``threads`` does not: results are
        bit-for-bit independent of it), recorded in every snapshot."""
        payload = json.dumps(self.model_dump(mode="json", exclude={"threads"}), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @model_validator(mode="after")
    def _non_empty(self) -> RiskConfig:
        if not self.confidence_levels:
            raise ValueError("confidence_levels needs at least one level")
        if not self.horizons_days:
            raise ValueError("horizons_days needs at least one horizon")
        return self
