"""The instruments of each asset class in the reference universe, built column-wise.

Each builder returns one polars frame per asset class with the columns of
:data:`~riskstream.core.instruments.INSTRUMENT_SCHEMA` that apply to it, plus working
columns prefixed ``_`` that :func:`riskstream.feeds.universe.generate_universe` uses to build
the portfolio (``_strategy``: the strategy that trades it; ``_hold``: probability it is held;
``_long``: probability a position is long; ``_notional``: median target notional in USD;
``_vol``: model volatility; ``_mcap``: market cap in USD). Conventions are documented in
:mod:`riskstream.feeds.universe`; market data tables are in :mod:`riskstream.feeds.markets`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from riskstream.feeds.exposure import years_between
from riskstream.feeds.markets import (
    ALL_RATINGS,
    CREDIT_SPREAD_AAA,
    CREDIT_SPREAD_B_MINUS,
    CURRENCIES,
    EQUITY_MARKETS,
    FUTURE_ROOTS,
    FX_PAIRS,
    RATINGS,
    SECTORS,
    SOVEREIGNS,
    usd_per_unit,
    zero_rate,
)
from riskstream.pricing import bond_price_from_yield, bsm_price

OPTION_EXPIRY_MONTHS = np.array([1, 2, 3, 6, 9, 12, 18, 24])
OPTION_MONEYNESS = np.round(np.arange(0.80, 1.2001, 0.05), 2)
_AMER, _EUR, _APAC = "Americas Long/Short", "Europe Long/Short", "Asia-Pacific Long/Short"
_EQUITY_STRATEGY = {
    "US": _AMER, "CA": _AMER, "GB": _EUR, "DE": _EUR, "FR": _EUR, "NL": _EUR, "CH": _EUR,
    "JP": _APAC, "AU": _APAC, "HK": _APAC,
}  # fmt: skip
_OPTION_EXCHANGE = {"US": "XCBO", "CA": "XMOD", "JP": "XOSE", "HK": "XHKF", "AU": "XASX"}
_MONTH_CODES = np.array(list("FGHJKMNQUVXZ"))
FUTURE_LISTED_YEARS = 10
"""Futures are listed out to 10 years (CME lists WTI monthly about that far)."""
MAX_FUTURES = int((FUTURE_LISTED_YEARS * 12 // FUTURE_ROOTS["cycle_months"]).sum())
"""Most futures a universe holds; a larger universe has more equities instead."""


def _frame(columns: dict[str, Any]) -> pl.DataFrame:
    """A class's instrument rows; date columns given as numpy datetime64[D]."""
    out = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.dtype.kind == "M":
            out[name] = pl.Series(name, values.astype("datetime64[D]")).cast(pl.Date)
        else:
            out[name] = values
    return pl.DataFrame(out)


def _third_friday(months: np.ndarray) -> np.ndarray:
    """Third Friday of each month (the standard equity-derivative expiry), datetime64[D]."""
    first = np.asarray(months).astype("datetime64[M]").astype("datetime64[D]")
    weekday = (first.astype(np.int64) + 3) % 7  # Monday = 0; 1970-01-01 was a Thursday
    return first + ((4 - weekday) % 7 + 14).astype("timedelta64[D]")


def _round_to(x: np.ndarray, step: np.ndarray | float) -> np.ndarray:
    return np.maximum(np.round(x / step), 1.0) * step


def _nice_step(x: np.ndarray) -> np.ndarray:
    """Largest of 1, 2, 2.5, 5 × 10^k not above ``x`` (listed strike spacing)."""
    scale = 10.0 ** np.floor(np.log10(x))
    f = x / scale
    return np.select([f >= 5, f >= 2.5, f >= 2], [5.0, 2.5, 2.0], 1.0) * scale


def _codes(rng: np.random.Generator, n: int, letters: int = 4) -> np.ndarray:
    """``n`` distinct random upper-case codes of ``letters`` letters."""
    if n > 26**letters // 2:
        letters += 1
    draw = rng.choice(26**letters, size=n, replace=False)
    digits = (draw[:, None] // 26 ** np.arange(letters - 1, -1, -1)) % 26
    return (digits + ord("A")).astype(np.uint8).view(f"S{letters}").ravel().astype(str)


def _fmt_number(x: pl.Expr) -> pl.Expr:
    """A price as text without a trailing ``.0`` (strikes, coupons in symbols)."""
    return (
        pl.when(x == x.round(0))
        .then(x.cast(pl.Int64).cast(pl.String))
        .otherwise(x.round(4).cast(pl.String))
    )


def _distinct_per_group(group: np.ndarray, days: np.ndarray) -> np.ndarray:
    """``days`` nudged later where needed so no two of the same ``group`` coincide (one
    issuer has one bond per maturity date)."""
    order = np.lexsort((days, group))
    g = np.unique(group[order], return_inverse=True)[1].astype(np.int64)
    k = np.arange(len(days))
    big = 10**9  # larger than any span of days, so groups never interact
    shifted = days[order] + g * big - k
    out = np.empty_like(days)
    out[order] = np.maximum.accumulate(shifted) + k - g * big
    return out


def _usd(currencies: np.ndarray) -> np.ndarray:
    rates = usd_per_unit()
    codes, inverse = np.unique(currencies, return_inverse=True)
    return np.array([rates[c] for c in codes])[inverse]


def equities(rng: np.random.Generator, n: int) -> pl.DataFrame:
    markets, sectors = EQUITY_MARKETS, SECTORS
    weights = markets["weight"].to_numpy()
    market = np.sort(rng.choice(markets.height, size=n, p=weights / weights.sum()))
    sector_w = sectors["weight"].to_numpy()
    sector = rng.choice(sectors.height, size=n, p=sector_w / sector_w.sum())
    country = markets["country"].to_numpy()[market]
    currency = markets["currency"].to_numpy()[market]
    # Market capitalisation (USD): log-normal, median 8bn, from 300m to 3tn.
    mcap = np.exp(rng.normal(np.log(8e9), 1.3, n)).clip(3e8, 3e12)
    price = markets["median_price"].to_numpy()[market] * np.exp(rng.normal(0.0, 0.7, n))
    tick = 10.0 ** (np.floor(np.log10(price)) - 3)  # about 1/1000 of the price
    tick = np.where(np.isin(currency, ["USD", "CAD"]), 0.01, tick)
    tick = np.where(currency == "JPY", np.maximum(tick, 1.0), tick)
    price = _round_to(price, tick)
    lot = markets["lot"].to_numpy()[market].astype(np.float64)
    hk = country == "HK"
    lot[hk] = rng.choice([100.0, 200.0, 400.0, 500.0, 1000.0, 2000.0], size=hk.sum())
    # Liquidity: daily turnover ~0.6 % of market cap; quoted spread falls with size
    # (large caps ~2-3 bps, small caps tens of bps), never below one tick.
    adv = mcap * 0.006 * np.exp(rng.normal(0.0, 0.5, n)) / (price * _usd(currency))
    spread = (2.0 + 30.0 * (mcap / 1e9) ** -0.5) * np.exp(rng.normal(0.0, 0.25, n))
    spread = np.maximum(spread, 1e4 * tick / price)
    vol = sectors["vol"].to_numpy()[sector] * (mcap / 1e10) ** -0.08
    vol = vol * np.exp(rng.normal(0.0, 0.15, n))
    numeric = markets["numeric"].to_numpy()[market]
    code = np.empty(n, dtype=object)
    code[~numeric] = _codes(rng, int((~numeric).sum()))
    for c, start in (("JP", 1300), ("HK", 1)):  # Tokyo and Hong Kong list by number
        sel = country == c
        space = max(8700, 2 * int(sel.sum()))
        code[sel] = [f"{k:04d}" for k in rng.choice(space, size=sel.sum(), replace=False) + start]
    symbol = code.astype(str) + " " + markets["suffix"].to_numpy()[market]
    return _frame(
        {
            "symbol": symbol,
            "asset_class": "equity",
            "currency": currency,
            "exchange": markets["exchange"].to_numpy()[market],
            "country": country,
            "sector": sectors["sector"].to_numpy()[sector],
            "multiplier": 1.0,
            "tick_size": tick,
            "lot_size": lot,
            "ref_price": price,
            "adv": adv,
            "spread_bps": spread,
            "_vol": vol,
            "_mcap": mcap,
            "_strategy": np.array([_EQUITY_STRATEGY[c] for c in country]),
            "_hold": np.full(n, 0.6),
            # The reference fund is a balanced multi-asset portfolio: its equity book is
            # long-biased (net long about 80% of its gross, like a 60/40 fund's equity
            # sleeve), so a market-wide sell-off costs it real money.
            "_long": np.full(n, 0.9),
            "_notional": 1e7 * (mcap / 1e10) ** 0.2,
        }
    )


def futures(n: int, as_of: dt.date) -> pl.DataFrame:
    roots = FUTURE_ROOTS
    cycle = roots["cycle_months"].to_numpy()
    weight = np.where(cycle == 1, 3.0, 1.0)  # monthly curves list more expiries
    cap = FUTURE_LISTED_YEARS * 12 // cycle
    if n > cap.sum():
        raise ValueError(f"at most {cap.sum()} futures are listed; asked for {n}")
    count = np.zeros(roots.height, dtype=np.int64)
    while (left := n - count.sum()) > 0:  # share by weight among roots not yet full
        open_ = count < cap
        share = np.minimum(np.floor(left * weight * open_ / weight[open_].sum()), cap - count)
        if share.sum() == 0:  # a few left: one more each to the first roots (priority order)
            share = np.zeros_like(count)
            share[np.flatnonzero(open_)[:left]] = 1
        count += share.astype(np.int64)
    root_idx = np.repeat(np.arange(roots.height), count)
    j = np.concatenate([np.arange(c) for c in count])  # expiry ordinal on its curve
    month0 = np.datetime64(as_of, "M").astype(np.int64)
    # First listed month: the next month on the cycle (Mar/Jun/Sep/Dec for quarterlies)
    # whose expiry is still ahead.
    first = np.empty(roots.height, dtype=np.int64)
    for i, cyc in enumerate(cycle):
        m = month0
        while (m % 12) % cyc != (2 if cyc == 3 else 0) or _third_friday(np.array([m]))[
            0
        ] <= np.datetime64(as_of, "D"):
            m += 1
        first[i] = m
    months = first[root_idx] + j * cycle[root_idx]
    expiry = _third_friday(months)
    T = years_between(as_of, expiry)
    r = roots.to_dict(as_series=False)
    pick = {k: np.asarray(v)[root_idx] for k, v in r.items()}
    tick = pick["tick_size"].astype(np.float64)
    price = _round_to(pick["level"] * np.exp(pick["carry"] * T), tick)
    decay = np.where(pick["cycle_months"] == 3, 0.8, 0.25)  # liquidity sits in the front
    adv = np.maximum(pick["adv"] * np.exp(-decay * j), 1.0)
    spread = np.maximum(pick["spread_bps"] * (1.0 + 0.5 * j**0.7), 1e4 * tick / price)
    year = 1970 + months // 12
    symbol = pick["root"] + _MONTH_CODES[months % 12] + np.char.zfill((year % 100).astype(str), 2)
    kind = pick["kind"]
    strategy = np.where(kind == "index", "Index Futures", np.char.capitalize(pick["group"]))
    return _frame(
        {
            "symbol": symbol,
            "asset_class": "future",
            "currency": pick["currency"],
            "exchange": pick["exchange"],
            "country": pick["country"],
            "sector": kind + ":" + pick["underlying"],
            "multiplier": pick["multiplier"].astype(np.float64),
            "tick_size": tick,
            "lot_size": 1.0,
            "ref_price": price,
            "adv": adv,
            "spread_bps": spread,
            "expiry": expiry,
            "_vol": pick["vol"],
            "_root": pick["root"],
            "_strategy": strategy,
            "_hold": 0.7 * np.exp(-0.3 * j),
            # Index futures are a long beta overlay; commodity futures go either way.
            "_long": np.where(pick["kind"] == "index", 0.85, 0.5),
            "_notional": np.where(pick["kind"] == "index", 2.5e7, 8e6),
        }
    )


def options(n: int, equities: pl.DataFrame, futures: pl.DataFrame, as_of: dt.date):
    n_exp, n_mny = len(OPTION_EXPIRY_MONTHS), len(OPTION_MONEYNESS)
    chain = n_exp * n_mny * 2
    index_roots = [
        root
        for root in FUTURE_ROOTS.filter(pl.col("kind") == "index")["root"]
        if root in set(futures["_root"])
    ]
    fut_root = futures["_root"].to_numpy()
    fut_expiry = futures["expiry"].to_numpy().astype("datetime64[D]")
    last_future = np.array([fut_expiry[fut_root == root].max() for root in index_roots])
    month0 = np.datetime64(as_of, "M").astype(np.int64)
    grid_expiry = _third_friday(month0 + OPTION_EXPIRY_MONTHS)
    n_chains = -(-n // chain)
    while True:
        n_index = min(len(index_roots), round(0.3 * n_chains))
        n_stock = min(n_chains - n_index, equities.height)
        n_index = min(len(index_roots), n_chains - n_stock)
        # Enumerate every (chain, expiry, moneyness, right); an index option is listed only
        # up to the last listed future of its index.
        c, e, m, call = (
            a.ravel() for a in np.indices((n_stock + n_index, n_exp, n_mny, 2), dtype=np.int64)
        )
        root_k = np.maximum(c - n_stock, 0)
        listed = (c < n_stock) | (grid_expiry[e] <= last_future[root_k] if n_index else True)
        if listed.sum() >= n or n_stock + n_index >= equities.height + len(index_roots):
            break
        n_chains += 1
    c, e, m, call = c[listed], e[listed], m[listed], call[listed]
    # Keep the n most traded (nearest the money, then nearest expiry) so a small universe
    # still gets whole at-the-money strips.
    priority = np.abs(m - n_mny // 2) * 2 * n_exp + e * 2 + call
    keep = np.sort(np.lexsort((c, priority))[:n])
    c, e, m, call = c[keep], e[keep], m[keep], call[keep].astype(bool)
    is_index = c >= n_stock
    expiry = grid_expiry[e]
    # Underlying: the largest stocks by market cap; for an index, the first future of its
    # root expiring on or after the option (serial and quarterly options on one future).
    stock_ids = np.argsort(-equities["_mcap"].to_numpy(), kind="stable")[:n_stock]
    under = np.where(is_index, -1, stock_ids[np.minimum(c, max(n_stock - 1, 0))])
    for k, root in enumerate(index_roots[:n_index]):
        sel = is_index & (c == n_stock + k)
        ids = np.flatnonzero(fut_root == root)
        under[sel] = ids[np.searchsorted(fut_expiry[ids], expiry[sel])] + equities.height
    und = pl.concat([equities, futures], how="diagonal_relaxed")[under]
    S = und["ref_price"].to_numpy()
    T = years_between(as_of, expiry)
    step = np.where(is_index, und["tick_size"].to_numpy(), 0.0)
    step = np.maximum(_nice_step(0.025 * S), step)
    K = np.maximum(np.round(OPTION_MONEYNESS[m] * S / step), 1.0) * step
    # Implied volatility: at-the-money level rising gently with maturity, a downward skew in
    # log-moneyness per sqrt(T) (steeper for indices) and some smile curvature.
    atm = und["_vol"].to_numpy() * (1.0 + 0.08 * (np.sqrt(T) - 0.5))
    x = np.log(K / S) / np.sqrt(T)
    skew = np.where(is_index, 0.35, 0.20)
    sigma = np.clip(atm * (1.0 - skew * x + 0.1 * x * x), 0.5 * atm, 3.0 * atm)
    currency = und["currency"].to_numpy()
    r = zero_rate(currency, T)
    q = np.where(is_index, r, 0.0)  # Black-76 is BSM with q = r; no dividends on stocks
    tick = np.where(is_index, und["tick_size"].to_numpy(), 0.01)
    price = _round_to(bsm_price(S, K, T, r, q, sigma, call), tick)
    mult = np.where(is_index, und["multiplier"].to_numpy(), 100.0)
    # Volume concentrates at the money and in the front months; spreads are a few percent
    # of premium, at least one tick (deep out-of-the-money options trade at the minimum).
    w = np.exp(-0.5 * (np.log(OPTION_MONEYNESS[m]) / 0.08) ** 2 - T / 0.5)
    und_adv = np.where(is_index, und["adv"].to_numpy(), und["adv"].to_numpy() / 100.0)
    adv = np.maximum(0.05 * und_adv * w, 1.0)
    spread = 1e4 * np.maximum(tick, price * 0.015 * (1 + und["spread_bps"].to_numpy() / 20))
    spread = spread / price
    country = und["country"].to_numpy()
    exchange = np.array([_OPTION_EXCHANGE.get(ct, "XEUR") for ct in country])
    strike_txt = pl.select(_fmt_number(pl.lit(pl.Series(K)))).to_series().to_numpy()
    ymd = pl.Series(expiry.astype("datetime64[D]")).cast(pl.Date).dt.strftime("%y%m%d").to_numpy()
    symbol = und["symbol"].to_numpy() + " " + ymd + " " + np.where(call, "C", "P") + strike_txt
    return _frame(
        {
            "symbol": symbol,
            "asset_class": "option",
            "currency": currency,
            "exchange": np.where(is_index, und["exchange"].to_numpy(), exchange),
            "country": country,
            "sector": und["sector"].to_numpy(),
            "multiplier": mult,
            "tick_size": tick,
            "lot_size": 1.0,
            "ref_price": price,
            "adv": adv,
            "spread_bps": spread,
            "underlying_id": under.astype(np.int32),
            "expiry": expiry,
            "strike": K,
            "right": np.where(call, "C", "P"),
            "exercise": np.where(is_index, "european", "american"),
            "_vol": sigma,
            "_strategy": np.where(is_index, "Index Volatility", "Single-Stock Volatility"),
            "_hold": 0.6 * np.exp(-0.5 * (np.log(OPTION_MONEYNESS[m]) / 0.07) ** 2),
            "_long": np.full(n, 0.5),
            "_notional": np.full(n, 3e6),
        }
    )


def fx(n: int, as_of: dt.date) -> pl.DataFrame:
    pairs = FX_PAIRS
    n_pairs = pairs.height
    i = np.arange(n)
    pair = i % n_pairs
    ordinal = i // n_pairs  # 0 = spot, k = k-th forward date of the pair
    usd = usd_per_unit()
    base, quote = pairs["base"].to_numpy()[pair], pairs["quote"].to_numpy()[pair]
    spot = np.array([usd[b] / usd[q] for b, q in zip(base, quote, strict=True)])
    # Forward value dates: business-day tenors geometrically spaced from 1 week to 2 years
    # (the standard 1W .. 2Y points and the broken dates a book accumulates between them).
    n_fwd = max(int(ordinal.max()), 1)
    grid = np.round(np.geomspace(5, 520, n_fwd)) - np.arange(n_fwd)
    bdays = np.maximum.accumulate(grid) + np.arange(n_fwd)  # strictly increasing
    spot_date = np.busday_offset(np.datetime64(as_of, "D"), 2, roll="forward")  # T+2
    fwd_dates = np.busday_offset(spot_date, bdays.astype(np.int64), roll="forward")
    is_fwd = ordinal > 0
    expiry = np.where(is_fwd, fwd_dates[np.maximum(ordinal - 1, 0)], np.datetime64("NaT"))
    T = np.where(is_fwd, years_between(as_of, expiry), 0.0)
    # Covered interest parity: F = S exp((r_quote - r_base) T).
    fwd = spot * np.exp((zero_rate(quote, T) - zero_rate(base, T)) * T)
    tick = pairs["tick_size"].to_numpy()[pair]
    price = _round_to(np.where(is_fwd, fwd, spot), tick)
    spread = pairs["spread_bps"].to_numpy()[pair] * (1.0 + 0.5 * np.sqrt(T))
    adv = pairs["adv"].to_numpy()[pair] * np.where(is_fwd, 0.05 * np.exp(-T), 1.0)
    country_of = dict(CURRENCIES.select("currency", "country").iter_rows())
    other = np.where(base == "USD", quote, base)
    group = pairs["group"].to_numpy()[pair]
    date_txt = pl.Series(expiry.astype("datetime64[D]")).cast(pl.Date).dt.strftime(" %Y%m%d")
    symbol = base + quote + date_txt.fill_null("").to_numpy()
    return _frame(
        {
            "symbol": symbol,
            "asset_class": "fx",
            "currency": quote,
            "exchange": "OTC",
            "country": np.array([country_of[c] for c in other]),
            "sector": "fx:" + group,
            "multiplier": 1.0,
            "tick_size": tick,
            "lot_size": 1000.0,
            "ref_price": price,
            "adv": adv,
            "spread_bps": spread,
            "expiry": expiry,
            "base_currency": base,
            "_strategy": np.where(group == "G10", "G10 FX", "EM FX"),
            "_hold": np.where(is_fwd, 0.5, 0.8),
            "_long": np.full(n, 0.5),
            "_notional": np.full(n, 15e6),
        }
    )


def bonds(rng: np.random.Generator, n: int, equities: pl.DataFrame, as_of: dt.date):
    n_gov = max(1, round(0.35 * n))
    n_corp = n - n_gov
    sov = SOVEREIGNS
    w = sov["weight"].to_numpy()
    gi = np.sort(rng.choice(sov.height, size=n_gov, p=w / w.sum()))
    gov_tenor = rng.choice([2.0, 5.0, 10.0, 30.0], size=n_gov, p=[0.3, 0.3, 0.25, 0.15])
    gov_years = gov_tenor * rng.uniform(0.8, 1.0, n_gov)  # on-the-run and recent issues
    # Corporate issuers are the listed companies, larger ones more often, rated by size.
    mcap = equities["_mcap"].to_numpy()
    p = np.sqrt(mcap) / np.sqrt(mcap).sum()
    issuer = np.sort(rng.choice(equities.height, size=n_corp, p=p))
    score = 7.0 - 2.0 * np.log10(mcap[issuer] / 1e10) + rng.normal(0.0, 1.5, n_corp)
    notch = np.clip(np.round(score), 0, len(ALL_RATINGS) - 1).astype(int)
    corp_years = rng.choice([2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0], size=n_corp)
    corp_years = corp_years * rng.uniform(0.5, 1.0, n_corp)
    eq_ccy = equities["currency"].to_numpy()[issuer]
    corp_ccy = np.where(np.isin(eq_ccy, ["USD", "EUR", "GBP"]), eq_ccy, "USD")
    is_gov = np.arange(n) < n_gov
    currency = np.concatenate([sov["currency"].to_numpy()[gi], corp_ccy])
    years = np.concatenate([gov_years, corp_years])
    name = np.concatenate(
        [
            sov["issuer"].to_numpy()[gi],
            np.char.partition(equities["symbol"].to_numpy()[issuer].astype(str), " ")[:, 0],
        ]
    )
    days = _distinct_per_group(name, np.round(years * 365.25).astype(np.int64))
    maturity = np.datetime64(as_of, "D") + days.astype("timedelta64[D]")
    T = years_between(as_of, maturity)
    freq = np.concatenate(
        [sov["coupon_frequency"].to_numpy()[gi], np.where(corp_ccy == "USD", 2, 1)]
    )
    # Credit spread: log-linear from AAA to B- across notches, wider at long maturities.
    frac = notch / (len(ALL_RATINGS) - 1)
    corp_spread = (
        np.exp(np.log(CREDIT_SPREAD_AAA) + frac * np.log(CREDIT_SPREAD_B_MINUS / CREDIT_SPREAD_AAA))
        * (np.maximum(corp_years, 1.0) / 5.0) ** 0.25
    )
    spread = np.concatenate([sov["spread"].to_numpy()[gi], corp_spread])
    y_cont = zero_rate(currency, T) + spread
    y = freq * np.expm1(y_cont / freq)  # the same rate compounded `freq` times a year
    # Coupons were set near the yield at issue, in 1/8 %: seasoned bonds trade off par.
    coupon = np.clip(np.round((y + rng.normal(0.0, 0.006, n)) * 800) / 800, 0.001, 0.5)
    tick = np.where(currency == "USD", 1 / 128, 0.001)
    price = _round_to(bond_price_from_yield(y, coupon, T, freq), tick)
    usd = _usd(currency)
    adv_usd = np.concatenate(
        [
            sov["adv_usd"].to_numpy()[gi] * np.exp(rng.normal(0.0, 0.5, n_gov)),
            5e6 * (mcap[issuer] / 1e10) ** 0.4 * np.exp(rng.normal(0.0, 0.6, n_corp)),
        ]
    )
    adv = adv_usd / (1000.0 * usd)  # units of 1,000 face
    hy = notch >= len(RATINGS)
    base_spread = np.concatenate([sov["spread_bps"].to_numpy()[gi], np.where(hy, 60.0, 20.0)])
    spread_bps = base_spread * (1.0 + T / 15.0) * np.exp(rng.normal(0.0, 0.2, n))
    spread_bps = np.maximum(spread_bps, 1e4 * tick / price)
    cpn_txt = pl.select(_fmt_number(pl.lit(pl.Series(coupon * 100)))).to_series().to_numpy()
    mat_txt = pl.Series(maturity).cast(pl.Date).dt.strftime("%m/%d/%y").to_numpy()
    developed = ~np.isin(sov["country"].to_numpy()[gi], ["MX", "BR", "ZA"])
    return _frame(
        {
            "symbol": name + " " + cpn_txt + " " + mat_txt,
            "asset_class": "bond",
            "currency": currency,
            "exchange": "OTC",
            "country": np.concatenate(
                [sov["country"].to_numpy()[gi], equities["country"].to_numpy()[issuer]]
            ),
            "sector": np.concatenate(
                [
                    np.full(n_gov, "government"),
                    "corporate:" + equities["sector"].to_numpy()[issuer].astype(str),
                ]
            ),
            "multiplier": 10.0,
            "tick_size": tick,
            "lot_size": 1.0,
            "ref_price": price,
            "adv": adv,
            "spread_bps": spread_bps,
            "coupon": coupon,
            "maturity": maturity,
            "coupon_frequency": freq,
            "rating": np.concatenate([sov["rating"].to_numpy()[gi], np.array(ALL_RATINGS)[notch]]),
            "_strategy": np.concatenate(
                [
                    np.where(developed, "Developed Markets Rates", "EM Rates"),
                    np.where(hy, "High Yield", "Investment Grade"),
                ]
            ),
            "_hold": np.full(n, 0.5),
            "_long": np.where(is_gov, 0.6, 0.75),
            "_notional": np.where(is_gov, 15e6, 4e6),
        }
    )
