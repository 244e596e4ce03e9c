"""The book marked as of a day, its price history, trade costs and the optimised rebalance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.portfolio.config import PortfolioConfig

# ------------------------------------------------------------------------ the book


@dataclass
class MarkedBook:
    """The loaded book marked as of a day (arrays of shape (n_instruments,)).

    ``price``: the day's marks (instrument currency); ``unit_value``: base currency per
    unit of price (multiplier × FX to base); ``quantity``: net units held over all books;
    ``implied_vol``: options' vols (NaN elsewhere); ``rate``: options' zero rates.
    """

    universe: Any
    day: dt.date
    price: np.ndarray
    unit_value: np.ndarray
    quantity: np.ndarray
    implied_vol: np.ndarray
    rate: np.ndarray
    info: dict[str, Any]

    @property
    def n(self) -> int:
        return self.price.shape[0]

    def column(self, name: str) -> np.ndarray:
        return self.universe.instruments[name].to_numpy()

    def symbols(self) -> np.ndarray:
        return np.asarray(self.universe.instruments["symbol"].to_list(), dtype=object)


def mark_book(universe: Any, history: Any, day: dt.date, dividend_yield: float) -> MarkedBook:
    """Mark ``universe`` at ``day`` from the stored history, as ``riskstream risk`` does."""
    from riskstream.cli.engine import mark_to_history, option_rates

    marked, market, iv, info = mark_to_history(universe, history, day, dividend_yield)
    inst = marked.instruments
    fx = marked.fx_to_base
    unit_value = inst["multiplier"].to_numpy().astype(np.float64) * np.array(
        [fx.get(c, np.nan) for c in inst["currency"].to_list()]
    )
    pos = marked.positions
    qty = np.bincount(
        pos["instrument_id"].to_numpy().astype(np.int64),
        weights=pos["quantity"].to_numpy().astype(np.float64),
        minlength=inst.height,
    )
    price = np.asarray(market.mid, dtype=np.float64).copy()
    return MarkedBook(
        marked, day, price, unit_value, qty, iv, option_rates(marked, day, history.curves), info
    )


def price_returns(
    history: Any, symbols: list[str], day: dt.date, window: int
) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Daily simple returns of the stored closes of ``symbols`` over the ``window`` days to
    ``day``: the dates every kept series has (an inner join), oldest first.

    A series with fewer than half the window's closes is left out (listed with its reason in
    the third value) rather than shortening every other series to its dates. The dense
    (dates x symbols) matrix is filled by integer codes in numpy, not a dataframe pivot
    (a 3,500-series pivot takes seconds; the scatter milliseconds).
    """
    code = {sym: j for j, sym in enumerate(symbols)}
    rows = history.prices.filter(pl.col("symbol").is_in(symbols) & (pl.col("date") <= day)).select(
        "date", "symbol", "close"
    )
    dates = rows["date"].unique().sort().tail(window + 1)
    rows = rows.filter(pl.col("date") >= dates.min()) if dates.len() else rows.clear()
    t = np.searchsorted(dates.to_numpy(), rows["date"].to_numpy())
    j = rows["symbol"].replace_strict(code, return_dtype=pl.Int64).to_numpy()
    px = np.full((dates.len(), len(symbols)), np.nan)
    px[t, j] = rows["close"].to_numpy()
    counts = np.isfinite(px).sum(axis=0)
    need = max(window // 2, 3)
    excluded = {
        sym: f"{int(counts[k])} stored closes in the window (at least {need} needed)"
        for k, sym in enumerate(symbols)
        if counts[k] < need
    }
    keep = np.flatnonzero(counts >= need)
    px = px[:, keep]
    px = px[np.isfinite(px).all(axis=1)]  # the dates every kept series has
    if keep.size == 0 or px.shape[0] < 3:
        return (
            [],
            np.empty((0, 0)),
            excluded or {sym: "fewer than 3 common dates" for sym in symbols},
        )
    return [symbols[k] for k in keep], px[1:] / px[:-1] - 1.0, excluded


def trading_costs(book: MarkedBook, idx: np.ndarray, value: float, cfg: PortfolioConfig) -> Any:
    """:class:`~riskstream.portfolio.costs.TradingCosts` of instruments ``idx`` in weights
    of a sleeve worth ``value`` (spread and ADV from the reference data)."""
    from riskstream.portfolio.costs import TradingCosts

    spread = book.column("spread_bps").astype(np.float64)[idx] / 1e4
    adv = book.column("adv").astype(np.float64)[idx]
    unit_price = book.price[idx] * book.unit_value[idx]  # base currency per unit
    return TradingCosts.from_market(
        unit_price,
        np.nan_to_num(spread),
        np.where(np.isfinite(adv) & (adv > 0), adv, 1.0),
        value,
        cfg.execution_days,
        cfg.eta_adv_fraction,
        cfg.gamma_adv_fraction,
    )


def trade_costs(
    book: MarkedBook, ids: np.ndarray, qty: np.ndarray, cfg: PortfolioConfig
) -> np.ndarray:
    """Expected cost (base currency) of trading ``qty`` units of instruments ``ids``."""
    unit_price = np.abs(book.price[ids] * book.unit_value[ids])
    value = float(np.abs(qty * unit_price).sum()) or 1.0
    costs = trading_costs(book, ids, value, cfg)
    return costs.per_asset(qty * unit_price / value) * value


def trade_rows(
    book: MarkedBook, ids: np.ndarray, qty: np.ndarray, cfg: PortfolioConfig, purpose: str
) -> list[dict[str, Any]]:
    from riskstream.portfolio.hedging import round_to_lots

    lot = book.column("lot_size").astype(np.float64)[ids]
    lot = np.where(np.isfinite(lot) & (lot > 0), lot, 1.0)
    rounded = round_to_lots(qty, lot)
    keep = rounded != 0
    ids, rounded, exact, lot = ids[keep], rounded[keep], qty[keep], lot[keep]
    cost = trade_costs(book, ids, rounded, cfg) if ids.size else np.empty(0)
    sym = book.symbols()
    return [
        {
            "instrument_id": int(i),
            "symbol": str(sym[i]),
            "purpose": purpose,
            "quantity": float(q),
            "quantity_exact": float(x),
            "lots": float(q / lt),
            "value": float(q * book.price[i] * book.unit_value[i]),
            "expected_cost": float(c),
        }
        for i, q, x, lt, c in zip(ids, rounded, exact, lot, cost, strict=True)
    ]


# ------------------------------------------------------------------- optimise


def optimise_book(
    book: MarkedBook,
    history: Any,
    objective: str,
    cfg: PortfolioConfig,
    window: int = 250,
    max_weight: float = 1.0,
    max_turnover: float | None = None,
    frontier_points: int = 15,
    group_max: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Re-weight the book's held instruments that have stored closes (equities, futures,
    FX) by ``objective``, with costs; the rest of the book is left as it is.

    ``group_max`` bounds each group's total weight, by reference-data column: e.g.
    ``{"sector": 0.3, "currency": 0.6, "asset_class": 0.8}`` (every member of each).

    The sleeve is long-only and keeps its value when every held position in it is long;
    otherwise it is long-short with the same net weight. Expected returns are the
    compounded means, the covariance the sample covariance, of the ``window`` daily moves.
    """
    from riskstream.portfolio.estimation import covariance, expected_returns
    from riskstream.portfolio.optimise import (
        Constraints,
        GroupBound,
        allocation,
        efficient_frontier,
        optimise,
    )
    from riskstream.portfolio.risk_parity import risk_budget_weights, risk_contributions

    asset = book.column("asset_class")
    held = np.flatnonzero(
        (book.quantity != 0)
        & np.isin(asset, ["equity", "future", "fx"])
        & np.isfinite(book.price)
        & np.isfinite(book.unit_value)
    )
    sym = book.symbols()
    names, r, excluded = price_returns(history, [str(sym[i]) for i in held], book.day, window)
    if len(names) < 2:
        raise InputError(
            "book", f"{len(names)} instrument(s) with stored closes",
            "at least 2 held instruments with stored price history to optimise",
        )  # fmt: skip
    pos = {str(s): int(i) for s, i in zip(sym[held], held, strict=True)}
    idx = np.array([pos[s] for s in names])
    value = book.quantity[idx] * book.price[idx] * book.unit_value[idx]
    long_only = bool(np.all(value > 0))
    nav = float(value.sum()) if long_only else float(np.abs(value).sum())
    w0 = value / nav
    mu = expected_returns(r, "compounded", cfg.periods_per_year)
    cov = covariance(r, "sample", cfg.periods_per_year)
    costs = trading_costs(book, idx, nav, cfg)
    groups = []
    for kind, share in (group_max or {}).items():
        if kind not in ("sector", "currency", "asset_class", "country"):
            raise InputError("group_max", kind, "sector, currency, asset_class or country")
        labels = np.asarray(book.column(kind), dtype=object)[idx].astype(str)
        groups += [
            GroupBound(f"{kind}:{g}", np.flatnonzero(labels == g), -share, share)
            for g in np.unique(labels)
        ]
    spec = Constraints(
        long_only=long_only,
        min_weight=None if long_only else -max_weight,
        max_weight=max_weight,
        budget=float(w0.sum()),
        groups=tuple(groups),
        max_turnover=max_turnover,
    )
    rf = cfg.risk_free_rate
    if objective == "erc":
        if not long_only:
            raise InputError("objective", "erc", "a long-only sleeve for risk parity")
        target = allocation(risk_budget_weights(cov), mu, cov, "erc", rf, w0, costs)
    else:
        target = optimise(mu, cov, objective, spec, rf, w0, costs)  # type: ignore[arg-type]
    trades = trade_rows(
        book,
        idx,
        (target.weights - w0) * nav / (book.price[idx] * book.unit_value[idx]),
        cfg,
        "rebalance",
    )
    traded = {t["instrument_id"]: t["quantity"] for t in trades}
    after_qty = book.quantity[idx] + np.array([traded.get(int(i), 0.0) for i in idx])
    w1 = after_qty * book.price[idx] * book.unit_value[idx] / nav
    before = allocation(w0, mu, cov, "current", rf)
    after = allocation(w1, mu, cov, objective, rf, w0, costs)
    cost = float(sum(t["expected_cost"] for t in trades))
    metric = {"min_volatility": "volatility", "erc": "volatility"}.get(objective, "sharpe")

    def score(a: Any, net: bool) -> float:
        if metric == "volatility":
            return -a.volatility
        ret = a.expected_return - (cost / nav if net else 0.0)
        return (ret - rf) / a.volatility

    out: dict[str, Any] = {
        "objective": objective,
        "as_of": book.day.isoformat(),
        "instruments": names,
        "sleeve_value": nav,
        "observations": int(r.shape[0]),
        "weights_before": dict(zip(names, w0.tolist(), strict=True)),
        "target_weights": dict(zip(names, target.weights.tolist(), strict=True)),
        "weights_after": dict(zip(names, w1.tolist(), strict=True)),
        "risk_contributions_before": dict(
            zip(names, risk_contributions(w0, cov).tolist(), strict=True)
        ),
        "risk_contributions_after": dict(
            zip(names, risk_contributions(w1, cov).tolist(), strict=True)
        ),
        "before": {k: getattr(before, k) for k in ("expected_return", "volatility", "sharpe")},
        "after": {k: getattr(after, k) for k in ("expected_return", "volatility", "sharpe")},
        "improvement": {
            "metric": "-volatility" if metric == "volatility" else "sharpe",
            "gross": score(after, False) - score(before, False),
            "net": score(after, True) - score(before, False),
        },
        "expected_cost": cost,
        "trades": trades,
        "excluded": excluded,
    }
    if objective != "erc" and frontier_points >= 2:
        out["frontier"] = efficient_frontier(mu, cov, spec, frontier_points).as_dict()
    return out
