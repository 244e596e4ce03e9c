"""Liquidity stress with redemptions: can the fund pay investors who leave in a stress?

Investors redeem a share ``X`` of the fund's net asset value over ``N`` days while the
market is stressed: bid-ask spreads widen ``k`` times, order-book depth falls ``m`` times
(so the same trade moves the price ``m`` times more) and volumes fall to ``v`` of normal
(IOSCO, *Recommendations for liquidity risk management for collective investment schemes*,
2018, rec. 11 and FSB 2017 policy recommendations on liquidity mismatch in open-ended
funds: stress tests of redemptions under stressed market liquidity).

**Policy** (:class:`RedemptionPolicy`):

* **gate** — at most ``gate`` of NAV is paid in the period; the rest is deferred;
* **waterfall** — ``liquid_first``: cash, then the positions that can be sold fastest
  (fewest days at the participation cap), each sold as far as the day's capacity allows;
  ``pro_rata``: cash in proportion, and the same fraction of every position (the fund
  keeps its mix; slices limited by each day's capacity stretch the sale);
* **swing pricing** — when redemptions exceed ``swing_threshold`` of NAV, the redeemers'
  NAV is swung down by ``swing_factor`` so they bear the cost of their own liquidation.

**Execution** uses the risk engine's L-VaR impact model (:mod:`riskstream.risk.liquidity`):
each position's sale over the days it takes costs half the stressed spread on its value
(Bangia et al. 1999, :func:`~riskstream.risk.liquidity.bangia_spread_cost`) plus the
Almgren-Chriss temporary and permanent impact of its trajectory
(:class:`~riskstream.risk.liquidity.AlmgrenChriss`, parameters from
:func:`~riskstream.risk.liquidity.impact_parameters` at the stressed spread and depth and
the engine's ``LiquidityConfig``), at most ``max_participation`` of the stressed ADV a day.

**Fire sale.** The permanent impact of the fund's own sales (:math:`\\gamma X` per unit,
Almgren & Chriss 2000) marks down what the remaining holders keep — the externality of a
fire sale (Shleifer & Vishny 2011, "Fire sales in finance and macroeconomics"). Reported
separately, with the dilution of the remaining investors' NAV.

Output: days to meet the redemption, the cost (spread + impact), the remaining
portfolio's value, gross exposure, leverage and risk (a one-day 99 % VaR bound of the
remaining positions with perfectly correlated moves, :math:`z_{99} \\sum_i |V_i| \\sigma_i`,
an upper bound for a long-only fund), the fire-sale loss and the remaining holders'
dilution with and without swing pricing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from riskstream.core.errors import InputError
from riskstream.risk.config import LiquidityConfig
from riskstream.risk.liquidity import AlmgrenChriss, bangia_spread_cost, impact_parameters
from riskstream.stress.book import StressBook

# daily price volatility per asset class in a stressed market (decimal), for the
# Almgren-Chriss cost variance and the remaining portfolio's VaR bound
STRESSED_DAILY_VOL: dict[str, float] = {
    "equity": 0.04, "future": 0.03, "option": 0.10, "fx": 0.015, "bond": 0.008,
}  # fmt: skip


@dataclass(frozen=True)
class MarketStress:
    """The stressed market: spreads ``x spread_multiplier``, depth ``/ depth_divisor``,
    volumes ``x volume_multiplier`` of normal."""

    spread_multiplier: float = 3.0
    depth_divisor: float = 3.0
    volume_multiplier: float = 0.5

    def __post_init__(self) -> None:
        for name in ("spread_multiplier", "depth_divisor", "volume_multiplier"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise InputError(name, v, "a positive number")


@dataclass(frozen=True)
class RedemptionPolicy:
    """How the fund meets redemptions (see the module docstring)."""

    waterfall: Literal["liquid_first", "pro_rata"] = "liquid_first"
    gate: float | None = None
    swing_threshold: float | None = None
    swing_factor: float = 0.0

    def __post_init__(self) -> None:
        if self.waterfall not in ("liquid_first", "pro_rata"):
            raise InputError("waterfall", self.waterfall, "liquid_first or pro_rata")
        if self.gate is not None and not (0 < self.gate <= 1):
            raise InputError("gate", self.gate, "a share of NAV in (0, 1]")
        if self.swing_threshold is not None and not (0 <= self.swing_threshold <= 1):
            raise InputError("swing_threshold", self.swing_threshold, "a share of NAV in [0, 1]")
        if not (0 <= self.swing_factor < 1):
            raise InputError("swing_factor", self.swing_factor, "a share in [0, 1)")


@dataclass(frozen=True)
class RedemptionResult:
    """The outcome of a redemption stress (base currency)."""

    nav: float
    requested: float
    paid: float
    deferred: float
    days_to_meet: int | None
    cost: float
    spread_cost: float
    impact_cost: float
    fire_sale_loss: float
    remaining: dict[str, float]
    dilution: dict[str, float]
    schedule: list[dict[str, float]]
    sold: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def redemption_stress(
    book: StressBook,
    redeem: float,
    days: int,
    cash: float = 0.0,
    market: MarketStress | None = None,
    policy: RedemptionPolicy | None = None,
    liquidity: LiquidityConfig | None = None,
    top_n: int = 10,
) -> RedemptionResult:
    """Meet redemptions of ``redeem`` x NAV over ``days`` days in a stressed market.

    Parameters
    ----------
    book : StressBook
        The fund's positions (long positions are sold; shorts and derivatives are kept:
        closing them raises no cash).
    redeem : float
        Share of NAV redeemed, in (0, 1].
    days : int
        Days over which the redemption must be paid.
    cash : float
        Cash held (base currency), paid first.
    market, policy, liquidity : the stress, the policy and the engine's liquidity settings.
    """
    if not (0 < redeem <= 1):
        raise InputError("--redeem", redeem, "a share of NAV in (0, 1]")
    if not (isinstance(days, int) and days >= 1):
        raise InputError("--days", days, "a positive number of days")
    if not (np.isfinite(cash) and cash >= 0):
        raise InputError("--cash", cash, "a non-negative cash amount")
    market = market or MarketStress()
    policy = policy or RedemptionPolicy()
    lc = liquidity or LiquidityConfig()
    value = book.value
    # cash-raising positions: long cash instruments (equities, bonds, FX spot)
    sellable = (book.quantity > 0) & np.isin(book.asset_class, ["equity", "bond", "fx"])
    nav = float(cash + value[~np.isin(book.asset_class, ["future"])].sum())
    if not nav > 0:
        raise InputError("book", nav, "a fund with a positive net asset value")
    requested = redeem * nav
    payable = requested if policy.gate is None else min(requested, policy.gate * nav)
    deferred = requested - payable

    unit_px = np.abs(book.multiplier * book.price * book.fx)  # base ccy per unit
    rel_spread = book.spread_bps * 1e-4 * market.spread_multiplier
    adv = book.adv * market.volume_multiplier
    cap_units = lc.max_participation * adv  # units a day
    qty = np.where(sellable, book.quantity, 0.0)
    days_full = np.where(sellable & (cap_units > 0), np.ceil(qty / np.maximum(cap_units, 1e-300)),
                         np.inf)  # fmt: skip
    # proceeds net of the half spread, per unit
    net_px = unit_px * (1.0 - 0.5 * rel_spread)

    sold = np.zeros(book.n_positions)
    tol = 1e-9 * nav
    # cash first (liquid_first), or its pro-rata share of the redemption (pro_rata)
    cash_share = 1.0 if policy.waterfall == "liquid_first" else cash / nav
    from_cash = min(cash, payable * cash_share)
    need = payable - from_cash
    order = np.argsort(days_full, kind="stable")  # most liquid first
    total_sellable_value = float((qty * net_px).sum())
    schedule: list[dict[str, float]] = []
    met_day: int | None = 0 if need <= tol else None
    for day in range(1, days + 1):
        capacity = np.minimum(cap_units, qty - sold)  # units sellable today
        if need > tol:
            if policy.waterfall == "liquid_first":
                for p in order:
                    if need <= tol or not np.isfinite(days_full[p]):
                        break
                    units = min(capacity[p], need / net_px[p])
                    sold[p] += units
                    need -= units * net_px[p]
            else:  # the same fraction of every position, capped by today's capacity
                frac = need / max(total_sellable_value, 1e-300)
                units = np.minimum(capacity, frac * qty)
                sold += units
                need -= float((units * net_px).sum())
        schedule.append(
            {"day": day, "paid": float(payable - max(need, 0.0)), "outstanding": max(need, 0.0)}
        )
        if met_day is None and need <= tol:
            met_day = day

    # execution costs of what was sold, by position, over the days each sale took
    idx = np.flatnonzero(sold > 0)
    spread_cost = float(bangia_spread_cost(sold[idx] * unit_px[idx], rel_spread[idx],
                                           0.0, 0.0).sum()) if idx.size else 0.0  # fmt: skip
    impact = fire_sale = 0.0
    sold_rows: list[dict[str, Any]] = []
    if idx.size:
        eps, eta, gamma = impact_parameters(
            unit_px[idx],
            rel_spread[idx],
            adv[idx] / market.depth_divisor,  # thinner books: the same trade moves more
            lc.eta_adv_fraction,
            lc.gamma_adv_fraction,
        )
        n_days = np.clip(np.ceil(sold[idx] / np.maximum(cap_units[idx], 1e-300)), 1, days)
        vol = np.array([STRESSED_DAILY_VOL.get(str(a), 0.03) for a in book.asset_class[idx]])
        ac = AlmgrenChriss(
            shares=sold[idx],
            sigma=unit_px[idx] * vol,
            eta=eta,
            gamma=gamma,
            epsilon=eps,
            horizon_days=n_days,
            n_periods=n_days,
            risk_aversion=lc.risk_aversion_per_ccy,
        )
        per_position = ac.impact_cost()
        impact = float(per_position.sum())
        # permanent impact gamma * X marks down every unit the fund keeps
        kept = np.where(sellable, book.quantity, 0.0)[idx] - sold[idx]
        fire_sale = float((gamma * sold[idx] * np.maximum(kept, 0.0)).sum())
        worst = idx[np.argsort(-per_position, kind="stable")[:top_n]]
        sold_rows = [
            {
                "symbol": str(book.symbol[p]),
                "asset_class": str(book.asset_class[p]),
                "sold_units": float(sold[p]),
                "sold_value": float(sold[p] * unit_px[p]),
                "days": float(np.clip(np.ceil(sold[p] / max(cap_units[p], 1e-300)), 1, days)),
            }
            for p in worst
        ]
    cost = spread_cost + impact
    paid = payable - max(need, 0.0)
    # the remaining fund
    keep_qty = book.quantity - sold
    keep_value = keep_qty * book.multiplier * book.price * book.fx
    non_future = book.asset_class != "future"
    cash_left = cash - from_cash
    remaining_nav = float(cash_left + keep_value[non_future].sum() - fire_sale - impact)
    gross = float(np.abs(keep_value).sum())
    vol_all = np.array([STRESSED_DAILY_VOL.get(str(a), 0.03) for a in book.asset_class])
    var_bound = float(stats.norm.ppf(0.99) * (np.abs(keep_value) * vol_all).sum())
    remaining = {
        "nav": remaining_nav,
        "gross_exposure": gross,
        "leverage": gross / remaining_nav if remaining_nav > 0 else float("inf"),
        "var_99_1d_bound": var_bound,
        "cash": float(cash_left),
    }
    loss_to_fund = cost + fire_sale
    swing = 0.0
    if policy.swing_threshold is not None and requested >= policy.swing_threshold * nav:
        swing = policy.swing_factor * paid
    dilution = {
        "without_swing": loss_to_fund / max(remaining_nav, 1e-300),
        "with_swing": max(loss_to_fund - swing, 0.0) / max(remaining_nav, 1e-300),
        "swing_amount": swing,
    }
    return RedemptionResult(
        nav=nav,
        requested=requested,
        paid=float(paid),
        deferred=float(deferred),
        days_to_meet=met_day,
        cost=float(cost),
        spread_cost=spread_cost,
        impact_cost=impact,
        fire_sale_loss=fire_sale,
        remaining=remaining,
        dilution=dilution,
        schedule=schedule,
        sold=sold_rows,
    )
