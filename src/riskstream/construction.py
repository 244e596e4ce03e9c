"""Portfolio construction and hedging of the loaded book, wired to the risk engine and limits.

:mod:`riskstream.portfolio` proposes weights and hedges from arrays; this module (used by the
``riskstream optimise book`` / ``riskstream hedge book`` commands and the
``/api/v1/portfolio/*`` routes) feeds it the book — the reference universe's positions,
marked at the stored closes of ``as_of`` with the stored FX, curves and implied vols
(:func:`riskstream.cli.engine.mark_to_history`, as ``riskstream risk`` marks it) — and
turns its answer into trades:

1. **trades** per instrument, rounded to the instrument's lot, with their expected costs
   (proportional half-spread plus Almgren-Chriss impact, :class:`~riskstream.portfolio.
   costs.TradingCosts` from each instrument's spread and ADV);
2. **risk before and after** from the risk engine of the book (VaR, ES and Euler
   contributions, the same figures as ``riskstream risk``), the trades applied one hedge
   at a time so each hedge's own effect shows;
3. **the pre-trade gate** of the limits package (:func:`pretrade_gate`): every trade passes
   the kill switches of its scopes (:meth:`~riskstream.limits.killswitch.KillSwitchBoard.
   check_orders`) and the hard limits on the positions after the trades
   (:class:`~riskstream.limits.monitor.LimitMonitor` on the post-trade exposures); a refused
   trade is listed with the switch or limit that refused it.

The portfolio package may not import the limits package (layering: both sit beside each
other downstream of risk), so the two meet here, as the CLI and the service are the places
that wire packages together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.portfolio.config import PortfolioConfig

BETA_MIN_OBSERVATIONS = 60  # fewer common days and a stock's beta is taken as 1 (counted)


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


def _trade_rows(
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
) -> dict[str, Any]:
    """Re-weight the book's held instruments that have stored closes (equities, futures,
    FX) by ``objective``, with costs; the rest of the book is left as it is.

    The sleeve is long-only and keeps its value when every held position in it is long;
    otherwise it is long-short with the same net weight. Expected returns are the
    compounded means, the covariance the sample covariance, of the ``window`` daily moves.
    """
    from riskstream.portfolio.estimation import covariance, expected_returns
    from riskstream.portfolio.optimise import Constraints, allocation, efficient_frontier, optimise
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
    spec = Constraints(
        long_only=long_only,
        min_weight=None if long_only else -max_weight,
        max_weight=max_weight,
        budget=float(w0.sum()),
        max_turnover=max_turnover,
    )
    rf = cfg.risk_free_rate
    if objective == "erc":
        if not long_only:
            raise InputError("objective", "erc", "a long-only sleeve for risk parity")
        target = allocation(risk_budget_weights(cov), mu, cov, "erc", rf, w0, costs)
    else:
        target = optimise(mu, cov, objective, spec, rf, w0, costs)  # type: ignore[arg-type]
    trades = _trade_rows(
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


# ----------------------------------------------------------------------- hedge


def index_future(book: MarkedBook, index: str) -> int:
    """The nearest-expiring future on ``index`` (sector ``index:<index>``) alive at the day."""
    sector = book.column("sector")
    asset = book.column("asset_class")
    expiry = book.universe.instruments["expiry"].to_list()
    cands = [
        i
        for i in np.flatnonzero((asset == "future") & (sector == f"index:{index}"))
        if expiry[i] is not None and expiry[i] > book.day and np.isfinite(book.price[i])
    ]
    if not cands:
        raise InputError("index", index, "an index with a live future in the reference data")
    return int(min(cands, key=lambda i: expiry[i]))


@dataclass(frozen=True)
class HedgeProposal:
    """The trades of each hedge (``beta``, ``delta``, ``duration``) and their figures."""

    trades: dict[str, list[dict[str, Any]]]
    figures: dict[str, dict[str, Any]]


def propose_hedges(
    book: MarkedBook,
    history: Any,
    cfg: PortfolioConfig,
    hedges: tuple[str, ...] = ("delta", "beta", "duration"),
    index: str = "SPX",
    target_beta: float = 0.0,
    window: int = 250,
    returns: tuple[list[str], np.ndarray] | None = None,
) -> HedgeProposal:
    """The hedge trades of the book (vectorised over every position).

    * ``delta`` — the options book's delta per underlying (Black-Scholes-Merton on stocks,
      Black-76 on futures, at each option's implied vol; American options by the European
      delta at the same vol) is traded away in the underlying (a stock, or the future an
      index option is written on);
    * ``beta`` — the equities' dollar beta to ``index`` (betas regressed on the index's
      stored closes over ``window`` days; a stock with fewer than
      :data:`BETA_MIN_OBSERVATIONS` common days counts with beta 1), including the delta
      hedge's stock trades and the index futures already held, is moved to
      ``target_beta`` × the equity value with the index's nearest future (Hull §3.5);
    * ``duration`` — per currency, the bonds' dollar key-rate durations on that currency's
      stored zero curve are hedged in least squares with the currency's government bonds
      nearest the 2/5/10/30-year points (bond futures and swaps are not in the reference
      data; a bond future's rate risk is its cheapest-to-deliver bond's).

    ``returns``: precomputed (symbols, daily returns) for the betas (the benchmark passes
    them to time the proposal apart from reading the store).
    """
    from riskstream.portfolio.hedging import beta_hedge_contracts, duration_hedge, greek_hedge

    for h in hedges:
        if h not in ("delta", "beta", "duration"):
            raise InputError("hedges", h, "delta, beta or duration")
    inst = book.universe.instruments
    asset = book.column("asset_class")
    n = book.n
    trades: dict[str, list[dict[str, Any]]] = {}
    figures: dict[str, dict[str, Any]] = {}
    extra = np.zeros(n)  # trades proposed so far (the beta hedge sees the delta hedge's)

    if "delta" in hedges:
        from riskstream.pricing import black76_greeks, bsm_greeks
        from riskstream.risk.factors import epoch_days, year_fraction

        opt = np.flatnonzero((asset == "option") & (book.quantity != 0))
        und = inst["underlying_id"].to_numpy()[opt].astype(np.int64)
        ok = np.isfinite(book.implied_vol[opt]) & np.isfinite(book.price[und])
        opt, und = opt[ok], und[ok]
        years = np.maximum(year_fraction(epoch_days(inst["expiry"])[opt], book.day), 1e-6)
        strike = inst["strike"].to_numpy().astype(np.float64)[opt]
        call = inst["right"].to_numpy()[opt] == "C"
        spot, vol, r = book.price[und], book.implied_vol[opt], np.nan_to_num(book.rate[opt])
        on_future = asset[und] == "future"
        delta = np.where(
            on_future,
            black76_greeks(spot, strike, years, r, vol, call).delta,
            bsm_greeks(spot, strike, years, r, 0.0, vol, call).delta,
        )
        mult = book.column("multiplier").astype(np.float64)
        # units of the underlying per option held: delta x option multiplier / underlying's
        per_unit = delta * mult[opt] / mult[und]
        book_delta = np.bincount(und, weights=book.quantity[opt] * per_unit, minlength=n)
        hedge = greek_hedge(book_delta)
        ids = np.flatnonzero(book_delta != 0)
        trades["delta"] = _trade_rows(book, ids, hedge.underlying[ids], cfg, "delta")
        for t in trades["delta"]:
            extra[t["instrument_id"]] += t["quantity"]
        figures["delta"] = {
            "options": int(opt.size),
            "underlyings": int(ids.size),
            "delta_value_before": float(np.abs(book_delta * book.price * book.unit_value).sum()),
        }

    if "beta" in hedges:
        eq = np.flatnonzero((asset == "equity") & ((book.quantity + extra) != 0))
        sym = book.symbols()
        fut = index_future(book, index)
        # the index's own stored closes, else its future's (a future follows its index)
        stored = returns is not None or bool(history.prices["symbol"].is_in([index]).any())
        series = index if stored else str(sym[fut])
        if returns is None:
            returns = price_returns(history, [series, *map(str, sym[eq])], book.day, window)[:2]
        names, r = returns
        if series not in names:
            raise InputError("index", index, f"an index with stored closes ('{series}' has none)")
        col = {s: j for j, s in enumerate(names)}
        m = r[:, col[series]]
        mc = m - m.mean()
        j = np.array([col.get(str(s), -1) for s in sym[eq]])
        beta = np.ones(eq.size)
        have = j >= 0
        if r.shape[0] >= BETA_MIN_OBSERVATIONS and have.any():
            x = r[:, j[have]]
            beta[have] = (x - x.mean(axis=0)).T @ mc / (mc @ mc)
        else:
            have[:] = False
        value = (book.quantity[eq] + extra[eq]) * book.price[eq] * book.unit_value[eq]
        fut_value = float(book.price[fut] * book.unit_value[fut])
        held_futures = book.quantity[fut] * fut_value  # index futures count at beta 1
        dollar_beta = float(beta @ value + held_futures)
        # Hull §3.5: (beta* V - sum beta_i V_i) / V_F contracts, less the index futures
        # already held (they carry beta 1 on their notional)
        contracts = beta_hedge_contracts(value, beta, fut_value, target_beta) - book.quantity[fut]
        trades["beta"] = _trade_rows(book, np.array([fut]), np.array([contracts]), cfg, "beta")
        figures["beta"] = {
            "index": index,
            "index_series": series,
            "future": str(sym[fut]),
            "equity_value": float(value.sum()),
            "dollar_beta_before": dollar_beta,
            "portfolio_beta_before": dollar_beta / float(value.sum() or 1.0),
            "target_beta": target_beta,
            "beta_assumed_one": int((~have).sum()),
        }

    if "duration" in hedges:
        trades["duration"], figures["duration"] = _duration_trades(
            book, history, cfg, duration_hedge
        )
    return HedgeProposal(trades, figures)


KEY_TENORS = (2.0, 5.0, 10.0, 30.0)


def _duration_trades(
    book: MarkedBook, history: Any, cfg: PortfolioConfig, duration_hedge: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from riskstream.pricing.bonds import bond_price_from_curve, key_rate_durations
    from riskstream.pricing.curves import ZeroCurve
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = book.universe.instruments
    asset = book.column("asset_class")
    bonds = np.flatnonzero(asset == "bond")
    ccy = book.column("currency")
    sector = book.column("sector")
    maturity = year_fraction(epoch_days(inst["maturity"]), book.day)
    coupon = inst["coupon"].to_numpy().astype(np.float64)
    freq = inst["coupon_frequency"].to_numpy().astype(np.float64)
    fx = book.universe.fx_to_base
    mult = book.column("multiplier").astype(np.float64)
    curves = history.curves.filter(pl.col("date") <= book.day)
    trades: list[dict[str, Any]] = []
    fig: dict[str, Any] = {"currencies": {}, "no_curve": []}
    for c in np.unique(ccy[bonds]):
        in_c = bonds[(ccy[bonds] == c) & (maturity[bonds] > 0)]
        held = in_c[book.quantity[in_c] != 0]
        rows = curves.filter(pl.col("currency") == c)
        if held.size == 0:
            continue
        if rows.height == 0:
            fig["no_curve"].append(str(c))
            continue
        last = rows.filter(pl.col("date") == rows["date"].max()).sort("tenor_years")
        curve = ZeroCurve(last["tenor_years"].to_numpy(), last["zero_rate"].to_numpy())
        govt = in_c[sector[in_c] == "government"]
        if govt.size == 0:
            fig["no_curve"].append(f"{c} (no government bonds to hedge with)")
            continue
        picks = np.unique([govt[np.argmin(np.abs(maturity[govt] - t))] for t in KEY_TENORS])
        ids = np.union1d(held, picks)
        krd = key_rate_durations(curve, coupon[ids], maturity[ids], freq[ids])
        # dollar KRD per unit: KRD x dirty price per 100 x multiplier (per 100 -> per unit)
        px = bond_price_from_curve(curve, coupon[ids], maturity[ids], freq[ids])
        per_unit = krd * (px * mult[ids] * fx.get(str(c), np.nan))[:, None]
        where = {int(i): k for k, i in enumerate(ids)}
        book_krd = book.quantity[held] @ per_unit[[where[int(i)] for i in held]]
        hedge = duration_hedge(book_krd, per_unit[[where[int(i)] for i in picks]])
        book.price[ids] = np.where(np.isfinite(book.price[ids]), book.price[ids], px)
        trades += _trade_rows(book, picks, hedge.quantity, cfg, "duration")
        fig["currencies"][str(c)] = {
            "bonds": int(held.size),
            "dollar_duration_before": float(book_krd.sum()),
            "dollar_duration_after": float(hedge.residual_krd.sum()),
            "hedge_bonds": [str(s) for s in book.symbols()[picks]],
        }
    return trades, fig


# ------------------------------------------------------------------- the gate


def pretrade_gate(
    universe: Any,
    trades: list[dict[str, Any]],
    board: Any,
    limits: list[Any],
    after_frame: Any | None = None,
    before_frame: Any | None = None,
    limits_config: Any = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split ``trades`` into (accepted, refused) by the limits package's pre-trade gate.

    1. **Kill switches**: :meth:`KillSwitchBoard.check_orders` with each trade's scopes
       (its book's desk, strategy and trader, its asset class and instrument; the firm);
       a halted scope refuses every order, a reducing one the orders that add risk.
    2. **Hard limits after the trades**: a :class:`~riskstream.limits.monitor.LimitMonitor`
       measures the positions after all the trades (``after_frame``) and, when given,
       before them (``before_frame``); a limit breached after (and not already as much
       before) refuses the trades in its scope that grow their position.

    Each refused trade carries ``refused_by`` (``killswitch:<scope>`` with its state, or the
    limit's id) and ``reason``.
    """
    from riskstream.limits.killswitch import GLOBAL, TradingState
    from riskstream.limits.model import Scope

    if not trades:
        return [], []
    books = universe.books
    book_labels = {
        int(b): {"desk": d, "strategy": s, "trader": t}
        for b, d, s, t in books.select("book_id", "desk", "strategy", "trader").iter_rows()
    }
    asset = universe.instruments["asset_class"].to_numpy()
    inst_ids = np.array([t["instrument_id"] for t in trades], dtype=np.int64)
    book_ids = np.array([t["book_id"] for t in trades], dtype=np.int64)
    scopes = {
        "desk": np.array([book_labels.get(int(b), {}).get("desk") or "" for b in book_ids]),
        "strategy": np.array([book_labels.get(int(b), {}).get("strategy") or "" for b in book_ids]),
        "trader": np.array([book_labels.get(int(b), {}).get("trader") or "" for b in book_ids]),
        "asset_class": asset[inst_ids].astype(str),
        "instrument": inst_ids.astype(str),
    }
    held = np.array([t.get("position_before", 0.0) for t in trades])
    order = np.array([t["quantity"] for t in trades])
    allowed = board.check_orders(scopes, held, order)
    reasons: dict[int, tuple[str, str]] = {}
    increases = np.abs(held + order) > np.abs(held) + 1e-12
    for k in np.flatnonzero(~allowed):
        for scope_id, rec in board.engaged().items():
            kind, _, key = scope_id.partition(":")
            hit = scope_id == GLOBAL or (kind in scopes and scopes[kind][k] == key)
            if hit and (rec.state is TradingState.HALTED or increases[k]):
                reasons[int(k)] = (
                    f"killswitch:{scope_id}",
                    f"kill switch {scope_id} is {rec.state.value}: {rec.reason}",
                )
                break
    if after_frame is not None and limits:
        from riskstream.limits.monitor import LimitMonitor

        monitor = LimitMonitor(limits, limits_config)
        after = monitor.check(after_frame)
        before = (
            None
            if before_frame is None
            else LimitMonitor(limits, limits_config).check(before_frame)
        )
        for i, lim in enumerate(after.limits):
            used = after.utilisation[i]
            was = -np.inf if before is None else before.utilisation[i]
            if used <= 1.0 or used <= was + 1e-12:
                continue
            member = (
                np.ones(len(trades), bool)
                if lim.scope is Scope.FIRM
                else scopes[lim.scope.value] == lim.key
            )
            for k in np.flatnonzero(member & increases):
                reasons.setdefault(
                    int(k),
                    (
                        lim.limit_id,
                        f"{lim.limit_id} would be at {used:.0%} of its hard limit {lim.hard:,.4g}",
                    ),
                )
    accepted, refused = [], []
    for k, t in enumerate(trades):
        if k in reasons:
            refused.append({**t, "refused_by": reasons[k][0], "reason": reasons[k][1]})
        else:
            accepted.append(t)
    return accepted, refused


def assign_books(universe: Any, trades: list[dict[str, Any]], book_id: int | None = None) -> None:
    """Give each trade a book (``book_id``, else the book holding most of the instrument,
    else the first book) and its position there before the trade (in place)."""
    pos = universe.positions
    first = int(universe.books["book_id"].min())
    for t in trades:
        rows = pos.filter(pl.col("instrument_id") == t["instrument_id"])
        if book_id is not None:
            b = book_id
        elif rows.height:
            b = int(rows.sort(pl.col("quantity").abs(), descending=True)["book_id"][0])
        else:
            b = first
        t["book_id"] = b
        mine = rows.filter(pl.col("book_id") == b)
        t["position_before"] = float(mine["quantity"].sum()) if mine.height else 0.0


def exposure_frame(book: MarkedBook, positions: pl.DataFrame, snapshot: Any | None = None) -> Any:
    """The limits package's :class:`~riskstream.limits.exposures.ExposureFrame` of
    ``positions`` at the book's marks (market values; Euler contributions of ``snapshot``
    split over positions by quantity share when given, else zero)."""
    from riskstream.limits.exposures import ExposureFrame, allocate_to_positions
    from riskstream.limits.model import Scope

    ids = positions["instrument_id"].to_numpy().astype(np.int64)
    q = positions["quantity"].to_numpy().astype(np.float64)
    mv = np.nan_to_num(q * book.price[ids] * book.unit_value[ids])
    zero = np.zeros(len(ids))
    comp_var = comp_es = zero
    if snapshot is not None:
        comp_var = allocate_to_positions(snapshot.component_var, ids, q)
        comp_es = allocate_to_positions(snapshot.component_es, ids, q)
    labels_of = {
        int(b): (d or "", s or "", t or "")
        for b, d, s, t in book.universe.books.select(
            "book_id", "desk", "strategy", "trader"
        ).iter_rows()
    }
    lab = [labels_of.get(int(b), ("", "", "")) for b in positions["book_id"].to_list()]
    asset = book.column("asset_class")[ids].astype(str)
    return ExposureFrame(
        instrument_id=ids.astype(np.int32),
        quantity=q,
        market_value=mv,
        delta=mv,
        gamma=zero,
        vega=zero,
        component_var=np.nan_to_num(comp_var),
        component_es=np.nan_to_num(comp_es),
        component_lvar=np.nan_to_num(comp_var),
        pnl=zero,
        liquidation_days=zero,
        labels={
            Scope.DESK: np.array([x[0] for x in lab], dtype=object),
            Scope.STRATEGY: np.array([x[1] for x in lab], dtype=object),
            Scope.TRADER: np.array([x[2] for x in lab], dtype=object),
            Scope.ASSET_CLASS: asset.astype(object),
        },
        book_id=positions["book_id"].to_numpy().astype(np.int64),
    )


def positions_after(positions: pl.DataFrame, trades: list[dict[str, Any]]) -> pl.DataFrame:
    """``positions`` with the trades added (new rows for new positions)."""
    if not trades:
        return positions
    add = pl.DataFrame(
        {
            "book_id": [t["book_id"] for t in trades],
            "instrument_id": [t["instrument_id"] for t in trades],
            "quantity": [t["quantity"] for t in trades],
        },
        schema=positions.schema,
    )
    return (
        pl.concat([positions, add])
        .group_by("book_id", "instrument_id", maintain_order=True)
        .agg(pl.col("quantity").sum())
        .select(positions.columns)
    )


# ------------------------------------------------------------- risk and the whole run


def risk_steps(
    universe: Any,
    settings: Any,
    history: Any,
    day: dt.date,
    steps: list[tuple[str, list[dict[str, Any]]]],
    top_n: int = 10,
) -> tuple[list[dict[str, Any]], Any, Any]:
    """VaR, ES and Euler contributions of the book before and after each step's trades.

    One risk engine of the book (as ``riskstream risk`` builds it: the configured method,
    scenarios from the stored history); each step's trades are applied to it in turn
    (:meth:`RiskEngine.apply_trade`) and the engine refreshed, so a step's figures include
    the steps before it. Returns the rows, the first and the last snapshot.
    """
    from riskstream.cli.engine import engine_as_of

    engine, _ = engine_as_of(universe, settings.risk, history, day, settings.models)
    first = last = engine.refresh()
    rows = [_risk_row("before", first, engine, top_n)]
    for label, trades in steps:
        for t in trades:
            engine.apply_trade(int(t["book_id"]), int(t["instrument_id"]), float(t["quantity"]))
        last = engine.refresh()
        rows.append(_risk_row(f"after {label}", last, engine, top_n))
    engine.close()
    return rows, first, last


def _risk_row(label: str, snap: Any, engine: Any, top_n: int) -> dict[str, Any]:
    m = snap.measures[0]
    held = np.flatnonzero(engine.qty)
    order = held[np.argsort(-snap.component_es[held], kind="stable")][:top_n]
    return {
        "step": label,
        "confidence": m.confidence,
        "horizon_days": m.horizon_days,
        "var": m.var,
        "es": m.es,
        "component_es_by_asset_class": {
            k: v["component_es"] for k, v in snap.aggregates.get("asset_class", {}).items()
        },
        "top_contributors": [
            {
                "instrument_id": int(i),
                "symbol": str(engine.symbol[i]),
                "component_var": float(snap.component_var[i]),
                "component_es": float(snap.component_es[i]),
            }
            for i in order
        ],
    }


def gate_and_report(
    book: MarkedBook,
    settings: Any,
    history: Any,
    steps: list[tuple[str, list[dict[str, Any]]]],
    board: Any,
    limits: list[Any],
    book_id: int | None = None,
    with_risk: bool = True,
) -> dict[str, Any]:
    """Books for the trades, risk before/after each step, and the pre-trade gate."""
    universe = book.universe
    every = [t for _, ts in steps for t in ts]
    assign_books(universe, every, book_id)
    out: dict[str, Any] = {}
    first = last = None
    if with_risk:
        out["risk"], first, last = risk_steps(universe, settings, history, book.day, steps)
    before = exposure_frame(book, universe.positions, first)
    after = exposure_frame(book, positions_after(universe.positions, every), last)
    accepted, refused = pretrade_gate(
        universe, every, board, limits, after, before, settings.limits
    )
    out["accepted"] = accepted
    out["refused"] = refused
    out["expected_cost"] = float(sum(t["expected_cost"] for t in every))
    return out


def run_hedge_book(
    book: MarkedBook,
    settings: Any,
    history: Any,
    board: Any,
    limits: list[Any],
    hedges: tuple[str, ...] = ("delta", "beta", "duration"),
    index: str = "SPX",
    target_beta: float = 0.0,
    book_id: int | None = None,
    with_risk: bool = True,
) -> dict[str, Any]:
    """The whole ``hedge book`` answer: trades per hedge, figures, risk, the gate."""
    cfg = settings.portfolio
    proposal = propose_hedges(book, history, cfg, hedges, index, target_beta)
    steps = [(h, proposal.trades.get(h, [])) for h in hedges]
    out = {"as_of": book.day.isoformat(), "hedges": list(hedges), "figures": proposal.figures}
    out["trades"] = proposal.trades
    out.update(gate_and_report(book, settings, history, steps, board, limits, book_id, with_risk))
    return out


def run_optimise_book(
    book: MarkedBook,
    settings: Any,
    history: Any,
    board: Any,
    limits: list[Any],
    objective: str,
    window: int = 250,
    max_weight: float = 1.0,
    max_turnover: float | None = None,
    book_id: int | None = None,
    with_risk: bool = True,
) -> dict[str, Any]:
    """The whole ``optimise book`` answer: weights, trades, costs, risk, the gate."""
    out = optimise_book(
        book, history, objective, settings.portfolio, window, max_weight, max_turnover
    )
    out.update(
        gate_and_report(
            book,
            settings,
            history,
            [("rebalance", out["trades"])],
            board,
            limits,
            book_id,
            with_risk,
        )
    )
    return out
