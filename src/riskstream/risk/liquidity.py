"""Liquidity-adjusted VaR, part by part: spread, market impact, funding, intraday pattern.

L-VaR adds to market VaR the *costs* of getting out of the portfolio under stress:

.. math:: L\\text{-}VaR = VaR + LC_{spread} + LC_{impact} + LC_{funding}

* **Exogenous spread cost** (Bangia, Diebold, Schuermann & Stroughair 1999, "Modeling
  liquidity risk"): liquidating position value :math:`V_i` costs half the relative
  bid-ask spread, stressed to its mean plus ``k`` standard deviations,
  :math:`LC = \\tfrac12\\sum_i |V_i|(\\mu_{s,i} + k\\sigma_{s,i})` (Dowd, *Measuring Market
  Risk*, 2nd ed., ch. 14).
* **Endogenous market impact** (Almgren & Chriss 2000, "Optimal execution of portfolio
  transactions"): each position is sold over its liquidation horizon along the
  mean-variance optimal trajectory with linear temporary (:math:`\\eta`) and permanent
  (:math:`\\gamma`) impact; its expected cost :math:`E` and cost variance :math:`V` are
  closed form. The spread part of Almgren-Chriss (:math:`\\epsilon |X|`) is the
  exogenous cost above and is not counted twice; the impact part is
  :math:`\\tfrac12\\gamma X^2 + (\\tilde\\eta/\\tau)\\sum_k n_k^2`. The cost standard
  deviation is *reported*, not added: it is price risk during liquidation, which market
  VaR at the liquidation horizon already measures.
* **Funding liquidity** (Brunnermeier & Pedersen 2009, "Market liquidity and funding
  liquidity": when margins rise in a stress, a funding-constrained holder must sell at the
  market-liquidity cost — the margin spiral; BCBS 2008, "Principles for sound liquidity
  risk management and supervision", principle 5: measure the contingent funding need from
  margin calls under stress). In the VaR scenario the desk must pay *variation margin* on
  its derivatives' net loss, meet the rise of their *SPAN initial margin* as the clearing
  house widens its scan ranges (:class:`riskstream.risk.margin.SpanMargin`), and
  post more collateral as *repo haircuts* on financed long positions widen. The calls are
  reported; the L-VaR add-on is the cost of meeting them within the horizon: from a liquid
  buffer (cash and committed lines) at a funding spread, and beyond it by selling
  positions at the portfolio's own liquidation cost (:func:`funding_cost`).
* **Intraday pattern**: spreads are wider and books thinner near the open and the close
  (the U shape of McInish & Wood 1992, "An analysis of intraday patterns in bid/ask
  spreads for NYSE stocks"). When the market state carries a live spread it already
  contains the pattern; otherwise the typical spread is scaled by
  :func:`intraday_multiplier`, and depth (hence impact capacity) by its inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.core.instruments import ASSET_CLASSES
from riskstream.risk.config import LiquidityConfig
from riskstream.risk.reference import FUTURE, OPTION, InstrumentTable

# ----------------------------------------------------------------- exogenous spread


def bangia_spread_cost(
    position_value: ArrayLike, spread_mean: ArrayLike, spread_std: ArrayLike, k: float
) -> np.ndarray:
    """Exogenous liquidity cost per position (Bangia et al. 1999):
    :math:`\\tfrac12 |V|(\\mu_s + k\\sigma_s)`.

    Parameters
    ----------
    position_value : ndarray of shape (n,)
        Signed position values (currency).
    spread_mean, spread_std : ndarray of shape (n,)
        Mean and standard deviation of the *relative* bid-ask spread ((ask - bid) / mid).
    k : float
        Stress multiple of the spread's standard deviation.
    """
    mu = np.asarray(spread_mean, dtype=np.float64)
    sd = np.asarray(spread_std, dtype=np.float64)
    if np.any(mu < 0) or np.any(sd < 0):
        raise InputError("spread", "a negative spread", "non-negative relative spreads")
    return 0.5 * np.abs(np.asarray(position_value, dtype=np.float64)) * (mu + k * sd)


# ------------------------------------------------------------ Almgren-Chriss impact


@dataclass(frozen=True)
class AlmgrenChriss:
    """Almgren-Chriss optimal liquidation of one or many positions (arrays broadcast).

    Parameters
    ----------
    shares : array
        Units to liquidate, :math:`X > 0`.
    sigma : array
        Price volatility in currency per unit per :math:`\\sqrt{day}`.
    eta : array
        Temporary impact, currency per unit per (unit/day).
    gamma : array
        Permanent impact, currency per unit per unit.
    epsilon : array
        Fixed cost per unit sold (half the spread plus fees), currency.
    horizon_days : array
        Liquidation time :math:`T` (days).
    n_periods : array of int
        Number of trading periods :math:`N` (``tau = T / N``).
    risk_aversion : float
        :math:`\\lambda`, per unit of currency.

    Notes
    -----
    With :math:`\\tilde\\eta = \\eta - \\tfrac12\\gamma\\tau` and
    :math:`\\tilde\\kappa^2 = \\lambda\\sigma^2/\\tilde\\eta`, :math:`\\kappa` solves
    :math:`\\cosh(\\kappa\\tau) = 1 + \\tfrac12\\tilde\\kappa^2\\tau^2`; holdings follow
    :math:`x_j = X\\sinh(\\kappa(T - t_j))/\\sinh(\\kappa T)` and

    .. math::
        E = \\tfrac12\\gamma X^2 + \\epsilon X + \\frac{\\tilde\\eta}{\\tau}\\sum_k n_k^2,
        \\qquad V = \\sigma^2\\tau\\sum_k x_k^2

    (Almgren & Chriss 2000, eqs. 18-20 and section 2.2; drift :math:`\\alpha = 0`).
    :math:`\\lambda \\to 0` gives the straight-line (TWAP) schedule. The half-life of the
    trade is :math:`1/\\kappa` (section 2.3).
    """

    shares: np.ndarray
    sigma: np.ndarray
    eta: np.ndarray
    gamma: np.ndarray
    epsilon: np.ndarray
    horizon_days: np.ndarray
    n_periods: np.ndarray
    risk_aversion: float

    def __post_init__(self) -> None:
        for name in ("shares", "sigma", "eta", "gamma", "epsilon", "horizon_days", "n_periods"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if np.any(~np.isfinite(value)) or np.any(value < 0):
                raise InputError(name, value, "finite non-negative numbers")
            object.__setattr__(self, name, value)
        if np.any(self.n_periods < 1):
            raise InputError("n_periods", self.n_periods, "at least one trading period")
        tau = self.horizon_days / self.n_periods
        if np.any(self.eta - 0.5 * self.gamma * tau <= 0):
            raise InputError("eta", self.eta, "eta > gamma * tau / 2 (eta-tilde positive)")

    @property
    def tau(self) -> np.ndarray:
        return self.horizon_days / self.n_periods

    @property
    def eta_tilde(self) -> np.ndarray:
        return self.eta - 0.5 * self.gamma * self.tau

    @property
    def kappa(self) -> np.ndarray:
        """Urgency :math:`\\kappa` per day."""
        kt2 = self.risk_aversion * self.sigma**2 / self.eta_tilde
        return np.arccosh(1.0 + 0.5 * kt2 * self.tau**2) / self.tau

    @property
    def half_life_days(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return 1.0 / self.kappa

    def holdings(self) -> np.ndarray:
        """Holdings :math:`x_0..x_N` on a common grid of shape (..., max N + 1) (zeros past
        each position's own ``N``)."""
        n_max = int(np.max(self.n_periods))
        j = np.arange(n_max + 1, dtype=np.float64)
        N = self.n_periods[..., None]
        frac = np.minimum(j / N, 1.0)  # t_j / T
        kT = (self.kappa * self.horizon_days)[..., None]
        with np.errstate(invalid="ignore", divide="ignore"):
            curved = np.sinh(kT * (1.0 - frac)) / np.sinh(kT)
        linear = 1.0 - frac  # lambda -> 0: straight-line schedule
        shape = np.where(kT > 1e-10, curved, linear)
        return self.shares[..., None] * np.where(j <= N, shape, 0.0)

    def cost_mean_variance(self) -> tuple[np.ndarray, np.ndarray]:
        """Expected cost and variance of cost of the optimal schedule (currency, currency²)."""
        x = self.holdings()
        n = -np.diff(x, axis=-1)  # units sold in each period
        impact = 0.5 * self.gamma * self.shares**2 + (self.eta_tilde / self.tau) * (n * n).sum(
            axis=-1
        )
        mean = impact + self.epsilon * self.shares
        variance = self.sigma**2 * self.tau * (x[..., 1:] ** 2).sum(axis=-1)
        return mean, variance

    def impact_cost(self) -> np.ndarray:
        """Expected market-impact cost without the spread part :math:`\\epsilon X`."""
        mean, _ = self.cost_mean_variance()
        return mean - self.epsilon * self.shares


def impact_parameters(
    price: ArrayLike,
    spread_rel: ArrayLike,
    adv: ArrayLike,
    eta_adv_fraction: float = 0.01,
    gamma_adv_fraction: float = 0.10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrate ``epsilon``, ``eta``, ``gamma`` from price, spread and ADV.

    Almgren & Chriss 2000, section 4: the fixed cost is half the spread; trading
    ``eta_adv_fraction`` (1%) of daily volume in a day moves the execution price by one
    spread (temporary), and trading ``gamma_adv_fraction`` (10%) of daily volume moves the
    price permanently by one spread. With their sample stock (price 50, spread 1/8, ADV
    5 million) this gives :math:`\\epsilon = 0.0625`, :math:`\\eta = 2.5\\times10^{-6}`,
    :math:`\\gamma = 2.5\\times10^{-7}`.
    """
    spread = np.asarray(price, dtype=np.float64) * np.asarray(spread_rel, dtype=np.float64)
    adv = np.asarray(adv, dtype=np.float64)
    return 0.5 * spread, spread / (eta_adv_fraction * adv), spread / (gamma_adv_fraction * adv)


def liquidation_days(
    quantity: ArrayLike, adv: ArrayLike, max_participation: float, max_days: int
) -> np.ndarray:
    """Days to liquidate at most ``max_participation`` of ADV per day (>= 1, capped)."""
    q = np.abs(np.asarray(quantity, dtype=np.float64))
    days = np.ceil(q / (max_participation * np.asarray(adv, dtype=np.float64)))
    return np.clip(days, 1, max_days)


# --------------------------------------------------------------------- funding


@dataclass(frozen=True)
class FundingCost:
    """Funding liquidity under the stressed move (currency).

    Attributes
    ----------
    variation_margin : float
        Cash paid on the derivatives' net loss in the stressed scenario.
    initial_margin : float
        Initial margin required now (SPAN, normal scan ranges).
    initial_margin_call : float
        Rise of the initial margin under stressed scan ranges.
    haircut_call : float
        Extra collateral on financed long positions as haircuts widen and values fall.
    forced_sale : float
        The part of the calls beyond the liquid buffer, raised by selling positions.
    financing_cost : float
        Cost of meeting the calls within the horizon (the L-VaR add-on).
    """

    variation_margin: float
    initial_margin: float
    initial_margin_call: float
    haircut_call: float
    forced_sale: float
    financing_cost: float


def funding_cost(
    position_value: ArrayLike,
    stressed_pnl: ArrayLike,
    is_derivative: ArrayLike,
    haircut: ArrayLike,
    haircut_stressed: ArrayLike,
    initial_margin: float,
    initial_margin_stressed: float,
    funding_spread_annual: float,
    horizon_days: float,
    liquid_buffer: float,
    liquidation_spread_cost: float,
    liquidation_impact_cost: float,
) -> FundingCost:
    """Margin and haircut calls under the stressed move, and the cost of meeting them.

    Parameters
    ----------
    position_value : ndarray of shape (n,)
        Signed position values now (futures: notional); their gross value :math:`G` is what
        the liquidation costs below are spread over.
    stressed_pnl : ndarray of shape (n,)
        Each position's P&L in the stressed scenario (the VaR neighbourhood's component).
    is_derivative : ndarray of bool, shape (n,)
        Derivatives settle variation margin in cash, netted in one clearing account.
    haircut, haircut_stressed : ndarray of shape (n,)
        Repo haircuts on financed long values (0 for derivatives).
    initial_margin, initial_margin_stressed : float
        Initial margin of the derivatives now and under stressed scan ranges (SPAN).
    funding_spread_annual : float
        Spread of unsecured funding over what posted cash earns (ACT/360 accrual).
    horizon_days : float
        Horizon of the stress; calls are funded for all of it.
    liquid_buffer : float
        Cash and committed funding available within the horizon.
    liquidation_spread_cost, liquidation_impact_cost : float
        The portfolio's stressed cost of liquidating all of it (the spread and impact parts
        of L-VaR).

    Notes
    -----
    With :math:`N = VM + IM_{call} + HC_{call}` the cash called,
    :math:`VM = [-\\sum_{deriv} pnl_i]^+`, :math:`IM_{call} = [IM^s - IM]^+`,
    :math:`HC_{call} = \\sum_{long} [h^s_i (V_i + pnl_i)^+ - h_i V_i]^+`, a buffer :math:`B`
    and :math:`X = (N - B)^+` sold:

    .. math:: LC_{funding} = s_f \\tfrac{h}{360} \\min(N, B)
        + X \\left(\\frac{LC_{spread}}{G} + \\frac{LC_{impact}}{G}\\min(1, X/G)\\right)

    with :math:`G = \\sum |V_i|`: the portfolio's liquidation cost rate. The sale is pro
    rata: selling a share :math:`f = X/G` of every position along the same Almgren-Chriss
    schedules costs :math:`f` of the spread cost and :math:`f^2` of the impact cost (linear
    impact: every trade scales by :math:`f`); the cash lost to those costs is second order
    and not re-funded. An approximation on two counts, both documented: futures count at
    notional in :math:`G` though closing one raises only its released margin (the rate is
    the book's average, as L-VaR measures it), and a call beyond :math:`G` (the whole book
    sold) is costed at the full-liquidation rate; ``forced_sale`` shows it.
    """
    v = np.asarray(position_value, dtype=np.float64)
    pnl = np.asarray(stressed_pnl, dtype=np.float64)
    deriv = np.asarray(is_derivative, dtype=bool)
    hc, hc_s = np.asarray(haircut, np.float64), np.asarray(haircut_stressed, np.float64)
    for name, value in (
        ("initial_margin", initial_margin),
        ("initial_margin_stressed", initial_margin_stressed),
        ("liquid_buffer", liquid_buffer),
        ("liquidation_spread_cost", liquidation_spread_cost),
        ("liquidation_impact_cost", liquidation_impact_cost),
    ):
        if not (np.isfinite(value) and value >= 0):
            raise InputError(name, value, "a finite non-negative amount")
    vm = max(-float(pnl[deriv].sum()), 0.0)
    im_call = max(initial_margin_stressed - initial_margin, 0.0)
    long_cash = (~deriv) & (v > 0)
    hc_now = np.where(long_cash, hc * v, 0.0)
    hc_stress = np.where(long_cash, hc_s * np.maximum(v + pnl, 0.0), 0.0)
    hc_call = float(np.maximum(hc_stress - hc_now, 0.0).sum())
    need = vm + im_call + hc_call
    funded = min(need, liquid_buffer)
    sold = need - funded
    gross = float(np.abs(v).sum())
    cost = funding_spread_annual * horizon_days / 360.0 * funded
    if sold > 0 and gross > 0:
        share = min(sold / gross, 1.0)
        cost += sold * (liquidation_spread_cost + liquidation_impact_cost * share) / gross
    return FundingCost(vm, float(initial_margin), im_call, hc_call, sold, float(cost))


# ------------------------------------------------------------------ intraday pattern


def intraday_multiplier(
    ts_ns: int,
    open_utc_h: float,
    close_utc_h: float,
    amplitude: float = 0.6,
    decay_h: float = 0.75,
) -> float:
    """U-shaped time-of-day spread multiplier (1 = the day's typical spread).

    .. math:: m(t) = \\frac{1 + a(e^{-t/d} + e^{-(T-t)/d})}{\\bar m}

    with :math:`t` hours since the open, :math:`T` the session length, normalised by its
    session mean :math:`\\bar m` so that the typical (daily average) spread is unchanged on
    average. Outside the session the multiplier is its value at the nearest edge.
    """
    session = close_utc_h - open_utc_h
    if session <= 0:
        raise InputError("session_close_utc_h", close_utc_h, "a time after the session open")
    hour = (ts_ns / 3.6e12) % 24.0
    t = min(max(hour - open_utc_h, 0.0), session)

    def raw(t_h: np.ndarray | float) -> np.ndarray | float:
        return 1.0 + amplitude * (np.exp(-t_h / decay_h) + np.exp(-(session - t_h) / decay_h))

    grid = np.linspace(0.0, session, 257)
    mean = float(np.trapezoid(raw(grid), grid) / session)
    return float(raw(t) / mean)


# ------------------------------------------------------------------ the engine's part


@dataclass(frozen=True)
class LiquidationCosts:
    """Cost of liquidating every position now (base currency): the exogenous spread cost,
    the Almgren-Chriss impact cost and its standard deviation (reported, not added)."""

    spread: float
    impact: float
    impact_std: float


class LiquidityModel:
    """The engine's liquidity part: liquidation costs and funding of the stressed move.

    Parameters
    ----------
    config : LiquidityConfig
    ref : InstrumentTable
        Asset classes (haircuts, which positions are derivatives), ADV and typical spreads.
    """

    def __init__(self, config: LiquidityConfig, ref: InstrumentTable) -> None:
        self.config = config
        self.ref = ref
        self._deriv = (ref.asset_class == FUTURE) | (ref.asset_class == OPTION)

        def per_class(table: dict[str, float]) -> np.ndarray:
            return np.array([table.get(a, 0.0) for a in ASSET_CLASSES])[ref.asset_class]

        self._haircut = per_class(config.haircut)
        self._haircut_stressed = per_class(config.haircut_stressed)

    def costs(
        self,
        ts_ns: int,
        spread: np.ndarray,
        mid: np.ndarray,
        qty: np.ndarray,
        unit_value: np.ndarray,
        unit_sigma: np.ndarray,
        valid: np.ndarray,
    ) -> LiquidationCosts:
        """Exogenous spread cost (:func:`bangia_spread_cost`) and Almgren-Chriss impact
        (:class:`AlmgrenChriss`) of liquidating every position.

        ``spread``/``mid`` (n,): the market state's live quotes (a live relative spread
        replaces the typical ``spread_bps`` scaled by :func:`intraday_multiplier`; depth is
        thinner by the same multiplier); ``qty``, ``unit_value``, ``unit_sigma`` (daily
        price vol per unit) and ``valid`` (n,) from the positions and the marks.
        """
        lc, ref = self.config, self.ref
        mult = intraday_multiplier(
            ts_ns,
            lc.session_open_utc_h,
            lc.session_close_utc_h,
            lc.intraday_amplitude,
            lc.intraday_decay_h,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            spread_live = spread / mid
        live = np.isfinite(spread_live) & (spread_live >= 0)
        rel = np.where(live, spread_live, ref.spread_bps * 1e-4 * mult)
        held = valid & (qty != 0)
        value = np.where(held, qty * unit_value, 0.0)
        held &= (rel > 0) & (unit_value != 0)  # no spread, no impact
        # Options and futures: spread applies to the traded premium / contract value.
        spread_cost = bangia_spread_cost(value, rel, lc.spread_vol_ratio * rel, lc.spread_k)
        idx = np.flatnonzero(held)
        if idx.size == 0:
            return LiquidationCosts(float(spread_cost.sum()), 0.0, 0.0)
        unit_px = np.abs(unit_value[idx])
        depth = np.where(live[idx], 1.0, 1.0 / mult)  # thinner books when spreads are wide
        adv = ref.adv[idx] * depth
        eps, eta, gamma = impact_parameters(
            unit_px, rel[idx], adv, lc.eta_adv_fraction, lc.gamma_adv_fraction
        )
        days = liquidation_days(qty[idx], adv, lc.max_participation, lc.max_liquidation_days)
        ac = AlmgrenChriss(
            shares=np.abs(qty[idx]),
            sigma=unit_sigma[idx],
            eta=eta,
            gamma=gamma,
            epsilon=eps,
            horizon_days=days,
            n_periods=days,
            risk_aversion=lc.risk_aversion_per_ccy,
        )
        mean, variance = ac.cost_mean_variance()
        impact = mean - eps * np.abs(qty[idx])
        return LiquidationCosts(
            float(spread_cost.sum()), float(impact.sum()), float(np.sqrt(variance.sum()))
        )

    def funding(
        self,
        comp_var: np.ndarray,
        horizon_days: int,
        costs: LiquidationCosts,
        position_value: np.ndarray,
        margin: tuple[float, float],
    ) -> FundingCost:
        """Funding liquidity of the measure's stressed move (the VaR neighbourhood: each
        position's P&L is minus its component VaR), :func:`funding_cost`, with the SPAN
        initial margin ``margin`` (normal, stressed) in force and ``position_value`` (n,)
        the valued positions' value."""
        lc = self.config
        return funding_cost(
            position_value,
            -comp_var,
            self._deriv,
            self._haircut,
            self._haircut_stressed,
            margin[0],
            margin[1],
            lc.funding_spread_annual,
            horizon_days,
            lc.liquid_buffer_share * float(np.abs(position_value).sum()),
            costs.spread,
            costs.impact,
        )
