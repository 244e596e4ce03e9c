"""The book's hedge proposal: delta, beta and key-rate duration (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from riskstream.construction.book import MarkedBook, price_returns, trade_rows
from riskstream.core.errors import InputError
from riskstream.portfolio.config import PortfolioConfig

BETA_MIN_OBSERVATIONS = 60  # fewer common days and a stock's beta is taken as 1 (counted)


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
        if h not in ("delta", "gamma_vega", "beta", "duration"):
            raise InputError("hedges", h, "delta, gamma_vega, beta or duration")
    inst = book.universe.instruments
    asset = book.column("asset_class")
    n = book.n
    trades: dict[str, list[dict[str, Any]]] = {}
    figures: dict[str, dict[str, Any]] = {}
    extra = np.zeros(n)  # trades proposed so far (the beta hedge sees the delta hedge's)

    if "gamma_vega" in hedges and "delta" not in hedges:
        raise InputError("hedges", "gamma_vega", "gamma_vega with delta (options move the delta)")
    if "delta" in hedges:
        opt = np.flatnonzero((asset == "option") & (book.quantity != 0))
        und = inst["underlying_id"].to_numpy()[opt].astype(np.int64)
        ok = np.isfinite(book.implied_vol[opt]) & np.isfinite(book.price[und])
        opt, und = opt[ok], und[ok]
        delta, gamma, vega = option_greeks(book, opt, und)
        q = book.quantity[opt]
        book_delta = np.bincount(und, weights=q * delta, minlength=n)
        if "gamma_vega" in hedges:
            book_gamma = np.bincount(und, weights=q * gamma, minlength=n)
            book_vega = np.bincount(und, weights=q * vega, minlength=n)
            gv_trades, gv_fig = _gamma_vega_trades(book, cfg, book_gamma, book_vega)
            trades["gamma_vega"] = gv_trades
            figures["gamma_vega"] = gv_fig
            for t in gv_trades:  # the hedge options' own delta joins the book's
                i = t["instrument_id"]
                u = int(inst["underlying_id"][i])
                d, _, _ = option_greeks(book, np.array([i]), np.array([u]))
                book_delta[u] += t["quantity"] * d[0]
                extra[i] += t["quantity"]
        hedge = greek_hedge(book_delta)
        ids = np.flatnonzero(book_delta != 0)
        trades["delta"] = trade_rows(book, ids, hedge.underlying[ids], cfg, "delta")
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
        trades["beta"] = trade_rows(book, np.array([fut]), np.array([contracts]), cfg, "beta")
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


def option_greeks(
    book: MarkedBook, opt: np.ndarray, und: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delta and gamma in units of the underlying, vega in currency per 1.00 of vol, per
    option held (Black-Scholes-Merton on stocks, Black-76 on futures, at each option's
    implied vol; American options by the European formulas at the same vol)."""
    from riskstream.pricing import black76_greeks, bsm_greeks
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = book.universe.instruments
    asset = book.column("asset_class")
    years = np.maximum(year_fraction(epoch_days(inst["expiry"])[opt], book.day), 1e-6)
    strike = inst["strike"].to_numpy().astype(np.float64)[opt]
    call = inst["right"].to_numpy()[opt] == "C"
    spot, vol, r = book.price[und], book.implied_vol[opt], np.nan_to_num(book.rate[opt])
    on_future = asset[und] == "future"
    fut = black76_greeks(spot, strike, years, r, vol, call)
    stock = bsm_greeks(spot, strike, years, r, 0.0, vol, call)
    mult = book.column("multiplier").astype(np.float64)
    per = mult[opt] / mult[und]  # units of the underlying per option
    delta = np.where(on_future, fut.delta, stock.delta) * per
    gamma = np.where(on_future, fut.gamma, stock.gamma) * per
    vega = np.where(on_future, fut.vega, stock.vega) * mult[opt]
    return delta, gamma, vega


def _gamma_vega_trades(
    book: MarkedBook, cfg: PortfolioConfig, book_gamma: np.ndarray, book_vega: np.ndarray
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per underlying with options held, two listed options on it — the nearest the money
    at the shortest expiry of at least two weeks (gamma-rich) and at the longest expiry
    (vega-rich) — traded to zero the gamma and the vega (Hull (9th ed.) §19.8's system)."""
    from riskstream.portfolio.hedging import greek_hedge

    inst = book.universe.instruments
    asset = book.column("asset_class")
    listed = np.flatnonzero((asset == "option") & np.isfinite(book.implied_vol))
    und_all = inst["underlying_id"].to_numpy()[listed].astype(np.int64)
    expiry = inst["expiry"].to_numpy()[listed]
    days = (expiry - np.datetime64(book.day)).astype("timedelta64[D]").astype(np.int64)
    money = np.abs(np.log(inst["strike"].to_numpy()[listed] / book.price[und_all]))
    pairs, unders, skipped = [], [], 0
    for u in np.flatnonzero((book_gamma != 0) | (book_vega != 0)):
        mine = np.flatnonzero((und_all == u) & (days >= 14))
        if mine.size < 2:
            skipped += 1
            continue
        short = mine[np.lexsort((money[mine], days[mine]))[0]]
        long_ = mine[np.lexsort((money[mine], -days[mine]))[0]]
        if days[short] == days[long_]:
            skipped += 1
            continue
        pairs.append((listed[short], listed[long_]))
        unders.append(u)
    if not pairs:
        return [], {"underlyings": 0, "skipped": skipped}
    ids = np.array(pairs)  # (n_underlyings, 2)
    u = np.array(unders)
    _, g, v = option_greeks(book, ids.ravel(), np.repeat(u, 2))
    d = np.zeros_like(g)
    hedge = greek_hedge(
        np.zeros(u.size), book_gamma[u], book_vega[u], d.reshape(-1, 2), g.reshape(-1, 2),
        v.reshape(-1, 2),
    )  # fmt: skip
    rows = trade_rows(book, ids.ravel(), hedge.options.ravel(), cfg, "gamma_vega")
    return rows, {
        "underlyings": int(u.size),
        "skipped": skipped,
        "gamma_before": float(np.abs(book_gamma).sum()),
        "vega_before": float(np.abs(book_vega).sum()),
    }


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
        trades += trade_rows(book, picks, hedge.quantity, cfg, "duration")
        fig["currencies"][str(c)] = {
            "bonds": int(held.size),
            "dollar_duration_before": float(book_krd.sum()),
            "dollar_duration_after": float(hedge.residual_krd.sum()),
            "hedge_bonds": [str(s) for s in book.symbols()[picks]],
        }
    return trades, fig
