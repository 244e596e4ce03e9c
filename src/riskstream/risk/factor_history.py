"""The daily history of a book's own risk factors, from stored market history.

The scenario generators of :mod:`riskstream.models` are fitted on daily *factor moves*
(shape (n_moves, n_factors), oldest first), in their units: price factors as log returns,
rate factors as absolute zero-rate changes (decimal), vol factors as log changes. This
module builds those moves from what the history store holds (:class:`MarketHistoryFrames`:
the ``prices``, ``curves`` and ``vols`` tables as polars frames), one series per factor of a
:class:`~riskstream.risk.factors.FactorSpace`. It is pure: it never reads the store itself.

Where each factor comes from
----------------------------
* ``EQ:<symbol>`` — the daily closes of ``<symbol>``.
* ``FUT:<key>`` — the closes of a price series named ``<key>`` (or the part after
  ``index:`` / ``commodity:``, e.g. ``SPX``) when one is stored; else the futures contracts
  that map to the factor, *chained*: on each date the log return of the nearest-expiry
  contract with closes on both that date and the previous calendar date, so no return
  ever spans two contracts at a roll (the back-adjusted continuous contract of practice).
* ``FX:<CCY>`` — the value of one unit of the currency in the base currency, from the stored
  FX pair closes by the shortest chain of quoted pairs (:func:`riskstream.core.fx.
  rate_history_to_base`: direct, inverted or a cross rate such as JPY through EUR).
* ``IR:<CCY>:<T>Y`` — the currency's zero curve on each date, interpolated linearly in zero
  rate at the key tenor and flat beyond the first and last stored tenor (the convention of
  :class:`riskstream.pricing.curves.ZeroCurve`); the move is the absolute change.
* ``VOL:<spot key>`` — the underlying's at-the-money implied vol at a fixed 30-day expiry
  (:data:`REFERENCE_VOL_EXPIRY_YEARS`): per stored expiry, the vol at moneyness 1
  interpolated linearly in moneyness (flat beyond the stored strikes); across expiries,
  total implied variance :math:`\\sigma^2 T` interpolated linearly in ``T`` (the usual
  no-calendar-arbitrage interpolation), flat in vol beyond the first and last expiry. The
  move is the log change. A constant-maturity point, because a fixed option's own vol
  drifts along the term structure as it ages; the engine applies the log move to every
  option's own vol (:mod:`riskstream.risk.factors`).

The calendar and missing days
-----------------------------
The moves are dated on one calendar: every date on which at least one of the book's series
has an observation, up to ``as_of``. A series that has no observation on a calendar date
inside its life (a holiday of its own market) gets a zero move that day and the whole move
since its last observation on the next date it has one — prices are never invented, and a
series' moves over any stretch still sum to its actual change. Such days are counted per
factor in the lineage (``gaps``). Before a series' first observation (or after its last) it
has *no* move; those days are filled by a proxy or are an error (below).

Proxies
-------
A factor whose series does not cover the whole window (a short history, a late listing, or
no stored data at all) is filled, on its missing days only, with ``beta x`` a proxy move:

* an equity: the equal-weighted move of the other equities of its ``sector`` (instrument
  table) with full history; else the market, the equal-weighted move of every equity with
  full history; else an index future factor with full history;
* a future: the equal-weighted futures factors of the same kind (``index:``,
  ``commodity:`` ...) with full history; else the equity market;
* a key rate: the same tenor of the base currency's curve (a currency with no curve on
  those dates); a key tenor beyond the curve's stored tenors is its nearest stored tenor
  (flat extrapolation, listed with beta 1);
* an implied vol: the vol factor with full history of the underlying with the most options
  in the instrument table (ties: first in factor order).

``beta`` is the OLS slope of the factor's own moves on the proxy's, over the days both
have, when there are at least :data:`MIN_OVERLAP_DAYS`; otherwise 1 (and the lineage says
so). The proxied days carry only the systematic part (no idiosyncratic noise is added), so
a proxied factor's own risk is understated on them; the lineage lists every proxy with its
beta, the days filled and why. A currency has no proxy: an FX factor with missing days, or
any factor with missing days and no proxy, is an :class:`InputError` naming it.

The window
----------
``window_days`` is the number of most recent daily moves the scenario model is fitted on;
historical simulation takes the last ``window_days`` overlapping ``h``-day windows, so the
history must hold ``window_days + h - 1`` moves for the longest horizon ``h``. A shorter
stored history is an :class:`InputError` naming both lengths; it is never shortened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.core.fx import rate_history_to_base
from riskstream.risk.factors import KEY_RATE_TENORS_Y, FactorSpace

REFERENCE_VOL_EXPIRY_YEARS = 30.0 / 365.0
"""Expiry of the constant-maturity at-the-money vol that drives each vol factor."""

MIN_OVERLAP_DAYS = 60
"""Fewest days of overlap for an OLS proxy beta; below it the beta is 1 (said so)."""

PRICES_SCHEMA = {"date": pl.Date(), "symbol": pl.String(), "close": pl.Float64()}
CURVES_SCHEMA = {
    "date": pl.Date(),
    "currency": pl.String(),
    "tenor_years": pl.Float64(),
    "zero_rate": pl.Float64(),
}
VOLS_SCHEMA = {
    "date": pl.Date(),
    "underlying": pl.String(),
    "expiry_years": pl.Float64(),
    "moneyness": pl.Float64(),
    "implied_vol": pl.Float64(),
}


@dataclass(frozen=True)
class MarketHistoryFrames:
    """Stored market history in memory: the history store's three tables.

    Attributes
    ----------
    prices : polars.DataFrame
        ``date, symbol, close``: daily closes in each instrument's currency; FX pairs
        (``EURUSD``: USD per EUR) carry their rate.
    curves : polars.DataFrame
        ``date, currency, tenor_years, zero_rate``: continuously compounded zero rates,
        decimal.
    vols : polars.DataFrame
        ``date, underlying, expiry_years, moneyness, implied_vol``: implied vols (decimal,
        annualised) by expiry in years and moneyness (strike over spot).
    source : str
        Where the history came from (a store path and version, a simulator seed ...).
    """

    prices: pl.DataFrame
    curves: pl.DataFrame
    vols: pl.DataFrame
    source: str

    @classmethod
    def empty(cls, source: str = "empty") -> MarketHistoryFrames:
        return cls(
            pl.DataFrame(schema=PRICES_SCHEMA),
            pl.DataFrame(schema=CURVES_SCHEMA),
            pl.DataFrame(schema=VOLS_SCHEMA),
            source,
        )


@dataclass(frozen=True)
class Proxy:
    """A factor filled on its missing days with ``beta x`` a proxy's move."""

    factor: str
    proxy: str
    beta: float
    days: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "proxy": self.proxy,
            "beta": self.beta,
            "days": self.days,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FactorHistory:
    """Daily moves of every factor of a factor space, with their lineage.

    Attributes
    ----------
    moves : ndarray of float64, shape (n_moves, n_factors)
        Oldest first; price factors log returns, rate factors absolute changes (decimal),
        vol factors log changes. Finite everywhere.
    dates : ndarray of datetime64[D], shape (n_moves,)
        The date each move ends on.
    keys : tuple of str
        Factor names, in column order (the factor space's).
    source : str
        The history's source (:attr:`MarketHistoryFrames.source`).
    series : dict of str to str
        Per factor, the stored series it was built from.
    proxies : tuple of Proxy
        Every factor filled from a proxy on some days.
    gaps : dict of str to int
        Per factor, calendar days inside its life without an observation (zero move, the
        move taken up on its next observation); only factors with gaps.
    """

    moves: np.ndarray
    dates: np.ndarray
    keys: tuple[str, ...]
    source: str
    series: dict[str, str] = field(default_factory=dict)
    proxies: tuple[Proxy, ...] = ()
    gaps: dict[str, int] = field(default_factory=dict)

    @property
    def n_moves(self) -> int:
        return int(self.moves.shape[0])

    def as_dict(self) -> dict[str, Any]:
        """Lineage: source, first and last date, observations, per-factor series, proxies."""
        return {
            "source": self.source,
            "first_date": str(self.dates[0]) if self.n_moves else None,
            "last_date": str(self.dates[-1]) if self.n_moves else None,
            "observations": self.n_moves,
            "factors": len(self.keys),
            "series": dict(self.series),
            "proxies": [p.as_dict() for p in self.proxies],
            "gaps": dict(self.gaps),
        }


# ------------------------------------------------------------------------ series algebra


def _wide(
    frame: pl.DataFrame, key: str, value: str, names: list[str], calendar: np.ndarray
) -> np.ndarray:
    """Long ``date, key, value`` rows as a (n_calendar, len(names)) matrix, NaN where absent."""
    out = np.full((calendar.size, len(names)), np.nan)
    if not names or frame.height == 0:
        return out
    rows = frame.filter(pl.col(key).is_in(names))
    d = rows["date"].cast(pl.Int32).to_numpy().astype(np.int64)
    i = np.searchsorted(calendar, d)
    ok = (i < calendar.size) & (calendar[np.minimum(i, calendar.size - 1)] == d)
    j = rows[key].replace_strict(names, list(range(len(names))), return_dtype=pl.Int64)
    j = j.to_numpy()
    out[i[ok], j[ok]] = rows[value].to_numpy()[ok]
    return out


def series_moves(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moves of level series on a calendar, with the missing-day convention of the module.

    Parameters
    ----------
    levels : ndarray of shape (n_calendar, k)
        Transformed levels (log price, zero rate, log vol); NaN where not observed.

    Returns
    -------
    moves : ndarray of shape (n_calendar - 1, k)
        ``moves[t - 1]`` is the change from the last observation on or before calendar date
        ``t - 1`` to date ``t``'s level: the full change on an observed date (over a gap
        too), 0 on a gap inside the series' life, NaN before its first observation (and on
        it) and after its last.
    gaps : ndarray of bool, shape (n_calendar - 1, k)
        The moves on unobserved calendar dates strictly inside each series' life (zero).
    """
    levels = np.asarray(levels, dtype=np.float64)
    n, k = levels.shape
    if n < 2:
        return np.empty((0, k)), np.zeros((0, k), dtype=bool)
    observed = np.isfinite(levels)
    rows = np.arange(n)[:, None]
    last = np.maximum.accumulate(np.where(observed, rows, -1), axis=0)
    cols = np.arange(k)[None, :]
    filled = np.where(last >= 0, levels[np.maximum(last, 0), cols], np.nan)
    moves = filled[1:] - filled[:-1]  # NaN up to the first observation
    final = np.where(observed.any(axis=0), n - 1 - np.argmax(observed[::-1], axis=0), -1)
    moves[rows[1:] > final[None, :]] = np.nan  # after the last observation: no data
    first = np.argmax(observed, axis=0)
    inside = (rows > first[None, :]) & (rows < final[None, :]) & ~observed
    return moves, inside[1:]


def chained_moves(log_closes: np.ndarray, expiry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log returns of a chain of futures contracts, never across a roll.

    Parameters
    ----------
    log_closes : ndarray of shape (n_calendar, n_contracts)
        Log closes, NaN where a contract has none.
    expiry : ndarray of shape (n_contracts,)
        Contracts' expiries (any sortable unit); the nearest is preferred.

    Returns
    -------
    moves : ndarray of shape (n_calendar - 1,)
        On each date, the return of the nearest-expiry contract with closes on that date
        and the previous calendar date; else of the nearest-expiry contract with a close
        that day and an earlier one (its move since, over a gap); 0 on a date inside the
        chain's life where no contract trades; NaN outside it.
    gaps : ndarray of bool, shape (n_calendar - 1,)
        Dates inside the chain's life with no return (zero).
    """
    order = np.argsort(expiry, kind="stable")
    lc = np.asarray(log_closes, dtype=np.float64)[:, order]
    n, m = lc.shape
    if n < 2 or m == 0:
        return np.full(max(n - 1, 0), np.nan), np.zeros(max(n - 1, 0), dtype=bool)
    own, _ = series_moves(lc)  # each contract's moves, gaps bridged within the contract
    both = np.isfinite(lc[1:]) & np.isfinite(lc[:-1])
    today = np.isfinite(lc[1:]) & np.isfinite(own)
    out = np.full(n - 1, np.nan)
    for mask in (today, both):  # the later assignment wins: prefer contracts with both
        pick = np.argmax(mask, axis=1)
        has = mask.any(axis=1)
        out[has] = own[np.flatnonzero(has), pick[has]]
    observed = np.isfinite(lc).any(axis=1)
    first = int(np.argmax(observed)) if observed.any() else n
    final = int(n - 1 - np.argmax(observed[::-1])) if observed.any() else -1
    t = np.arange(1, n)
    dead = (t <= first) | (t > final)
    gap = ~np.isfinite(out) & ~dead
    out[gap] = 0.0
    out[dead] = np.nan
    return out, gap


def atm_vol_levels(vols: pl.DataFrame, expiry_years: float) -> pl.DataFrame:
    """Constant-maturity at-the-money implied vol per underlying and date.

    Moneyness: linear in vol to moneyness 1 (flat beyond the stored strikes). Expiry: linear
    in total variance :math:`\\sigma^2 T` to ``expiry_years`` (flat vol beyond the first and
    last stored expiry).

    Returns
    -------
    polars.DataFrame
        ``underlying, date, atm_vol``.
    """
    m, v, t = pl.col("moneyness"), pl.col("implied_vol"), pl.col("expiry_years")
    atm = (
        vols.filter(v.is_finite() & (v > 0) & (t > 0))
        .sort("underlying", "date", "expiry_years", "moneyness")
        .group_by("underlying", "date", "expiry_years")
        .agg(
            lo_m=m.filter(m <= 1.0).last(),
            lo_v=v.filter(m <= 1.0).last(),
            hi_m=m.filter(m >= 1.0).first(),
            hi_v=v.filter(m >= 1.0).first(),
        )
        .with_columns(
            vol=pl.when(pl.col("lo_m").is_null())
            .then(pl.col("hi_v"))
            .when(pl.col("hi_m").is_null() | (pl.col("hi_m") == pl.col("lo_m")))
            .then(pl.col("lo_v"))
            .otherwise(
                pl.col("lo_v")
                + (pl.col("hi_v") - pl.col("lo_v"))
                * (1.0 - pl.col("lo_m"))
                / (pl.col("hi_m") - pl.col("lo_m"))
            )
        )
    )
    w = pl.col("vol") ** 2 * t  # total implied variance
    te = expiry_years
    return (
        atm.sort("underlying", "date", "expiry_years")
        .group_by("underlying", "date")
        .agg(
            lo_t=t.filter(t <= te).last(),
            lo_w=w.filter(t <= te).last(),
            lo_v=pl.col("vol").filter(t <= te).last(),
            hi_t=t.filter(t >= te).first(),
            hi_w=w.filter(t >= te).first(),
            hi_v=pl.col("vol").filter(t >= te).first(),
        )
        .select(
            "underlying",
            "date",
            atm_vol=pl.when(pl.col("lo_t").is_null())
            .then(pl.col("hi_v"))
            .when(pl.col("hi_t").is_null() | (pl.col("hi_t") == pl.col("lo_t")))
            .then(pl.col("lo_v"))
            .otherwise(
                (
                    (
                        pl.col("lo_w")
                        + (pl.col("hi_w") - pl.col("lo_w"))
                        * (te - pl.col("lo_t"))
                        / (pl.col("hi_t") - pl.col("lo_t"))
                    )
                    / te
                ).sqrt()
            ),
        )
    )


def curve_levels(
    curves: pl.DataFrame, currency: str, tenors: tuple[float, ...], calendar: np.ndarray
) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Zero rates of one currency's curve at ``tenors`` on each calendar date.

    Linear in zero rate between the tenors stored that date, flat beyond them (as
    :class:`riskstream.pricing.curves.ZeroCurve`). Returns the (n_calendar, len(tenors))
    levels (NaN on dates without a curve) and the shortest and longest stored tenor.
    """
    out = np.full((calendar.size, len(tenors)), np.nan)
    rows = curves.filter((pl.col("currency") == currency) & pl.col("zero_rate").is_finite()).sort(
        "date", "tenor_years"
    )
    if rows.height == 0:
        return out, None
    d = rows["date"].cast(pl.Int32).to_numpy().astype(np.int64)
    tenor = rows["tenor_years"].to_numpy()
    rate = rows["zero_rate"].to_numpy()
    starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
    ends = np.r_[starts[1:], d.size]
    at = np.searchsorted(calendar, d[starts])
    keys = np.asarray(tenors)
    for s, e, i in zip(starts, ends, at, strict=True):
        if i < calendar.size and calendar[i] == d[s]:
            out[i] = np.interp(keys, tenor[s:e], rate[s:e])
    return out, (float(tenor.min()), float(tenor.max()))


def ols_beta(y: np.ndarray, x: np.ndarray) -> tuple[float, int]:
    """OLS slope of ``y`` on ``x`` (with intercept) over the days both are finite, and the
    number of such days; ``nan`` when there are fewer than two or ``x`` does not vary."""
    ok = np.isfinite(y) & np.isfinite(x)
    n = int(ok.sum())
    if n < 2:
        return float("nan"), n
    xs, ys = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    var = float(xs @ xs)
    return (float(xs @ ys) / var if var > 0 else float("nan")), n


# ---------------------------------------------------------------------------- the build


def _fmt(d: np.int64 | int) -> str:
    return str(np.datetime64(int(d), "D"))


def build_factor_history(
    space: FactorSpace,
    instruments: pl.DataFrame,
    base_currency: str,
    history: MarketHistoryFrames,
    window_days: int,
    max_horizon_days: int = 1,
    as_of: dt.date | None = None,
) -> FactorHistory:
    """Daily moves of every factor of ``space`` from stored market history.

    Parameters
    ----------
    space : FactorSpace
        The factors (:func:`riskstream.risk.factors.build_factor_space` of ``instruments``).
    instruments : polars.DataFrame
        The instrument table the space was built from (symbols, sectors, expiries,
        underlyings).
    base_currency : str
        The reporting currency (its FX rate is 1; its curve proxies other curves).
    history : MarketHistoryFrames
        The stored prices, curves and vols.
    window_days : int
        Daily moves the scenario model is fitted on.
    max_horizon_days : int, default 1
        Longest horizon: the result holds ``window_days + max_horizon_days - 1`` moves
        (historical simulation's overlapping windows need that many).
    as_of : datetime.date, optional
        Last date used (default: the last date of the book's stored series).

    Returns
    -------
    FactorHistory
        ``window_days + max_horizon_days - 1`` moves, oldest first, and their lineage.

    Raises
    ------
    InputError
        The stored history is shorter than needed (naming both lengths), or a factor has
        missing days and no proxy (naming the factor).
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise InputError("window_days", window_days, "a positive number of daily moves")
    if (
        isinstance(max_horizon_days, bool)
        or not isinstance(max_horizon_days, int)
        or max_horizon_days < 1
    ):
        raise InputError("max_horizon_days", max_horizon_days, "a positive number of days")
    need = window_days + max_horizon_days - 1
    keys = space.keys
    nf = len(keys)
    inst = instruments
    symbol = inst["symbol"].to_list()
    asset = inst["asset_class"].to_list()
    sector = inst["sector"].to_list()
    und = inst["underlying_id"].to_list()
    expiry_days = inst["expiry"].cast(pl.Int32).to_list()

    def upto(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("date") <= as_of) if as_of is not None else frame

    prices = upto(history.prices).filter(pl.col("close").is_finite() & (pl.col("close") > 0))
    curves = upto(history.curves)
    vols = upto(history.vols)
    stored = set(prices["symbol"].unique().to_list())

    # --- which stored series each factor reads
    price_sym: dict[int, str] = {}  # factor -> price symbol
    chains: dict[int, list[int]] = {}  # FUT factor -> futures contract rows
    fx_ccy: dict[int, str] = {}
    rate_key: dict[int, tuple[str, float]] = {}
    vol_names: dict[int, list[str]] = {}
    futures_of: dict[int, list[int]] = {}
    options_of: dict[int, list[int]] = {}
    for i in range(len(symbol)):
        if asset[i] == "future":
            futures_of.setdefault(int(space.spot_factor[i]), []).append(i)
        elif asset[i] == "option" and space.vol_factor[i] >= 0:
            options_of.setdefault(int(space.vol_factor[i]), []).append(i)
    for f, key in enumerate(keys):
        head, _, rest = key.partition(":")
        if head == "EQ":
            price_sym[f] = rest
        elif head == "FUT":
            named = [n for n in (rest, rest.partition(":")[2]) if n and n in stored]
            if named:
                price_sym[f] = named[0]
            else:
                chains[f] = futures_of.get(f, [])
        elif head == "FX":
            fx_ccy[f] = rest
        elif head == "IR":
            ccy, tenor = rest.split(":")
            rate_key[f] = (ccy, float(tenor.rstrip("Y")))
        elif head == "VOL":
            names = [symbol[und[i]] for i in options_of.get(f, []) if und[i] is not None]
            spot = rest.partition(":")[2]
            names += [spot, spot.partition(":")[2]]
            vol_names[f] = [n for n in dict.fromkeys(names) if n]
    contract_syms = sorted({symbol[i] for rows in chains.values() for i in rows})
    fx_rates, fx_paths = rate_history_to_base(prices, sorted(set(fx_ccy.values())), base_currency)
    fx_rates = fx_rates.rename({"currency": "symbol", "rate": "close"})
    atm = atm_vol_levels(
        vols.filter(pl.col("underlying").is_in([n for v in vol_names.values() for n in v])),
        REFERENCE_VOL_EXPIRY_YEARS,
    )
    vol_pick: dict[int, str] = {}
    counts = atm.group_by("underlying").len()
    dates_of = dict(zip(counts["underlying"].to_list(), counts["len"].to_list(), strict=True))
    for f, names in vol_names.items():
        # the stored underlying name with the most dates (first listed on ties)
        stored_names = [n for n in names if dates_of.get(n, 0)]
        if stored_names:
            vol_pick[f] = max(stored_names, key=lambda n: (dates_of[n], -names.index(n)))
    curve_ccys = sorted(
        {c for c, _ in rate_key.values()} | ({base_currency} if rate_key else set())
    )

    # --- the calendar: every date one of the book's series has an observation
    parts = [
        prices.filter(pl.col("symbol").is_in(list(price_sym.values()) + contract_syms))["date"],
        fx_rates["date"],
        curves.filter(pl.col("currency").is_in(curve_ccys))["date"],
        atm.filter(pl.col("underlying").is_in(list(vol_pick.values())))["date"],
    ]
    calendar = np.unique(
        np.concatenate([p.cast(pl.Int32).to_numpy().astype(np.int64) for p in parts])
    )
    held = calendar.size - 1 if calendar.size else 0
    if held < need:
        span = (
            f" ({_fmt(calendar[0])} to {_fmt(calendar[-1])})"
            if calendar.size
            else f" (no stored series of them in {history.source})"
        )
        raise InputError(
            "window_days",
            window_days,
            f"at most the stored history: window_days {window_days} needs {window_days} + "
            f"{max_horizon_days} - 1 = {need} daily moves; the stored history of the book's "
            f"factors holds {held}{span}",
        )

    # --- every factor's own moves on the calendar (NaN where it has none)
    moves = np.full((calendar.size - 1, nf), np.nan)
    gaps = np.zeros((calendar.size - 1, nf), dtype=bool)
    series: dict[str, str] = {}
    proxies: list[Proxy] = []
    if price_sym:
        fs = list(price_sym)
        names = sorted(set(price_sym.values()))
        m, g = series_moves(np.log(_wide(prices, "symbol", "close", names, calendar)))
        col = {n: j for j, n in enumerate(names)}
        for f in fs:
            moves[:, f], gaps[:, f] = m[:, col[price_sym[f]]], g[:, col[price_sym[f]]]
            series[keys[f]] = f"prices:{price_sym[f]} (log return)"
    if chains:
        lc = np.log(_wide(prices, "symbol", "close", contract_syms, calendar))
        col = {n: j for j, n in enumerate(contract_syms)}
        for f, rows in chains.items():
            cs = sorted({symbol[i]: expiry_days[i] for i in rows}.items())
            mine = [c for c, _ in cs if c in stored]
            if not mine:
                series[keys[f]] = "none stored"
                continue
            exp = np.array(
                [e if e is not None else np.iinfo(np.int32).max for c, e in cs if c in stored]
            )
            moves[:, f], gaps[:, f] = chained_moves(lc[:, [col[c] for c in mine]], exp)
            series[keys[f]] = (
                f"prices:{','.join(mine)} (futures chained by nearest expiry, log return)"
            )
    if fx_ccy:
        ccys = sorted(set(fx_ccy.values()))
        m, g = series_moves(np.log(_wide(fx_rates, "symbol", "close", ccys, calendar)))
        for f, c in fx_ccy.items():
            j = ccys.index(c)
            moves[:, f], gaps[:, f] = m[:, j], g[:, j]
            path = fx_paths.get(c)
            series[keys[f]] = (
                "prices:" + " x ".join(f"{s}^{e:g}" for s, e in path) + " (log return)"
                if path
                else "none stored"
            )
    base_curve: np.ndarray | None = None
    if rate_key:
        tenors = KEY_RATE_TENORS_Y
        levels: dict[str, tuple[np.ndarray, tuple[float, float] | None]] = {
            c: curve_levels(curves, c, tenors, calendar) for c in curve_ccys
        }
        curve_moves = {c: series_moves(lv) for c, (lv, _) in levels.items()}
        base_curve = curve_moves[base_currency][0]
        for f, (c, tenor) in rate_key.items():
            j = tenors.index(tenor)
            moves[:, f], gaps[:, f] = curve_moves[c][0][:, j], curve_moves[c][1][:, j]
            bounds = levels[c][1]
            series[keys[f]] = (
                f"curves:{c} (zero rate at {tenor:g}Y, linear in rate, absolute change)"
                if bounds
                else "none stored"
            )
    if vol_names:
        names = sorted(set(vol_pick.values()))
        m, g = series_moves(np.log(_wide(atm, "underlying", "atm_vol", names, calendar)))
        for f in vol_names:
            if f not in vol_pick:
                series[keys[f]] = "none stored"
                continue
            j = names.index(vol_pick[f])
            moves[:, f], gaps[:, f] = m[:, j], g[:, j]
            series[keys[f]] = (
                f"vols:{vol_pick[f]} (ATM {REFERENCE_VOL_EXPIRY_YEARS * 365:.0f}-day vol, "
                "log change)"
            )

    # --- keep the last `need` moves
    moves = moves[-need:]
    gap_days = gaps[-need:].sum(axis=0)
    dates = (calendar[1:][-need:]).astype("datetime64[D]")
    if rate_key:
        # Key tenors beyond a curve's stored tenors move with the nearest stored one
        # (flat extrapolation, the ZeroCurve convention): listed as proxies.
        for f, (c, tenor) in rate_key.items():
            bounds = levels[c][1]
            if bounds is None or bounds[0] <= tenor <= bounds[1]:
                continue
            near = bounds[0] if tenor < bounds[0] else bounds[1]
            days = int(np.isfinite(moves[:, f]).sum())
            if days:
                proxies.append(
                    Proxy(
                        keys[f],
                        f"curves:{c} {near:g}Y",
                        1.0,
                        days,
                        f"key tenor {tenor:g}Y beyond the stored tenors "
                        f"{bounds[0]:g}Y-{bounds[1]:g}Y: flat extrapolation",
                    )
                )
    full = np.isfinite(moves).all(axis=0)
    eq = [f for f in range(nf) if keys[f].startswith("EQ:") and full[f]]
    sector_of = {f"EQ:{symbol[i]}": sector[i] for i in range(len(symbol)) if asset[i] == "equity"}
    n_opts = {f: len(options_of.get(f, [])) for f in vol_names}

    def mean_of(cols: list[int]) -> np.ndarray:
        return moves[:, cols].mean(axis=1)

    def proxy_for(f: int) -> tuple[str, np.ndarray] | None:
        key = keys[f]
        head, _, rest = key.partition(":")
        if head == "EQ":
            s = sector_of.get(key)
            peers = [p for p in eq if p != f and s is not None and sector_of.get(keys[p]) == s]
            if peers:
                return f"sector {s} ({len(peers)} equities, equal-weighted)", mean_of(peers)
            market = [p for p in eq if p != f]
            if market:
                return f"market ({len(market)} equities, equal-weighted)", mean_of(market)
            idx = [p for p in range(nf) if full[p] and keys[p].startswith("FUT:index")]
            if idx:
                return keys[idx[0]], moves[:, idx[0]]
            return None
        if head == "FUT":
            group = rest.partition(":")[0] if ":" in rest else None
            peers = [
                p
                for p in range(nf)
                if p != f and full[p] and group and keys[p].startswith(f"FUT:{group}:")
            ]
            if peers:
                return f"{group} futures ({len(peers)}, equal-weighted)", mean_of(peers)
            market = [p for p in eq if p != f]
            if market:
                return f"market ({len(market)} equities, equal-weighted)", mean_of(market)
            return None
        if head == "IR":
            c, tenor = rate_key[f]
            if c != base_currency and base_curve is not None:
                proxy = base_curve[-need:, KEY_RATE_TENORS_Y.index(tenor)]
                if np.isfinite(proxy[~np.isfinite(moves[:, f])]).all():
                    return f"curves:{base_currency} {tenor:g}Y", proxy
            return None
        if head == "VOL":
            cand = [p for p in vol_names if p != f and full[p]]
            if cand:
                p = max(cand, key=lambda q: (n_opts[q], -q))
                return keys[p], moves[:, p]
            return None
        return None

    for f in range(nf):
        missing = ~np.isfinite(moves[:, f])
        if not missing.any():
            continue
        found = proxy_for(f)
        if found is None:
            have = int((~missing).sum())
            raise InputError(
                "history",
                keys[f],
                f"a stored series for factor {keys[f]} over the last {need} daily moves "
                f"({dates[0]} to {dates[-1]}): it has {have} of them and no proxy "
                f"({series.get(keys[f], 'none stored')})",
            )
        name, proxy = found
        beta, overlap = ols_beta(moves[:, f], proxy)
        if overlap >= MIN_OVERLAP_DAYS and np.isfinite(beta):
            why = f"beta by OLS on {overlap} overlapping days"
        else:
            beta = 1.0
            why = f"beta 1: {overlap} overlapping days (< {MIN_OVERLAP_DAYS} for OLS)"
        own = int((~missing).sum())
        reason = (
            f"no stored history ({series.get(keys[f], 'none stored')}); {why}"
            if own == 0
            else f"history covers {own} of {need} days; {why}"
        )
        moves[missing, f] = beta * proxy[missing]
        proxies.append(Proxy(keys[f], name, float(beta), int(missing.sum()), reason))
    return FactorHistory(
        moves=np.ascontiguousarray(moves),
        dates=dates,
        keys=keys,
        source=history.source,
        series=series,
        proxies=tuple(proxies),
        gaps={keys[f]: int(gap_days[f]) for f in range(nf) if gap_days[f]},
    )


def surface_vols(
    vols: pl.DataFrame,
    underlying: list[str | None],
    moneyness: np.ndarray,
    expiry_years: np.ndarray,
    as_of: dt.date,
) -> np.ndarray:
    """Implied vols of options read off each underlying's latest stored surface.

    For each option, the surface of its underlying on the last date on or before ``as_of``
    with stored vols: per stored expiry, linear in vol across moneyness (flat beyond the
    stored strikes); across expiries, total variance :math:`\\sigma^2 T` linear in ``T``
    (flat vol beyond the first and last expiry) — the interpolation of
    :func:`atm_vol_levels`, at the option's own moneyness and expiry.

    Parameters
    ----------
    vols : polars.DataFrame
        The ``vols`` table (:class:`MarketHistoryFrames`).
    underlying : list of str or None, length n
        Each option's underlying symbol as stored in ``vols``.
    moneyness, expiry_years : ndarray of shape (n,)
        Strike over spot, and years to expiry.
    as_of : datetime.date

    Returns
    -------
    ndarray of shape (n,)
        NaN where the underlying has no stored surface (or the inputs are not finite).
    """
    m = np.asarray(moneyness, dtype=np.float64)
    t = np.asarray(expiry_years, dtype=np.float64)
    out = np.full(m.shape, np.nan)
    names = sorted({u for u in underlying if u is not None})
    rows = vols.filter(
        pl.col("underlying").is_in(names)
        & (pl.col("date") <= as_of)
        & pl.col("implied_vol").is_finite()
        & (pl.col("implied_vol") > 0)
        & (pl.col("expiry_years") > 0)
    )
    if rows.height == 0:
        return out
    latest = rows.group_by("underlying").agg(pl.col("date").max().alias("last"))
    rows = (
        rows.join(latest, on="underlying")
        .filter(pl.col("date") == pl.col("last"))
        .sort("underlying", "expiry_years", "moneyness")
    )
    who = np.asarray([u if u is not None else "" for u in underlying], dtype=object)
    for (name,), surf in rows.group_by(["underlying"], maintain_order=True):
        sel = np.flatnonzero((who == name) & np.isfinite(m) & np.isfinite(t))
        if sel.size == 0:
            continue
        expiries = np.unique(surf["expiry_years"].to_numpy())
        # vol of every option at its moneyness on each stored expiry: (n_expiries, n_sel)
        smile = np.stack(
            [
                np.interp(
                    m[sel],
                    (e := surf.filter(pl.col("expiry_years") == x))["moneyness"].to_numpy(),
                    e["implied_vol"].to_numpy(),
                )
                for x in expiries
            ]
        )
        w = smile**2 * expiries[:, None]  # total variance per expiry
        tt = np.clip(t[sel], expiries[0], expiries[-1])
        hi = np.clip(np.searchsorted(expiries, tt, side="left"), 1, max(expiries.size - 1, 1))
        if expiries.size == 1:
            out[sel] = smile[0]
            continue
        lo = hi - 1
        cols = np.arange(sel.size)
        frac = (tt - expiries[lo]) / (expiries[hi] - expiries[lo])
        var = w[lo, cols] + (w[hi, cols] - w[lo, cols]) * frac
        vol = np.sqrt(var / tt)
        # flat in vol beyond the first and last stored expiry
        vol = np.where(t[sel] < expiries[0], smile[0], vol)
        out[sel] = np.where(t[sel] > expiries[-1], smile[-1], vol)
    return out
