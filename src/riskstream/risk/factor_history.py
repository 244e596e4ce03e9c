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
  :class:`riskstream.pricing.curves.ZeroCurve`); the move is the absolute change, measured
  on the tenors stored on both dates (a tenor added to the stored curve is not a jump).
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
  in the instrument table (ties: first in factor order); with no implied vol stored for any
  underlying, the log change of the underlying's own EWMA realised volatility
  (:func:`realised_vol_moves`; beta 1, and it understates vega risk: load vols).

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
from riskstream.risk.market_series import (
    atm_vol_levels,
    chained_moves,
    curve_moves,
    ols_beta,
    series_moves,
    wide_matrix,
)

REFERENCE_VOL_EXPIRY_YEARS = 30.0 / 365.0
"""Expiry of the constant-maturity at-the-money vol that drives each vol factor."""

MIN_OVERLAP_DAYS = 60
"""Fewest days of overlap for an OLS proxy beta; below it the beta is 1 (said so)."""


REALISED_VOL_LAMBDA = 0.94
"""Decay of the realised-vol proxy of an implied-vol factor (RiskMetrics 1996, daily)."""


def realised_vol_moves(returns: np.ndarray, lam: float = REALISED_VOL_LAMBDA) -> np.ndarray:
    """Log changes of the EWMA volatility of a return series: the last-resort proxy of an
    implied-vol factor when no implied vol of any underlying is stored.

    The RiskMetrics recursion (:class:`riskstream.models.EWMACovariance`); the move on day
    ``t`` is the log change of the volatility once ``r_t`` is known. Realised volatility is
    smoother than implied volatility, so this proxy understates vega risk (its beta cannot be
    estimated without an implied series: it is 1); the lineage says so.
    """
    from riskstream.models import EWMACovariance

    ewma = EWMACovariance(lam).fit(np.asarray(returns, dtype=np.float64))
    path = np.append(ewma.volatility_path_[:, 0], ewma.volatility_[0])
    return np.log(path[1:] / path[:-1])


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
        m, g = series_moves(np.log(wide_matrix(prices, "symbol", "close", names, calendar)))
        col = {n: j for j, n in enumerate(names)}
        for f in fs:
            moves[:, f], gaps[:, f] = m[:, col[price_sym[f]]], g[:, col[price_sym[f]]]
            series[keys[f]] = f"prices:{price_sym[f]} (log return)"
    if chains:
        lc = np.log(wide_matrix(prices, "symbol", "close", contract_syms, calendar))
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
        m, g = series_moves(np.log(wide_matrix(fx_rates, "symbol", "close", ccys, calendar)))
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
        by_ccy = {c: curve_moves(curves, c, tenors, calendar) for c in curve_ccys}
        base_curve = by_ccy[base_currency][0]
        for f, (c, tenor) in rate_key.items():
            j = tenors.index(tenor)
            moves[:, f], gaps[:, f] = by_ccy[c][0][:, j], by_ccy[c][1][:, j]
            series[keys[f]] = (
                f"curves:{c} (zero rate at {tenor:g}Y, linear in rate, absolute change)"
                if by_ccy[c][2]
                else "none stored"
            )
    if vol_names:
        names = sorted(set(vol_pick.values()))
        m, g = series_moves(np.log(wide_matrix(atm, "underlying", "atm_vol", names, calendar)))
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
            bounds = by_ccy[c][2]
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
            spot = keys.index(rest) if rest in keys else -1
            if spot >= 0 and np.isfinite(moves[:, spot]).all():
                return f"{rest} realised vol (EWMA, lambda {REALISED_VOL_LAMBDA})", (
                    realised_vol_moves(moves[:, spot])
                )
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
