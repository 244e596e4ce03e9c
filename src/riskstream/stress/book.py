"""The book a stress test revalues: every position with its marks, terms and risk factors.

A :class:`StressBook` is a frozen, columnar picture of the positions (one row per position,
arrays of shape ``(n_positions,)``) at one as-of date: quantity, price, FX rate, contract
terms, and the column of each risk factor the position moves with. The factors are the risk
engine's (:func:`riskstream.risk.factors.build_factor_space`: ``EQ:``, ``FUT:``, ``FX:``,
``IR:<CCY>:<T>Y`` and ``VOL:`` keys, in the engine's units) plus one **credit-spread factor
per sector and rating** of the bonds held, ``CS:<sector>:<rating>`` (``CS:govt`` for
government bonds), whose
move is an absolute change of the bond's spread over its curve (decimal). A scenario is a
row of moves over these factors (:mod:`riskstream.stress.scenarios`); the full revaluation
of every position under it is :mod:`riskstream.stress.revalue`.

Marks come from the caller (``riskstream stress`` marks the book exactly as ``riskstream
risk`` does: last stored closes, stored FX, implied vols off the stored surfaces, option
rates off the stored curves; :func:`riskstream.cli.engine.mark_to_history`). A position
that cannot be revalued — no price, a matured bond, a bond whose price no spread gives, an
option with no underlying price or no positive implied vol, or past expiry — is excluded
and listed with its reason, never valued at a made-up number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.core.instruments import Universe
from riskstream.risk.factors import (
    FACTOR_KINDS,
    build_factor_space,
    epoch_days,
    key_rate_table,
    year_fraction,
)

SPREAD = 3  # kind code of a credit-spread factor (after the engine's price, rate, vol)
KINDS: tuple[str, ...] = (*FACTOR_KINDS, "spread")
"""Names of the factor kind codes (``KINDS[book.kind[f]]``)."""
INVESTMENT_GRADE = ("AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-")


def credit_key(rating: str | None, sector: str | None) -> str:
    """The credit-spread factor of a bond: ``CS:govt`` for government bonds, else
    ``CS:<sector>:<rating>`` (sector without its ``corporate:`` prefix; ``NR`` unrated), so
    a shock can move one sector's spreads or one rating band's."""
    sector = sector or ""
    if sector.lower().startswith("government"):
        return "CS:govt"
    return f"CS:{sector.partition(':')[2] or sector or 'other'}:{rating or 'NR'}"


@dataclass(frozen=True)
class StressBook:
    """Positions, marks and factor columns; arrays of shape (n_positions,).

    Attributes
    ----------
    keys, kind : factor names and kind codes (0 price, 1 rate, 2 vol, 3 spread).
    book_id, instrument_id, quantity : the position.
    symbol, asset_class, desk, currency, sector, country, rating : labels (object arrays).
    multiplier, price : contract multiplier and price in the instrument's currency (bonds:
        dirty price per 100 face; options: the model value at the marks).
    fx : units of base currency per unit of the instrument's currency.
    adv, spread_bps : average daily volume (units) and typical bid-ask spread (bp of mid).
    spot_col, vol_col, ccy_col : the position's price factor (options: the underlying's),
        vol factor (options) and currency-translation factor (-1: none / base currency).
    fx_base_col, fx_quote_col : FX pairs: the factors of the pair's two currencies.
    rate_table : ndarray of shape (n_positions, n_tenors): each position's currency's
        key-rate factor columns (-1: that currency has no curve factors).
    spread_col : bonds: their ``CS:`` factor.
    und_price, und_symbol, strike, expiry_years, is_call, american, on_future, rate, dividend_yield,
    vol : option inputs (NaN elsewhere).
    coupon, maturity_years, frequency, bond_spread : bond inputs; ``bond_spread`` is the
        spread over the currency's base zero curve that reprices the bond (with no stored
        curve the base curve is zero and the spread is the bond's continuous yield).
    base_curve : dict of currency to (tenors, zero rates) at the as-of date.
    excluded : list of {symbol, book_id, reason} — positions not revalued.
    lineage : positions version, market data as-of and source.
    """

    keys: tuple[str, ...]
    kind: np.ndarray
    book_id: np.ndarray
    instrument_id: np.ndarray
    quantity: np.ndarray
    symbol: np.ndarray
    asset_class: np.ndarray
    desk: np.ndarray
    currency: np.ndarray
    sector: np.ndarray
    country: np.ndarray
    rating: np.ndarray
    multiplier: np.ndarray
    price: np.ndarray
    fx: np.ndarray
    adv: np.ndarray
    spread_bps: np.ndarray
    spot_col: np.ndarray
    vol_col: np.ndarray
    ccy_col: np.ndarray
    fx_base_col: np.ndarray
    fx_quote_col: np.ndarray
    rate_table: np.ndarray
    spread_col: np.ndarray
    und_price: np.ndarray
    und_symbol: np.ndarray
    strike: np.ndarray
    expiry_years: np.ndarray
    is_call: np.ndarray
    american: np.ndarray
    on_future: np.ndarray
    rate: np.ndarray
    dividend_yield: np.ndarray
    vol: np.ndarray
    coupon: np.ndarray
    maturity_years: np.ndarray
    frequency: np.ndarray
    bond_spread: np.ndarray
    base_curve: dict[str, tuple[np.ndarray, np.ndarray]]
    as_of: dt.date
    base_currency: str
    excluded: list[dict[str, Any]] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)

    @property
    def n_positions(self) -> int:
        return int(self.quantity.size)

    @property
    def n_factors(self) -> int:
        return len(self.keys)

    def index(self, key: str) -> int:
        """Column of factor ``key``."""
        try:
            return self.keys.index(key)
        except ValueError:
            raise InputError("factor", key, "a risk factor of the book") from None

    @property
    def value(self) -> np.ndarray:
        """Market value of each position, base currency (futures: notional)."""
        return self.quantity * self.multiplier * self.price * self.fx


def _curve_at(curves: pl.DataFrame | None, currency: str, as_of: dt.date):
    if curves is None or curves.height == 0:
        return None
    rows = curves.filter((pl.col("currency") == currency) & (pl.col("date") <= as_of))
    if rows.height == 0:
        return None
    last = rows.filter(pl.col("date") == rows["date"].max()).sort("tenor_years")
    return last["tenor_years"].to_numpy().astype(float), last["zero_rate"].to_numpy().astype(float)


def bond_cashflows(
    coupon: np.ndarray, maturity_years: np.ndarray, frequency: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cash-flow times (years) and amounts per 100 face, shape (n, n_max), zero where none.

    Coupons of ``100 c / f`` every ``1/f`` years counted back from maturity and 100 at
    maturity: the convention of :mod:`riskstream.pricing.bonds` (Fabozzi ch. 2)."""
    if coupon.size == 0:
        return np.zeros((0, 1)), np.zeros((0, 1))
    n_max = int(np.ceil(np.max(maturity_years * frequency) - 1e-9))
    k = np.arange(max(n_max, 1), dtype=np.float64)
    t = maturity_years[:, None] - k / frequency[:, None]
    alive = t > 1e-9
    cf = np.where(alive, 100.0 * coupon[:, None] / frequency[:, None], 0.0)
    cf[:, 0] += 100.0
    return np.where(alive, t, 0.0), cf


def solve_spread(
    price: np.ndarray, t: np.ndarray, cf: np.ndarray, zero: np.ndarray, iterations: int = 50
) -> np.ndarray:
    """The spread ``s`` (continuous, decimal) with :math:`\\sum_i CF_i e^{-(z(t_i)+s) t_i}
    = P`: the bond's z-spread over its curve (Hull, 10th ed., sec. 4.4 prices a bond off
    the zero curve; the z-spread is the parallel shift that reprices it). Newton's method
    (price decreasing and convex in ``s``); NaN where no spread gives ``price``."""
    s = np.full(price.shape, 0.03)
    ok = np.zeros(price.shape, dtype=bool)
    for _ in range(iterations):
        with np.errstate(all="ignore"):
            pv = cf * np.exp(-(zero + s[:, None]) * t)
            p = pv.sum(axis=1)
            dp = -(t * pv).sum(axis=1)
            step = (p - price) / dp
        s = np.where(ok, s, s - step)
        ok |= np.abs(step) < 1e-13
        if ok.all():
            break
    return np.where(ok & (price > 0) & np.isfinite(s), s, np.nan)


def build_book(
    universe: Universe,
    prices: np.ndarray,
    implied_vol: np.ndarray,
    option_rates: np.ndarray,
    as_of: dt.date,
    curves: pl.DataFrame | None = None,
    dividend_yield: float = 0.0,
    lineage: dict[str, Any] | None = None,
) -> StressBook:
    """The stress book of ``universe``'s positions marked at ``prices``.

    Parameters
    ----------
    universe : Universe
        Instruments, books, positions and ``fx_to_base``.
    prices : ndarray of shape (n_instruments,)
        Marks in each instrument's currency (bonds: dirty price per 100 face); NaN: unmarked.
    implied_vol : ndarray of shape (n_instruments,)
        Options' implied vols (annual decimal).
    option_rates : ndarray of shape (n_instruments,)
        Options' continuously compounded rates to expiry (NaN: ``0``).
    as_of : datetime.date
    curves : polars.DataFrame, optional
        Stored zero curves (``date, currency, tenor_years, zero_rate``): each bond's base
        curve; without one a bond is discounted at its own yield.
    dividend_yield : float
        Where the instrument table gives none.
    lineage : dict, optional
        Positions version, market-data source ... carried into every result.
    """
    inst = universe.instruments
    n = inst.height
    prices = np.asarray(prices, dtype=np.float64)
    if prices.shape != (n,):
        raise InputError("prices", f"shape {prices.shape}", f"({n},)")
    space = build_factor_space(inst, universe.base_currency)
    keys = list(space.keys)
    kind = list(space.kind)
    asset = np.asarray(inst["asset_class"].to_list(), dtype=object)
    sector_all = np.asarray(inst["sector"].fill_null("").to_list(), dtype=object)
    rating_all = np.asarray(inst["rating"].fill_null("").to_list(), dtype=object)
    spread_col_inst = np.full(n, -1, dtype=np.int64)
    for i in np.flatnonzero(asset == "bond"):
        key = credit_key(rating_all[i] or None, sector_all[i] or None)
        if key not in keys:
            keys.append(key)
            kind.append(SPREAD)
        spread_col_inst[i] = keys.index(key)

    pos = universe.positions.join(universe.books, on="book_id", how="left")
    iid = pos["instrument_id"].to_numpy().astype(np.int64)
    known = (iid >= 0) & (iid < n)
    excluded: list[dict[str, Any]] = []
    for r in np.flatnonzero(~known):
        excluded.append(
            {"symbol": None, "instrument_id": int(iid[r]), "reason": "unknown instrument"}
        )
    qty_all = pos["quantity"].to_numpy().astype(np.float64)
    desk_all = np.asarray(pos["desk"].fill_null("(no desk)").to_list(), dtype=object)
    book_all = pos["book_id"].to_numpy().astype(np.int64)
    rows = np.flatnonzero(known & (qty_all != 0))
    i = iid[rows]

    symbol = np.asarray(inst["symbol"].to_list(), dtype=object)
    currency = np.asarray(inst["currency"].to_list(), dtype=object)
    fx_map = universe.fx_to_base
    fx_inst = np.array([fx_map.get(c, np.nan) for c in currency], dtype=np.float64)
    mult = inst["multiplier"].to_numpy().astype(np.float64)
    und_inst = inst["underlying_id"].fill_null(-1).to_numpy().astype(np.int64)
    strike = inst["strike"].fill_null(np.nan).to_numpy().astype(np.float64)
    is_call = (inst["right"] == "C").fill_null(False).to_numpy()
    american = (
        (inst["exercise"] == "american").fill_null(False).to_numpy()
        if "exercise" in inst.columns
        else np.zeros(n, bool)
    )
    dy = inst["dividend_yield"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    dy = np.where(np.isfinite(dy), dy, dividend_yield)
    expiry = year_fraction(epoch_days(inst["expiry"]), as_of)
    maturity = year_fraction(epoch_days(inst["maturity"]), as_of)
    coupon = inst["coupon"].fill_null(0.0).to_numpy().astype(np.float64)
    freq = inst["coupon_frequency"].fill_null(1).to_numpy().astype(np.float64)
    iv = np.asarray(implied_vol, dtype=np.float64)
    orate = np.nan_to_num(np.asarray(option_rates, dtype=np.float64), nan=0.0)

    # why a position cannot be revalued
    reason = np.full(rows.size, "", dtype=object)
    ac = asset[i]
    px = prices[i]
    is_opt = ac == "option"
    reason[~np.isfinite(fx_inst[i])] = "no FX rate to the base currency"
    reason[~is_opt & ~(px > 0) & (reason == "")] = "missing price"
    und = und_inst[i]
    und_px = np.where(und >= 0, prices[np.maximum(und, 0)], np.nan)
    opt_bad = is_opt & (reason == "")
    reason[opt_bad & ~(und_px > 0)] = "missing underlying price"
    reason[opt_bad & (reason == "") & ~(expiry[i] > 0)] = "expired option"
    reason[opt_bad & (reason == "") & ~(iv[i] > 0)] = "missing implied volatility"
    bond = (ac == "bond") & (reason == "")
    reason[bond & ~(maturity[i] > 0)] = "matured bond"

    # bonds: cash flows and the spread over the base curve that reprices each
    bond_spread = np.full(rows.size, np.nan)
    base_curve: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    b = np.flatnonzero((ac == "bond") & (reason == ""))
    if b.size:
        t, cf = bond_cashflows(coupon[i[b]], maturity[i[b]], freq[i[b]])
        zero = np.zeros_like(t)
        for c in np.unique(currency[i[b]]):
            curve = _curve_at(curves, str(c), as_of)
            if curve is None:
                continue
            base_curve[str(c)] = curve
            sel = currency[i[b]] == c
            zero[sel] = np.interp(t[sel], curve[0], curve[1])
        s = solve_spread(px[b], t, cf, zero)
        bond_spread[b] = s
        reason[b[~np.isfinite(s)]] = "bond price not reproduced by any spread"

    price = px.copy()
    # options are valued at the model at the marks (a zero move is a zero P&L)
    o = np.flatnonzero(is_opt & (reason == ""))
    if o.size:
        from riskstream.stress.revalue import option_values

        price[o] = option_values(
            und_px[o],
            strike[i[o]],
            expiry[i[o]],
            orate[i[o]],
            dy[np.maximum(und[o], 0)],
            iv[i[o]],
            is_call[i[o]],
            american[i[o]],
            asset[np.maximum(und[o], 0)] == "future",
        )

    for r in np.flatnonzero(reason != ""):
        excluded.append(
            {
                "symbol": str(symbol[i[r]]),
                "book_id": int(book_all[rows[r]]),
                "instrument_id": int(i[r]),
                "reason": str(reason[r]),
            }
        )
    keep = reason == ""
    rows, i = rows[keep], i[keep]

    currencies = sorted(set(currency.tolist()))
    table = key_rate_table(space, currencies)
    ccy_code = np.searchsorted(currencies, currency[i])
    und_i = und_inst[i]
    und_ok = und_i >= 0
    return StressBook(
        keys=tuple(keys),
        kind=np.asarray(kind, dtype=np.int8),
        book_id=book_all[rows],
        instrument_id=i,
        quantity=qty_all[rows],
        symbol=symbol[i],
        asset_class=asset[i],
        desk=desk_all[rows],
        currency=currency[i],
        sector=sector_all[i],
        country=np.asarray(inst["country"].fill_null("").to_list(), dtype=object)[i],
        rating=rating_all[i],
        multiplier=mult[i],
        price=price[keep],
        fx=fx_inst[i],
        adv=inst["adv"].to_numpy().astype(np.float64)[i],
        spread_bps=inst["spread_bps"].to_numpy().astype(np.float64)[i],
        spot_col=space.spot_factor[i].astype(np.int64),
        vol_col=space.vol_factor[i].astype(np.int64),
        ccy_col=space.currency_factor[i].astype(np.int64),
        fx_base_col=space.fx_base_factor[i].astype(np.int64),
        fx_quote_col=space.fx_quote_factor[i].astype(np.int64),
        rate_table=table[ccy_code] if table.size else np.full((i.size, 0), -1),
        spread_col=spread_col_inst[i],
        und_price=np.where(und_ok, prices[np.maximum(und_i, 0)], np.nan),
        und_symbol=np.where(und_ok, symbol[np.maximum(und_i, 0)], ""),
        strike=strike[i],
        expiry_years=expiry[i],
        is_call=is_call[i],
        american=american[i],
        on_future=und_ok & (asset[np.maximum(und_i, 0)] == "future"),
        rate=orate[i],
        dividend_yield=np.where(und_ok, dy[np.maximum(und_i, 0)], dy[i]),
        vol=iv[i],
        coupon=coupon[i],
        maturity_years=maturity[i],
        frequency=freq[i],
        bond_spread=bond_spread[keep],
        base_curve=base_curve,
        as_of=as_of,
        base_currency=universe.base_currency,
        excluded=excluded,
        lineage=dict(lineage or {}),
    )
