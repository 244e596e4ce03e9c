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


class MarginConfig(ConfigModel):
    """SPAN initial margin of the exchange-traded derivatives (futures, options), normal and
    stressed (see :mod:`riskstream.risk.margin`).

    The price scan range of each combined commodity (one spot risk factor: a stock, or
    every delivery month of a futures sector) covers ``coverage_sigmas`` daily standard
    deviations of the factor over ``margin_period_days``; the volatility scan range the same
    for the implied-vol factor's log move; the two extreme scenarios move the price
    ``extreme_multiple`` scan ranges and count ``extreme_cover`` of the loss (CME: 3 and
    35%). Stressed margin rescans with every range ``stress_multiplier`` times wider: a
    clearing house recalibrates its scan ranges to the volatility it sees, so margins rise
    in a stress just when prices fall — the margin spiral of Brunnermeier & Pedersen (2009),
    whose fig. 1 shows S&P 500 futures margins rising through the 1987 and 2008 crises.
    """

    coverage_sigmas: Annotated[float, Field(gt=0.0, le=10.0)] = 3.0
    margin_period_days: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    extreme_multiple: Annotated[float, Field(gt=0.0, le=10.0)] = 3.0
    extreme_cover: Annotated[float, Field(gt=0.0, le=1.0)] = 0.35
    stress_multiplier: Annotated[float, Field(ge=1.0, le=10.0)] = 2.0


class LiquidityConfig(ConfigModel):
    """Liquidity-adjusted VaR: spread, market impact, funding and intraday pattern.

    * Exogenous spread cost (Bangia et al. 1999): ``spread_k`` stresses the relative spread
      to ``mu + k sigma``; without a spread history ``sigma = spread_vol_ratio * mu``.
    * Endogenous impact (Almgren & Chriss 2000): a position is liquidated at
      ``max_participation`` of average daily volume; temporary impact ``eta`` makes trading
      ``eta_adv_fraction`` of ADV in a day cost one full spread, permanent impact ``gamma``
      moves the price one spread per ``gamma_adv_fraction`` of ADV (the paper's section 4
      rules of thumb: 1% and 10%); ``risk_aversion`` is the paper's lambda, in 1/currency.
    * Funding liquidity (Brunnermeier & Pedersen 2009): the cash calls of the stressed move —
      variation margin on the derivatives' losses, the rise of their SPAN initial margin
      (``margin``), wider repo haircuts (``haircut`` to ``haircut_stressed`` per asset class,
      on financed long positions) — are funded from a liquid buffer of
      ``liquid_buffer_share`` of the portfolio's gross value at ``funding_spread_annual``
      over the horizon; the rest is raised by selling positions at the portfolio's own
      liquidation cost (see :func:`riskstream.risk.liquidity.funding_cost`).
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
    margin: MarginConfig = MarginConfig()
    haircut: dict[str, NonNegative] = Field(
        default_factory=lambda: {"equity": 0.15, "bond": 0.02, "fx": 0.0}
    )
    haircut_stressed: dict[str, NonNegative] = Field(
        default_factory=lambda: {"equity": 0.25, "bond": 0.05, "fx": 0.0}
    )
    # unsecured term funding over what posted cash earns, in a stress (3-month LIBOR-OIS,
    # such a spread, peaked above 3.5% in October 2008)
    funding_spread_annual: NonNegative = 0.02
    liquid_buffer_share: Fraction = 0.02  # cash and committed lines / gross position value
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
        Scenarios drawn per horizon by ``mc`` and ``fhs``, and the seed of the draw
        (determinism). ``historical`` (and ``parametric``) use ``window_days`` scenarios.
    window_days : int
        The number of most recent daily factor moves of the stored history the scenario
        model is fitted on (:mod:`riskstream.risk.factor_history`). For ``historical`` the
        scenarios are the last ``window_days`` overlapping ``h``-day windows of those moves
        at every horizon ``h``, so the history must hold ``window_days + max(h) - 1`` moves
        (else an error naming both lengths).
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
    vol_quote_stale_s : float
        An option quote older than this (seconds of the clock) is stale: flagged, and the
        option takes the live surface's vol (:mod:`riskstream.risk.vol_surface`).
    vol_rebuild_abs, vol_rebuild_rel : float
        An underlying's option grids are rebuilt at the live vols when its held options'
        vols have moved, since the grids were built, by a vega-weighted mean absolute move
        (weights |quantity x vega|) above both ``vol_rebuild_abs`` (vol points as a
        decimal: 0.005 = half a vol point) and ``vol_rebuild_rel`` of their vega-weighted
        vol (0.02 = 2 %); smaller moves keep the grids (values read off them are then those
        at the build vols; Greeks use the live vols always).
    background_recompute : bool
        Compute a regime switch (recoloured scenarios and every option grid) and SPAN
        margin on the engine's background worker and swap them in at the top of a later
        refresh, so that no refresh waits for them (live mode: the risk node of
        ``riskstream demo``/``run``/``up`` always runs so). Off (the default), they
        are computed inside the refresh that needs them: the figures then depend on the
        inputs alone, never on timing (replay, backtests, tests).
    """

    snapshot_interval_ms: Annotated[int, Field(ge=1, le=3_600_000)] = 100
    method: VaRMethod = "historical"
    confidence_levels: tuple[Confidence, ...] = (0.99, 0.975)
    horizons_days: tuple[Annotated[int, Field(ge=1, le=250)], ...] = (1, 10)
    n_scenarios: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000
    seed: Annotated[int, Field(ge=0)] = 7
    window_days: Annotated[int, Field(ge=30, le=20_000)] = 750
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
    vol_quote_stale_s: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 60.0
    vol_rebuild_abs: NonNegative = 0.005
    vol_rebuild_rel: NonNegative = 0.02
    background_recompute: bool = False

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
