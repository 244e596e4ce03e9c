"""The simulator's latent market: factor-driven fair values, Markov regimes, jumps, the
implied-volatility surface, the yield curve, FX carry and the intraday liquidity cycle.

:class:`MarketModel` holds the "true" state of the market and moves it one time step at a
time; the order-flow kernels (:mod:`riskstream.feeds.orderflow`) then quote around the fair
values it publishes. Nothing here emits events.

Each step of ``dt`` seconds (trading time: a year is ``trading_days_per_year`` sessions of
``session_s`` seconds):

1. the regime chain moves (or a scenario forces a regime);
2. factors move: :math:`dF = \\mu_r e_{mkt} dt + m_r \\sigma \\sqrt{dt}\\,Z + J`, with the
   regime's drift :math:`\\mu_r` and volatility multiplier :math:`m_r`, compound-Poisson market
   jumps :math:`J`, plus the scenario's scripted market move;
3. drivers move: :math:`dz = B\\,dF + m^\\varepsilon_r \\sigma^\\varepsilon \\sqrt{dt}\\,Z'`
   plus idiosyncratic (earnings-like) equity jumps;
4. fair values follow: equities and futures ``ref * exp(z)``; FX at covered interest parity
   ``S0 * exp(z) * exp((r_quote - r_base) T)``; bonds priced from their yield ``y0 + z`` by
   :func:`riskstream.pricing.bond_price_from_yield`; options by Black-Scholes (stocks) or
   Black-76 (index futures) at the volatility surface (:meth:`MarketModel.option_vols`).

The implied volatility level :math:`v_u` of each option underlying mean-reverts (half-life
``implied_vol_half_life_s``) to the underlying's model volatility in the current regime and
jumps with the underlying through the leverage effect :math:`d\\ln v = \\ell\\, d\\ln S`
(Black 1976; Christie 1982), ``leverage`` = :math:`\\ell` < 0.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.feeds.config import SimulatorConfig
from riskstream.feeds.factors import FactorModel, build_factor_model
from riskstream.feeds.markets import zero_rate
from riskstream.feeds.scenarios import Scenario
from riskstream.pricing import (
    bond_price_from_yield,
    bond_yield_from_price,
    bsm_implied_vol,
    bsm_price,
)

CALM, VOLATILE, CRISIS = 0, 1, 2
REGIME_NAMES = ("calm", "volatile", "crisis")

SMILE_SKEW = {"index": 0.35, "stock": 0.20}
SMILE_CURVATURE = 0.10
TERM_SLOPE = 0.08
STRESS_TERM_DECAY_YEARS = 0.5
"""The volatility surface (the same parametric form the reference universe priced its
options with, so simulated quotes start at the reference prices):

.. math::
    \\sigma(K, T) = \\mathrm{clip}\\big(a(T)\\,(1 - s\\,x + c\\,x^2),\\ a/2,\\ 3a\\big),
    \\quad x = \\frac{\\ln(K/S)}{\\sqrt{T}},

    a(T) = \\big(\\bar v + (v - \\bar v)\\, e^{-T/\\tau}\\big)\\,\\big(1 + b(\\sqrt{T} - 1/2)\\big)

with skew :math:`s` (steeper for indices), smile curvature :math:`c`, calm term slope
:math:`b`, the underlying's calm level :math:`\\bar v` and current level :math:`v`: when
stress lifts :math:`v` the short end rises most and the term structure inverts. Skew scaled
by :math:`1/\\sqrt{T}` is the usual sticky-moneyness shape (Gatheral, *The Volatility
Surface*, 2006, ch. 7)."""

VOL_OF_VOL = 0.8
"""Annual volatility of the log implied-volatility level besides its leverage response."""


def smile_shape(
    skew: np.ndarray | float, log_moneyness: np.ndarray | float, years: np.ndarray | float
) -> np.ndarray:
    """The smile factor :math:`1 - s\\,x + c\\,x^2`, :math:`x = \\ln(K/S)/\\sqrt{T}`, of the
    surface (:data:`SMILE_SKEW`), before clipping; shapes broadcast."""
    x = log_moneyness / np.sqrt(years)
    return 1.0 - skew * x + SMILE_CURVATURE * x * x


def term_shape(years: np.ndarray | float) -> np.ndarray:
    """The calm term structure factor :math:`1 + b(\\sqrt{T} - 1/2)` of the surface."""
    return 1.0 + TERM_SLOPE * (np.sqrt(years) - 0.5)


def atm_surface_vol(
    calm: np.ndarray | float, level: np.ndarray | float, years: np.ndarray | float
) -> np.ndarray:
    """At-the-money implied volatility :math:`a(T)` of the surface (:data:`SMILE_SKEW`) for an
    underlying of calm level ``calm`` whose level is now ``level``; shapes broadcast."""
    return (calm + (level - calm) * np.exp(-years / STRESS_TERM_DECAY_YEARS)) * term_shape(years)


def surface_vol(
    atm: np.ndarray | float,
    skew: np.ndarray | float,
    log_moneyness: np.ndarray | float,
    years: np.ndarray | float,
) -> np.ndarray:
    """Implied volatility on the surface at log-moneyness ``ln(K/S)`` and maturity ``years``
    given its at-the-money level ``atm`` (:func:`atm_surface_vol`): the smile clipped to
    ``[atm/2, 3 atm]``; shapes broadcast."""
    return np.clip(atm * smile_shape(skew, log_moneyness, years), 0.5 * atm, 3.0 * atm)


def reversion_fraction(dt: float, half_life: float) -> float:
    """Share of the gap to its target that a mean-reverting level closes in ``dt`` (same
    units as ``half_life``): :math:`1 - e^{-\\kappa\\,dt}`, :math:`\\kappa = \\ln 2 / h`."""
    kappa = math.log(2.0) / half_life
    return 1.0 - math.exp(-kappa * dt)


def implied_vol_log_move(
    iv_log: np.ndarray,
    target_log: np.ndarray,
    reversion: float,
    leverage: float,
    underlying_move: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """One step of the log implied-volatility level :math:`\\ln v`: mean reversion of a share
    ``reversion`` (:func:`reversion_fraction`) of the gap to the regime's level, the leverage
    effect :math:`\\ell\\, d\\ln S` (Black 1976; Christie 1982) and the vol-of-vol shock
    ``noise``. Returns the move, shape of ``iv_log``."""
    return reversion * (target_log - iv_log) + leverage * underlying_move + noise


YEAR_NS = 365 * NS_PER_DAY  # ACT/365 year fractions for expiries and maturities
BOND_REPRICE_NS = NS_PER_S  # bond fair values are refreshed once a simulated second


def intraday_activity(tau: np.ndarray | float) -> np.ndarray | float:
    """Activity multiplier at fraction ``tau`` of the session (mean 1 over a session).

    The U-shape of intraday volume (Jain & Joh 1988; Admati & Pfleiderer 1988): busiest at
    the open, quiet at midday, busy again into the close.
    """
    shape = 1.0 + 1.6 * np.exp(-tau / 0.07) + 1.0 * np.exp(-(1.0 - tau) / 0.06)
    return shape / _ACTIVITY_MEAN


_ACTIVITY_MEAN = 1.0 + 1.6 * 0.07 * (1 - math.exp(-1 / 0.07)) + 0.06 * (1 - math.exp(-1 / 0.06))


def intraday_spread(tau: np.ndarray | float) -> np.ndarray | float:
    """Spread multiplier at fraction ``tau`` of the session (1 at midday): wide at the open
    and again slightly into the close (McInish & Wood 1992)."""
    return 1.0 + 0.8 * np.exp(-tau / 0.05) + 0.25 * np.exp(-(1.0 - tau) / 0.04)


class MarketModel:
    """The latent market of a universe (see the module docstring).

    Parameters
    ----------
    instruments : polars.DataFrame
        The universe's instruments (:data:`riskstream.core.INSTRUMENT_SCHEMA`).
    config : SimulatorConfig
    start_ns : int
        Simulated start time, ns since the epoch (UTC).
    rng_structure, rng_dynamics : numpy.random.Generator
        Draws of the model's structure (betas) and of its path.
    scenario : Scenario, optional
        A scripted scenario to inject.

    Attributes
    ----------
    fair : ndarray of shape (N,)
        The fair ("true") mid price of every instrument now.
    regime : int
        The true regime now (0 calm, 1 volatile, 2 crisis).
    t_ns : int
        Time of the last step.
    spread_mult, depth_mult, activity_mult : float
        Liquidity now relative to a calm midday: regime (or scenario) times intraday cycle.
    """

    def __init__(
        self,
        instruments: pl.DataFrame,
        config: SimulatorConfig,
        start_ns: int,
        rng_structure: np.random.Generator,
        rng_dynamics: np.random.Generator,
        scenario: Scenario | None = None,
    ):
        self.config = config
        self.scenario = scenario
        self.rng = rng_dynamics
        self.start_ns = self.t_ns = int(start_ns)
        self.year_s = config.trading_days_per_year * config.session_s
        inst = instruments
        n = inst.height
        self.n = n
        asset = inst["asset_class"].to_numpy()
        self.ref = inst["ref_price"].to_numpy().astype(np.float64)
        as_of = dt.datetime.fromtimestamp(start_ns / NS_PER_S, dt.UTC).date()

        # Options: underlying, terms, and the underlying's volatility level implied by the
        # reference prices (so the simulated surface starts where the universe priced it).
        self.options = np.flatnonzero(asset == "option")
        opt = inst[self.options]
        self.opt_under = opt["underlying_id"].to_numpy().astype(np.int64)
        self.opt_strike = opt["strike"].to_numpy()
        self.opt_expiry_ns = _dates_ns(opt["expiry"])
        self.opt_call = (opt["right"] == "C").to_numpy()
        self.opt_black76 = asset[self.opt_under] == "future"
        self.opt_skew = np.where(self.opt_black76, SMILE_SKEW["index"], SMILE_SKEW["stock"])
        T0 = self._years(self.opt_expiry_ns)
        self.opt_rate = zero_rate(opt["currency"].to_numpy(), T0) if len(opt) else np.zeros(0)
        self.underlyings = np.unique(self.opt_under)
        calm_level = self._calibrate_levels(T0)

        equity_vols = np.full(n, np.nan)
        stock = asset[self.underlyings] == "equity"
        equity_vols[self.underlyings[stock]] = calm_level[stock]
        self.factors: FactorModel = build_factor_model(inst, as_of, rng_structure, equity_vols)
        fm = self.factors
        self.driver_of = fm.driver_of
        self.z = np.zeros(fm.n_drivers)
        self.market = fm.factor("market")
        self.equity_drivers = np.unique(fm.driver_of[asset == "equity"])

        # Implied-volatility level per option underlying: calm anchor and current level.
        under_driver = fm.driver_of[self.underlyings]
        model_vols = np.array([fm.driver_vols(f, i) for f, i in self._regime_mults()])
        self.iv_anchor = np.where(np.isfinite(calm_level), calm_level, model_vols[0, under_driver])
        self.iv_regime_ratio = model_vols[:, under_driver] / model_vols[0, under_driver]
        self.iv_log = np.log(self.iv_anchor)
        self._under_pos = np.searchsorted(self.underlyings, self.opt_under)

        # FX: spot reference per pair and covered-interest-parity carry per instrument.
        self.fx = np.flatnonzero(asset == "fx")
        fxi = inst[self.fx]
        self.fx_expiry_ns = np.where(
            fxi["expiry"].is_null().to_numpy(), self.start_ns, _dates_ns(fxi["expiry"], 0)
        )
        fx_T0 = self._years(self.fx_expiry_ns, floor=0.0)
        self.fx_carry = zero_rate(fxi["currency"].to_numpy(), fx_T0) - zero_rate(
            fxi["base_currency"].to_numpy(), fx_T0
        ) if len(fxi) else np.zeros(0)  # fmt: skip
        spot = self.ref[self.fx] * np.exp(-self.fx_carry * fx_T0)
        fx_driver = fm.driver_of[self.fx]
        first = np.full(fm.n_drivers, -1)
        first[fx_driver[::-1]] = np.arange(len(self.fx))[::-1]  # the pair's lowest id: its spot
        self.fx_spot0 = spot[first[fx_driver]]

        # Bonds: the yield that reprices the reference price today.
        self.bonds = np.flatnonzero(asset == "bond")
        self._bond_set = frozenset(self.bonds.tolist())
        bd = inst[self.bonds]
        self.bond_coupon = bd["coupon"].to_numpy()
        self.bond_freq = bd["coupon_frequency"].to_numpy().astype(np.float64)
        self.bond_maturity_ns = _dates_ns(bd["maturity"])
        self.bond_y0 = bond_yield_from_price(
            self.ref[self.bonds], self.bond_coupon, self._years(self.bond_maturity_ns),
            self.bond_freq,
        )  # fmt: skip

        self.linear = np.flatnonzero((asset == "equity") | (asset == "future"))
        # Permanent price impact of outside orders (MarketSimulator.execute_order): a log
        # offset per instrument on top of the factor model, kept for the rest of the run
        self.impact_log = np.zeros(n)
        self.regime = config.regimes.initial
        self.regime_changes: list[tuple[int, int]] = [(self.start_ns, self.regime)]
        self.scenario_phases: list[tuple[str, str, int, int]] = []
        self._phase = -1
        self._scenario_offset = 0.0
        self._dislocation_offset = 0.0
        # the scenario's dislocated equities: the least traded share of them (by ADV)
        share = 0.0 if scenario is None else scenario.dislocated_share
        equities = np.flatnonzero(asset == "equity")
        count = round(share * len(equities))
        by_adv = equities[np.argsort(inst["adv"].to_numpy()[equities], kind="stable")]
        self.dislocated_drivers = np.unique(self.driver_of[by_adv[:count]])
        self.fair = np.empty(n)
        self.spread_mult = self.depth_mult = self.activity_mult = 1.0
        self._bonds_due_ns = self.start_ns
        self._reprice(self.start_ns)
        self._set_liquidity(self.start_ns, None)

    # ------------------------------------------------------------------ helpers

    def _years(self, when_ns: np.ndarray, floor: float = 1.0 / 8760.0) -> np.ndarray:
        """ACT/365 years from the model's time to ``when_ns`` (at least ``floor``)."""
        return np.maximum((np.asarray(when_ns) - self.t_ns) / YEAR_NS, floor)

    def _regime_mults(self) -> list[tuple[float, float]]:
        rc = self.config.regimes
        return list(zip(rc.factor_vol_mult, rc.idio_vol_mult, strict=True))

    def _calibrate_levels(self, T: np.ndarray) -> np.ndarray:
        """Calm volatility level of each option underlying implied by the reference option
        prices: invert each price to a volatility, divide out the smile and the term shape,
        and take the median per underlying (NaN where no option is usable)."""
        levels = np.full(len(self.underlyings), np.nan)
        if not len(self.options):
            return levels
        S = self.ref[self.opt_under]
        q = np.where(self.opt_black76, self.opt_rate, 0.0)
        price = self.ref[self.options]
        sigma = bsm_implied_vol(price, S, self.opt_strike, T, self.opt_rate, q, self.opt_call)
        smile = smile_shape(self.opt_skew, np.log(self.opt_strike / S), T)
        term = term_shape(T)
        intrinsic = np.maximum(np.where(self.opt_call, S - self.opt_strike, self.opt_strike - S), 0)
        usable = (smile > 0.55) & (smile < 2.9) & (price > 1.05 * intrinsic + 1e-9)
        usable &= np.isfinite(sigma)
        level = sigma / (smile * term)
        pos = np.searchsorted(self.underlyings, self.opt_under)
        frame = pl.DataFrame({"u": pos[usable], "level": level[usable]})
        for u, median in frame.group_by("u").agg(pl.col("level").median()).iter_rows():
            levels[u] = median
        return levels

    # ------------------------------------------------------------------ public

    def atm_vol(self, underlying_id: int, years: np.ndarray | float) -> np.ndarray:
        """At-the-money implied volatility of an option underlying at maturities ``years``
        (the surface's :math:`a(T)`)."""
        u = int(np.searchsorted(self.underlyings, underlying_id))
        if u >= len(self.underlyings) or self.underlyings[u] != underlying_id:
            raise KeyError(f"instrument {underlying_id} has no options")
        T = np.asarray(years, dtype=np.float64)
        return atm_surface_vol(self.iv_anchor[u], math.exp(self.iv_log[u]), T)

    def option_vols(self) -> np.ndarray:
        """Implied volatility of every option (in ``self.options`` order) on the surface now
        (see :data:`SMILE_SKEW`), at the underlyings' current fair values."""
        T = self._years(self.opt_expiry_ns)
        S = self.fair[self.opt_under]
        v = np.exp(self.iv_log)[self._under_pos]
        anchor = self.iv_anchor[self._under_pos]
        atm = atm_surface_vol(anchor, v, T)
        return surface_vol(atm, self.opt_skew, np.log(self.opt_strike / S), T)

    def option_prices(self) -> np.ndarray:
        """Fair prices of every option now (Black-Scholes, Black-76 on futures)."""
        T = self._years(self.opt_expiry_ns)
        q = np.where(self.opt_black76, self.opt_rate, 0.0)
        return bsm_price(
            self.fair[self.opt_under], self.opt_strike, T, self.opt_rate, q,
            self.option_vols(), self.opt_call,
        )  # fmt: skip

    def bond_yields(self) -> np.ndarray:
        """Yield of every bond now (``self.bonds`` order), compounded at its frequency."""
        return self.bond_y0 + self.z[self.driver_of[self.bonds]]

    def add_impact(self, instrument_id: int, log_move: float) -> None:
        """Move one instrument's fair value by ``log_move`` for good (permanent price impact
        of an outside order) and reprice now: the simulated participants quote around the new
        value from their next arrival, and options follow their underlying."""
        self.impact_log[instrument_id] += log_move
        if instrument_id in self._bond_set:  # as last priced from its yield, moved now
            self.fair[instrument_id] *= math.exp(log_move)
        else:  # the same step's prices again, with the impact (bonds are not due)
            self._reprice(self.t_ns)

    def fair_without_impact(self) -> np.ndarray:
        """The fair values now had no outside order traded (a copy): the impact enters
        nothing but the prices — not the factors, regimes or implied volatilities, and no
        random draw — so this is the same market without those orders, exactly."""
        impact, fair, due = self.impact_log, self.fair.copy(), self._bonds_due_ns
        try:
            self.impact_log = np.zeros_like(impact)
            self._bonds_due_ns = np.iinfo(np.int64).max  # bonds: as last priced, below
            self._reprice(self.t_ns)
            out = self.fair.copy()
            out[self.bonds] = fair[self.bonds] * np.exp(-impact[self.bonds])
            return out
        finally:
            self.impact_log, self._bonds_due_ns = impact, due
            self.fair[:] = fair

    def daily_vol(self) -> np.ndarray:
        """Calm daily volatility of each instrument's driver (log moves; for options, their
        underlying's), shape (N,)."""
        driver = self.driver_of.copy()
        driver[self.options] = self.driver_of[self.opt_under]
        vols = self.factors.driver_vols()
        annual = np.where(driver >= 0, vols[np.maximum(driver, 0)], np.nan)
        if len(self.bonds):  # a bond's driver is its yield: x modified duration for price
            years = np.maximum((self.bond_maturity_ns - self.t_ns) / YEAR_NS, 1e-4)
            y = self.bond_yields()
            p0 = bond_price_from_yield(y, self.bond_coupon, years, self.bond_freq)
            p1 = bond_price_from_yield(y + 1e-4, self.bond_coupon, years, self.bond_freq)
            annual[self.bonds] *= np.abs(p1 - p0) / p0 / 1e-4
        return annual / math.sqrt(self.config.trading_days_per_year)

    def session_fraction(self, t_ns: int) -> float:
        """Fraction of the trading session elapsed at ``t_ns`` (the session repeats)."""
        open_s = self.config.session_open_utc
        day_start = (t_ns // NS_PER_DAY) * NS_PER_DAY
        open_ns = day_start + (open_s.hour * 3600 + open_s.minute * 60 + open_s.second) * NS_PER_S
        elapsed = (t_ns - open_ns) / NS_PER_S
        return (elapsed / self.config.session_s) % 1.0

    def step(self, t_ns: int) -> None:
        """Move the market from its last step to ``t_ns``."""
        dt_s = (t_ns - self.t_ns) / NS_PER_S
        if dt_s <= 0:
            return
        cfg, rc = self.config, self.config.regimes
        rng = self.rng
        state = None
        if self.scenario is not None:
            state = self.scenario.state((t_ns - self.start_ns) / NS_PER_S)
            self._log_phase(state.phase, t_ns)
        self._move_regime(dt_s, t_ns, None if state is None else state.regime)
        r = self.regime
        fm = self.factors
        dt_y = dt_s / self.year_s
        days = dt_s / cfg.session_s

        dF = (
            rc.factor_vol_mult[r]
            * fm.factor_vols
            * math.sqrt(dt_y)
            * rng.standard_normal(len(fm.factor_vols))
        )
        dF[self.market] += rc.market_drift_per_year[r] * dt_y
        jumps = rng.poisson(rc.market_jumps_per_day[r] * days)
        if jumps:
            dF[self.market] += rng.normal(cfg.market_jump_mean, cfg.market_jump_sd, jumps).sum()
        if state is not None:
            dF[self.market] += state.market_offset - self._scenario_offset
            self._scenario_offset = state.market_offset
        dz = fm.loadings @ dF
        dz += (
            rc.idio_vol_mult[r] * fm.idio_vols * math.sqrt(dt_y) * rng.standard_normal(fm.n_drivers)
        )
        n_jumps = rng.poisson(cfg.idio_jumps_per_day * days * len(self.equity_drivers))
        if n_jumps:
            hit = rng.choice(self.equity_drivers, size=n_jumps)
            np.add.at(dz, hit, rng.normal(0.0, cfg.idio_jump_sd, n_jumps))
        if state is not None and len(self.dislocated_drivers):
            dz[self.dislocated_drivers] += state.dislocation_offset - self._dislocation_offset
            self._dislocation_offset = state.dislocation_offset
        self.z += dz

        # Implied volatility: mean reversion to the regime's level, leverage, vol of vol.
        if len(self.underlyings):
            reversion = reversion_fraction(dt_s, cfg.implied_vol_half_life_s)
            target = np.log(self.iv_anchor * self.iv_regime_ratio[r])
            under_move = dz[self.driver_of[self.underlyings]]
            noise = VOL_OF_VOL * math.sqrt(dt_y) * rng.standard_normal(len(self.underlyings))
            self.iv_log += implied_vol_log_move(
                self.iv_log, target, reversion, cfg.leverage, under_move, noise
            )
        self.t_ns = int(t_ns)
        self._reprice(t_ns)
        self._set_liquidity(t_ns, state)

    # ------------------------------------------------------------------ internals

    def _move_regime(self, dt_s: float, t_ns: int, forced: int | None) -> None:
        previous = self.regime
        if forced is not None:
            self.regime = forced
        else:
            P = self.config.regimes.transition_per_min
            stay = P[previous][previous]
            leave = 1.0 - stay ** (dt_s / 60.0)  # exp(-q dt) with q = -ln(P_ii) per minute
            if self.rng.random() < leave:
                # to another regime j with probability P_ij / (1 - P_ii)
                first, second = (j for j in range(3) if j != previous)
                w_first, w_second = P[previous][first], P[previous][second]
                pick = self.rng.random() * (w_first + w_second)
                self.regime = first if pick < w_first else second
        if self.regime != previous:
            self.regime_changes.append((int(t_ns), self.regime))

    def _log_phase(self, phase: int, t_ns: int) -> None:
        if phase != self._phase and phase >= 0:
            start, end = self.scenario.phase_bounds()[phase]
            self.scenario_phases.append(
                (
                    self.scenario.name,
                    self.scenario.phases[phase].name,
                    self.start_ns + int(start * NS_PER_S),
                    self.start_ns + int(end * NS_PER_S),
                )
            )
        self._phase = phase

    def _reprice(self, t_ns: int) -> None:
        z = self.z
        lin = self.linear
        self.fair[lin] = self.ref[lin] * np.exp(z[self.driver_of[lin]] + self.impact_log[lin])
        if len(self.fx):
            T = np.maximum((self.fx_expiry_ns - t_ns) / YEAR_NS, 0.0)
            self.fair[self.fx] = self.fx_spot0 * np.exp(
                z[self.driver_of[self.fx]] + self.fx_carry * T + self.impact_log[self.fx]
            )
        if len(self.bonds) and t_ns >= self._bonds_due_ns:
            # Dealers refresh bond prices on a coarser grid than exchanges tick; repricing
            # every cash flow of every bond each step would dominate the model's cost.
            self._bonds_due_ns = t_ns + BOND_REPRICE_NS
            self.fair[self.bonds] = bond_price_from_yield(
                self.bond_yields(), self.bond_coupon,
                np.maximum((self.bond_maturity_ns - t_ns) / YEAR_NS, 1e-4), self.bond_freq,
            )  # fmt: skip
            self.fair[self.bonds] *= np.exp(self.impact_log[self.bonds])
        if len(self.options):
            self.fair[self.options] = self.option_prices() * np.exp(self.impact_log[self.options])

    def _set_liquidity(self, t_ns: int, state) -> None:
        rc = self.config.regimes
        tau = self.session_fraction(t_ns)
        r = self.regime
        if state is not None and state.phase >= 0:
            spread, depth = state.spread_mult, state.depth_mult
        else:
            spread, depth = rc.spread_mult[r], rc.depth_mult[r]
        u_spread = float(intraday_spread(tau))
        self.spread_mult = spread * u_spread
        self.depth_mult = depth / math.sqrt(u_spread)
        self.activity_mult = rc.activity_mult[r] * float(intraday_activity(tau))


def _dates_ns(column: pl.Series, fill: int | None = None) -> np.ndarray:
    """A date column as int64 ns since the epoch (midnight UTC); nulls become ``fill``."""
    days = column.cast(pl.Int64)
    if fill is not None:
        days = days.fill_null(fill)
    return days.to_numpy().astype(np.int64) * NS_PER_DAY
