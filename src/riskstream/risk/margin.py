"""Exchange margin: SPAN (futures and options on futures) and TIMS-style portfolio margin.

**SPAN** (CME Group, *Standard Portfolio Analysis of Risk*, 1988; the 16-scenario risk
array of CME's "SPAN methodology overview" / "Risk Arrays" documentation). Each contract
is revalued under 16 scenarios of the underlying price (unchanged, ±1/3, ±2/3, ±3/3 of the
*price scan range*), each with volatility up and down by the *volatility scan range*, plus
two *extreme moves* of ±``extreme_multiple`` price scan ranges (3 at CME) of which only
``extreme_cover`` (35%, some exchanges 30%) counts — a far move is possible but one day's
margin need not cover all of it. By SPAN convention the *risk array* is the loss of one
long contract per scenario (losses positive). Per combined commodity (one underlying):

* **scan risk** :math:`= \\max(0, \\max_j \\sum_i q_i a_{ij})`;
* **intra-commodity (inter-month) spread charge**: the scan treats every delivery month as
  perfectly correlated, so each spread formed between months (long in one, short in
  another: :math:`\\min(\\sum \\Delta^+, \\sum \\Delta^-)` deltas) adds a charge;
* **inter-commodity spread credit**: offsetting deltas in related commodities (corn vs
  soybeans) earn back a percentage of the legs' outright margin per spread;
* **short option minimum**: a floor per short option, since far out-of-the-money short
  options show almost no scan loss but can gap into the money.

requirement :math:`= \\max(scan + intra - inter, SOM)`, summed over combined commodities.

**TIMS** (OCC's Theoretical Intermarket Margin System, the portfolio-margin method of
FINRA Rule 4210(g)): each *class group* (all contracts on one underlying) is revalued at
equally spaced *valuation points* across a price range (±15% for broad indexes); gains and
losses net fully inside a class group, and between the class groups of one *product group*
(e.g. the broad US equity indexes) only a percentage of the gains offsets the losses at the
same point. The requirement of a product group is its worst point's net loss.

The risk engine margins its derivatives book with SPAN (:class:`SpanMargin`, the engine's
margin part: the 16 scenarios of :func:`span_scenarios`, options revalued in full as in
:func:`option_risk_array`, :func:`price_scan_range` for the scan ranges,
:func:`scan_risk_by_group` per combined commodity) and funds the margin calls in the
funding part of L-VaR (:func:`riskstream.risk.liquidity.funding_cost`). Margin lives in
``risk`` because the risk engine needs it (``limits``, which imports ``risk``, may use it
from here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from riskstream.core.errors import InputError
from riskstream.risk import grids
from riskstream.risk.config import MarginConfig
from riskstream.risk.factors import FactorSpace
from riskstream.risk.reference import FUTURE, InstrumentTable

# (price move in scan ranges, volatility move in scan ranges, cover) of the 16 scenarios,
# in CME's order. Rows 15 and 16 are scaled by the extreme multiple and cover at runtime.
_SPAN_BASE = np.array(
    [
        [0.0, 1, 1],
        [0.0, -1, 1],
        [1 / 3, 1, 1],
        [1 / 3, -1, 1],
        [-1 / 3, 1, 1],
        [-1 / 3, -1, 1],
        [2 / 3, 1, 1],
        [2 / 3, -1, 1],
        [-2 / 3, 1, 1],
        [-2 / 3, -1, 1],
        [1.0, 1, 1],
        [1.0, -1, 1],
        [-1.0, 1, 1],
        [-1.0, -1, 1],
        [1.0, 0, 1],
        [-1.0, 0, 1],
    ]
)


def span_scenarios(extreme_multiple: float = 3.0, extreme_cover: float = 0.35) -> np.ndarray:
    """The 16 SPAN scenarios: array (16, 3) of price move (in price scan ranges),
    volatility move (in volatility scan ranges) and the share of the loss covered."""
    if extreme_multiple <= 0 or not 0 < extreme_cover <= 1:
        raise InputError(
            "extreme_cover", extreme_cover, "a cover in (0, 1] and a positive multiple"
        )
    s = _SPAN_BASE.copy()
    s[14:, 0] *= extreme_multiple
    s[14:, 2] = extreme_cover
    return s


def span_risk_array(
    value: Callable[[np.ndarray, np.ndarray], np.ndarray],
    price: float,
    vol: float,
    price_scan_range: float,
    vol_scan_range: float,
    multiplier: float = 1.0,
    extreme_multiple: float = 3.0,
    extreme_cover: float = 0.35,
) -> np.ndarray:
    """The risk array of one long contract: losses (positive) in the 16 scenarios.

    Parameters
    ----------
    value : callable
        ``value(price, vol)`` of one contract (vectorised over arrays of scenarios).
    price, vol : float
        Current underlying price and volatility.
    price_scan_range : float
        In price units of the underlying.
    vol_scan_range : float
        Absolute volatility move (0.04 = 4 vol points).
    multiplier : float
        Currency per point.
    """
    if price_scan_range <= 0 or vol_scan_range < 0:
        raise InputError("price_scan_range", price_scan_range, "a positive price scan range")
    s = span_scenarios(extreme_multiple, extreme_cover)
    v0 = float(np.asarray(value(np.array([price]), np.array([vol])))[0])
    prices = price + s[:, 0] * price_scan_range
    vols = np.maximum(vol + s[:, 1] * vol_scan_range, 1e-6)
    return (v0 - np.asarray(value(prices, vols), dtype=np.float64)) * s[:, 2] * multiplier


def futures_risk_array(price_scan_range: float, multiplier: float = 1.0, **kw: float):
    """Risk array of a long future (no volatility dependence): :math:`-m_j \\cdot PSR`."""
    return span_risk_array(lambda p, v: p, 0.0, 0.0, price_scan_range, 0.0, multiplier, **kw)


def option_risk_array(
    future_price: float,
    strike: float,
    years: float,
    rate: float,
    vol: float,
    is_call: bool,
    price_scan_range: float,
    vol_scan_range: float,
    multiplier: float = 1.0,
    days_ahead: float = 1.0,
    **kw: float,
) -> np.ndarray:
    """Risk array of a long option on a future (Black 76, one day of time decay)."""
    from riskstream.pricing.black_scholes import black76_price

    # today's value against tomorrow's (the scenarios include one day of time decay)
    t_next = max(years - days_ahead / 365.0, 0.0)
    v0 = float(black76_price(future_price, strike, years, rate, vol, is_call))
    s = span_scenarios(kw.get("extreme_multiple", 3.0), kw.get("extreme_cover", 0.35))
    prices = future_price + s[:, 0] * price_scan_range
    vols = np.maximum(vol + s[:, 1] * vol_scan_range, 1e-6)
    after = black76_price(prices, strike, t_next, rate, vols, is_call)
    return (v0 - after) * s[:, 2] * multiplier


def scan_risk(risk_arrays: np.ndarray, quantity: np.ndarray) -> tuple[float, int]:
    """Largest portfolio loss over the scenarios (>= 0) and its scenario (1-based).

    ``risk_arrays`` (n_contracts, 16), ``quantity`` (n_contracts,) signed.
    """
    a = np.asarray(risk_arrays, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 16:
        raise InputError("risk_arrays", a.shape, "an array of shape (n_contracts, 16)")
    losses = np.asarray(quantity, dtype=np.float64) @ a
    j = int(np.argmax(losses))
    return max(float(losses[j]), 0.0), j + 1


def intra_commodity_charge(
    delta: np.ndarray, tier: np.ndarray, charge: Mapping[tuple[int, int], float]
) -> float:
    """Inter-month spread charge of one combined commodity.

    Parameters
    ----------
    delta : ndarray of shape (n,)
        Net delta (futures-equivalent contracts) of each position.
    tier : ndarray of int, shape (n,)
        Each position's month tier.
    charge : mapping of (tier_a, tier_b) to float
        Charge per spread between two tiers (order-free).

    Notes
    -----
    Spreads are formed greedily pair by pair of tiers in the order ``charge`` lists them
    (SPAN's spread priority), each using :math:`\\min` of the long delta left in one tier
    and the short delta left in the other.
    """
    tiers = np.unique(tier)
    net = {int(t): float(np.asarray(delta)[np.asarray(tier) == t].sum()) for t in tiers}
    total = 0.0
    for (a, b), rate in charge.items():
        da, db = net.get(a, 0.0), net.get(b, 0.0)
        if da * db >= 0:
            continue
        n = min(abs(da), abs(db))
        total += n * rate
        net[a] = da - np.sign(da) * n
        net[b] = db - np.sign(db) * n
    return total


def inter_commodity_credit(
    net_delta: Sequence[float],
    ratio: Sequence[float],
    outright_margin: Sequence[float],
    credit_rate: float,
) -> float:
    """Credit for a spread between combined commodities (legs on opposite sides).

    Parameters
    ----------
    net_delta : sequence of float
        Net delta of each leg's commodity.
    ratio : sequence of float
        Deltas per spread of each leg (e.g. 2 corn : 1 soybeans).
    outright_margin : sequence of float
        Margin per delta of each leg (its scan risk per futures-equivalent).
    credit_rate : float
        Share of the legs' margin credited (0.55 = 55%).

    Returns
    -------
    float
        ``credit_rate * spreads * sum(ratio * outright_margin)`` with
        ``spreads = min |net_delta| / ratio`` when the legs offset, else 0.
    """
    d = np.asarray(net_delta, dtype=np.float64)
    r = np.asarray(ratio, dtype=np.float64)
    m = np.asarray(outright_margin, dtype=np.float64)
    if not 0 <= credit_rate <= 1:
        raise InputError("credit_rate", credit_rate, "a share in [0, 1]")
    if np.all(d >= 0) or np.all(d <= 0):
        return 0.0
    spreads = float(np.min(np.abs(d) / r))
    return credit_rate * spreads * float((r * m).sum())


@dataclass(frozen=True)
class SpanResult:
    scan_risk: float
    worst_scenario: int
    intra_charge: float
    inter_credit: float
    short_option_minimum: float
    requirement: float


def span_requirement(
    risk_arrays: np.ndarray,
    quantity: np.ndarray,
    intra_charge: float = 0.0,
    inter_credit: float = 0.0,
    short_option_minimum_per_contract: float = 0.0,
    is_option: np.ndarray | None = None,
) -> SpanResult:
    """SPAN requirement of one combined commodity (see the module docstring)."""
    scan, worst = scan_risk(risk_arrays, quantity)
    q = np.asarray(quantity, dtype=np.float64)
    shorts = 0.0 if is_option is None else float(-q[np.asarray(is_option) & (q < 0)].sum())
    som = shorts * short_option_minimum_per_contract
    requirement = max(scan + intra_charge - inter_credit, som, 0.0)
    return SpanResult(scan, worst, intra_charge, inter_credit, som, requirement)


def price_scan_range(
    sigma_daily: np.ndarray, coverage_sigmas: float = 3.0, margin_period_days: float = 1.0
) -> np.ndarray:
    """SPAN price scan ranges as relative moves: :math:`c\\,\\sigma_{daily}\\sqrt{MPOR}`.

    A clearing house sets each scan range to cover the move it expects over the margin
    period of risk (the days it would take to close out a defaulter's positions: one for
    CME futures) with high confidence — ``coverage_sigmas`` standard deviations (3: 99.7%
    under normality, some room for fat tails). A long future's requirement is then
    :math:`\\max(1, m_{ext} c_{ext})` scan ranges of its notional (1.05 at CME).

    Parameters
    ----------
    sigma_daily : ndarray
        Daily volatility of the relative price move (or, for volatility scan ranges, of the
        log move of implied volatility).
    """
    s = np.asarray(sigma_daily, dtype=np.float64)
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise InputError("sigma_daily", s, "non-negative finite daily volatilities")
    if coverage_sigmas <= 0 or margin_period_days <= 0:
        raise InputError(
            "coverage_sigmas", coverage_sigmas, "a positive coverage and margin period"
        )
    return coverage_sigmas * s * np.sqrt(margin_period_days)


def scan_risk_by_group(losses: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SPAN scan risk of every combined commodity at once (vectorised :func:`scan_risk`).

    Parameters
    ----------
    losses : ndarray of shape (n_rows, n_scenarios)
        Loss (positive) of each row — a position, or a book of options on one underlying —
        in each scenario, quantity and cover already applied.
    group : ndarray of int, shape (n_rows,)
        Each row's combined commodity (any integer labels).

    Returns
    -------
    (groups, scan) : ndarrays of shape (n_groups,)
        The distinct labels and :math:`\\max(0, \\max_j \\sum_{i \\in g} L_{ij})` of each: the
        rows of a combined commodity net scenario by scenario, groups never offset.
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 2 or losses.shape[0] != np.shape(group)[0]:
        raise InputError("losses", losses.shape, "an array of shape (len(group), n_scenarios)")
    groups, codes = np.unique(np.asarray(group), return_inverse=True)
    n_s = losses.shape[1]
    cells = (codes[:, None] * n_s + np.arange(n_s)).ravel()
    by_group = np.bincount(cells, weights=losses.ravel(), minlength=groups.size * n_s)
    return groups, by_group.reshape(groups.size, n_s).max(axis=1, initial=0.0)


# ------------------------------------------------------------------------ TIMS


def valuation_points(price_range: float, n_points: int = 10) -> np.ndarray:
    """Equally spaced relative moves across ``[-price_range, +price_range]`` (OCC uses 10
    points, e.g. ±15% for broad-based indexes), plus the unchanged point."""
    if not 0 < price_range < 1 or n_points < 2 or n_points % 2:
        raise InputError(
            "price_range", price_range, "a range in (0, 1) with an even number of points"
        )
    return np.linspace(-price_range, price_range, n_points + 1)


@dataclass(frozen=True)
class TimsResult:
    requirement: float
    by_product_group: dict[str, float]
    worst_point: dict[str, int]
    class_group_pnl: dict[str, np.ndarray]


def tims_margin(
    pnl: np.ndarray,
    class_group: np.ndarray,
    product_group: Mapping[str, str],
    offset: Mapping[str, float],
    minimum_per_contract: float = 0.0,
    contracts: np.ndarray | None = None,
) -> TimsResult:
    """TIMS-style portfolio margin.

    Parameters
    ----------
    pnl : ndarray of shape (n_positions, n_points)
        Each position's P&L (gains positive) at the valuation points of its class group
        (same number of points for all; row *j* of every group is the same relative move).
    class_group : ndarray of str, shape (n_positions,)
    product_group : mapping of class group to product group
    offset : mapping of product group to the share of gains that offsets losses between
        its class groups at the same valuation point (0..1)
    minimum_per_contract : float
        A floor per contract (OCC's minimum, e.g. $37.50 per contract).
    contracts : ndarray of shape (n_positions,), optional
        Absolute contracts per position for the floor.

    Returns
    -------
    TimsResult
        ``requirement = sum over product groups of max over points of
        max(-(L_p + offset * min(G_p, -L_p)), 0)``, floored by the minimum.
    """
    pnl = np.asarray(pnl, dtype=np.float64)
    labels = np.asarray(class_group).astype(str)
    names, codes = np.unique(labels, return_inverse=True)
    by_class = np.zeros((len(names), pnl.shape[1]))
    np.add.at(by_class, codes, pnl)
    groups: dict[str, list[int]] = {}
    for k, name in enumerate(names):
        if name not in product_group:
            raise InputError("class_group", name, "a class group mapped to a product group")
        groups.setdefault(product_group[name], []).append(k)
    out, worst = {}, {}
    for pg, members in groups.items():
        share = float(offset.get(pg, 0.0))
        if not 0 <= share <= 1:
            raise InputError("offset", share, f"a share in [0, 1] for product group {pg}")
        block = by_class[members]
        losses = np.minimum(block, 0).sum(axis=0)
        gains = np.maximum(block, 0).sum(axis=0)
        net = losses + share * np.minimum(gains, -losses)
        j = int(np.argmin(net))
        out[pg] = max(-float(net[j]), 0.0)
        worst[pg] = j
    total = sum(out.values())
    if contracts is not None and minimum_per_contract > 0:
        total = max(total, float(np.abs(contracts).sum()) * minimum_per_contract)
    return TimsResult(total, out, worst, {n: by_class[k] for k, n in enumerate(names)})


# ---------------------------------------------------------------------------- the engine's part


@dataclass(frozen=True, eq=False)
class SpanInputs:
    """What a SPAN computation of the book reads, copied on the engine's thread so that
    the computation can run on the background worker while the engine goes on.

    Per instrument (n,): ``qty``, ``unit_value`` (base ccy), ``valid``, ``price``,
    ``implied_vol``, ``fx``; per option (n_options,): ``opt_expiry`` (years).
    """

    qty: np.ndarray
    unit_value: np.ndarray
    valid: np.ndarray
    price: np.ndarray
    implied_vol: np.ndarray
    fx: np.ndarray
    opt_expiry: np.ndarray


class SpanMargin:
    """SPAN initial margin of the engine's futures and options: setup, computation, cache.

    SPAN's 16 scenarios, normal and stressed: columns 0-15 are CME's scenarios
    (:func:`span_scenarios`) with the normal scan ranges, 16-31 the same with every range
    ``stress_multiplier`` times wider. A combined commodity is one spot risk factor; its
    price scan range is :func:`price_scan_range` of the factor's daily volatility (a
    relative move), its volatility scan range the same for its implied-vol factor, applied
    to each option's own vol (:math:`\\sigma_i (1 \\pm VSR)`). The scan ranges are the
    exchange's parameters: set once from the unconditional factor vols, they do not follow
    the engine's regime conditioning. The distinct price and vol moves (9 and 3 per set)
    form the small grid each option book is revalued on.

    The margin in force (``in_force``, (normal, stressed)) is cached: ``stale`` says the
    book or its prices changed since (a held derivative traded or changed validity, or a
    full refresh), and the engine recomputes it inline or on its background worker.
    """

    def __init__(
        self,
        ref: InstrumentTable,
        space: FactorSpace,
        config: MarginConfig,
        factor_vol: np.ndarray,
    ) -> None:
        self.ref, self.space, self.config = ref, space, config
        table = span_scenarios(config.extreme_multiple, config.extreme_cover)
        widen = np.repeat([1.0, config.stress_multiplier], 16)
        self._price = np.tile(table[:, 0], 2) * widen  # in price scan ranges
        self._vol = np.tile(table[:, 1], 2) * widen  # in vol scan ranges
        self._cover = np.tile(table[:, 2], 2)
        self._range = price_scan_range(
            factor_vol, config.coverage_sigmas, config.margin_period_days
        )  # per factor
        self._px, self._ix = np.unique(self._price, return_inverse=True)
        self._vx, self._iv = np.unique(self._vol, return_inverse=True)
        self.in_force: tuple[float, float] | None = None
        self.stale = True

    def invalidate(self) -> None:
        """The derivatives book or its validity changed: SPAN again."""
        self.stale = True

    def compute(self, x: SpanInputs) -> tuple[float, float]:
        """SPAN initial margin of the futures and options held: (normal, stressed), base ccy.

        Per combined commodity (spot risk factor) the losses of its futures (linear:
        notional times the scenario's relative move) and of its option books are netted
        scenario by scenario; the scan risk is the worst covered loss
        (:func:`scan_risk_by_group`), and the requirement is the sum over commodities (no
        inter-commodity credit: conservative). Options are revalued in full (Black-Scholes-
        Merton / Black-76, the pricing package's grid kernel) on the scan's own small grid,
        with ``margin_period_days`` of time decay as in CME's risk arrays
        (:func:`option_risk_array`) — not read off the VaR grids, whose range is set by the
        VaR scenarios and may not reach the stressed extreme moves.

        Not modelled (documented simplifications): inter-month spread charges (all delivery
        months of a futures sector share one factor, so they net fully), the short option
        minimum and the net option value credit. Cost: one vectorised pass over the held
        futures, one small pricing-kernel call per held underlying. A pure function of
        ``x``: safe on the background worker.
        """
        ref, spot_factor = self.ref, self.space.spot_factor
        fut = np.flatnonzero((ref.asset_class == FUTURE) & (x.qty != 0) & x.valid)
        fut = fut[spot_factor[fut] >= 0]
        group_f = spot_factor[fut]
        notional = x.qty[fut] * x.unit_value[fut]
        loss_f = -(notional[:, None] * self._range[group_f][:, None]) * self._price
        held_opt = (x.qty[ref.opt_ids] != 0) & x.valid[ref.opt_ids]
        opts = np.flatnonzero(held_opt)
        opts = opts[np.argsort(ref.opt_owner[opts], kind="stable")]
        us, starts = np.unique(ref.opt_owner[opts], return_index=True)
        ends = np.append(starts[1:], opts.size)
        keep = ref.u_spot_col[us] >= 0
        loss_o = np.zeros((us.size, self._price.size))
        for j in np.flatnonzero(keep):
            loss_o[j] = self._book_loss(x, int(us[j]), opts[starts[j] : ends[j]])
        losses = np.vstack([loss_f, loss_o[keep]]) * self._cover
        group = np.concatenate([group_f, ref.u_spot_col[us[keep]]])
        _, normal = scan_risk_by_group(losses[:, :16], group)
        _, stressed = scan_risk_by_group(losses[:, 16:], group)
        return float(normal.sum()), float(stressed.sum())

    def _book_loss(self, x: SpanInputs, k: int, opts: np.ndarray) -> np.ndarray:
        """Loss (positive) of the held options ``opts`` (option indices) of underlying ``k``
        in the 32 SPAN scenarios: value now minus value after the scenario's move and the
        look-ahead of ``margin_period_days``."""
        ref = self.ref
        ids = ref.opt_ids[opts]
        spot = np.full(ids.size, x.price[ref.und_ids[k]])
        psr = self._range[ref.u_spot_col[k]]
        vc = ref.u_vol_col[k]
        vsr = self._range[vc] if vc >= 0 else 0.0
        x_axis = np.log(np.maximum(1.0 + self._px * psr, 1e-6))
        v_axis = np.log(np.maximum(1.0 + self._vx * vsr, 1e-6))
        strike, vol = ref.strike[ids], x.implied_vol[ids]
        is_call, on_future = ref.is_call[ids], ref.on_future[opts]
        unit, rate = ref.multiplier[ids] * x.fx[ids], ref.rate[ids]
        q_div, american = ref.opt_q[opts], ref.opt_american[opts]
        expiry = x.opt_expiry[opts]
        ahead = np.maximum(expiry - self.config.margin_period_days / 365.0, 0.0)
        zero = np.zeros(1)
        now = grids.build_option_grids(
            spot, zero, zero, strike, expiry, vol, is_call, on_future, unit, rate, q_div, american
        )[:, 0, 0]
        later = grids.build_option_grids(
            spot, x_axis, v_axis, strike, ahead, vol, is_call, on_future, unit, rate, q_div,
            american,
        )  # fmt: skip
        q = x.qty[ids]
        book = np.tensordot(q, later, axes=1)  # (n_price_moves, n_vol_moves)
        return float(q @ now) - book[self._ix, self._iv]
