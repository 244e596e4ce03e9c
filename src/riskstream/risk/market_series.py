"""Series algebra over stored market history: moves on a calendar, futures chains, curves
and implied-vol surfaces.

The building blocks of :mod:`riskstream.risk.factor_history` (and of the risk command's
marks), each on polars frames in the history store's long formats or on (dates x series)
numpy matrices:

* :func:`series_moves` — moves of level series on a common calendar: the full change since
  the last observation on an observed date (over a gap too), zero on a date a series misses
  inside its life, NaN outside it;
* :func:`chained_moves` — a futures chain's returns, each from one contract (never across a
  roll);
* :func:`curve_moves` — changes of zero rates at key tenors, linear in rate, flat beyond
  the stored tenors (:class:`riskstream.pricing.curves.ZeroCurve`'s convention), on the
  tenors stored on both dates;
* :func:`atm_vol_levels`, :func:`surface_vols` — implied vols read off stored surfaces:
  linear in vol across moneyness, linear in total variance :math:`\\sigma^2 T` across
  expiries (the interpolation that keeps total variance increasing in expiry when the
  stored surface has no calendar arbitrage: Gatheral, *The Volatility Surface*, 2006,
  ch. 3), flat beyond the stored ends;
* :func:`ols_beta` — the slope of one series of moves on another over their overlap.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl


def wide_matrix(
    frame: pl.DataFrame, key: str, value: str, names: list[str], calendar: np.ndarray
) -> np.ndarray:
    """Long ``date, key, value`` rows as a (n_calendar, len(names)) matrix, NaN where absent.

    ``calendar`` holds dates as days since 1970-01-01 (int64, sorted); rows on other dates
    are ignored.
    """
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
        it) and after its last (but see :data:`TRAILING_GAP_DAYS`).
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
    end = _life_end(final, n)
    moves[rows[1:] > end[None, :]] = np.nan  # after the last observation: no data
    first = np.argmax(observed, axis=0)
    inside = (rows > first[None, :]) & (rows <= end[None, :]) & ~observed
    return moves, inside[1:]


TRAILING_GAP_DAYS = 3
"""A series without observations on at most this many of the calendar's *last* dates is
still alive there (a holiday of its own market while others trade, e.g. the US markets'
closure of 5 December 2018): zero moves, counted as gaps, like a gap inside its life.
Beyond that the series is taken as ended and its factor needs a proxy."""


def _life_end(final: np.ndarray | int, n: int) -> np.ndarray:
    """The last calendar row of each series' life: its last observation, or the calendar's
    end when that observation is at most :data:`TRAILING_GAP_DAYS` rows before it."""
    final = np.asarray(final)
    return np.where((final >= 0) & (n - 1 - final <= TRAILING_GAP_DAYS), n - 1, final)


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
    final = int(_life_end(n - 1 - np.argmax(observed[::-1]), n)) if observed.any() else -1
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


def curve_moves(
    curves: pl.DataFrame, currency: str, tenors: tuple[float, ...], calendar: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[float, float] | None]:
    """Daily changes of one currency's zero rates at key ``tenors``, on a calendar.

    On each date the curve was stored, the change since its previous stored date of the
    zero rate at each key tenor, interpolated linearly in zero rate and flat beyond the
    stored tenors (:class:`riskstream.pricing.curves.ZeroCurve`'s convention) — on the
    tenors stored on *both* dates, so a tenor that starts (or stops) being stored does not
    show as a jump of the curve. Dates without a curve follow :func:`series_moves`: zero
    inside the curve's life, NaN before its first and after its last stored date.

    Returns
    -------
    moves : ndarray of shape (n_calendar - 1, len(tenors))
        Absolute changes (decimal).
    gaps : ndarray of bool, same shape
        Calendar dates inside the curve's life without a stored curve.
    bounds : (float, float) or None
        Shortest and longest tenor stored (None: no curve).
    """
    n, k = calendar.size, len(tenors)
    moves = np.full((max(n - 1, 0), k), np.nan)
    gaps = np.zeros((max(n - 1, 0), k), dtype=bool)
    rows = curves.filter((pl.col("currency") == currency) & pl.col("zero_rate").is_finite())
    rows = rows.filter(pl.col("date").cast(pl.Int32).is_in(calendar.astype(np.int32).tolist()))
    if rows.height == 0 or n < 2:
        return moves, gaps, None
    wide = rows.pivot(on="tenor_years", index="date", values="zero_rate").sort("date")
    pillars = np.array([float(c) for c in wide.columns[1:]])
    order = np.argsort(pillars)
    pillars = pillars[order]
    rates = wide.drop("date").to_numpy()[:, order].astype(np.float64)
    at = np.searchsorted(calendar, wide["date"].cast(pl.Int32).to_numpy())
    keys = np.asarray(tenors, dtype=np.float64)
    for j in range(1, at.size):
        both = np.isfinite(rates[j]) & np.isfinite(rates[j - 1])
        if both.any():
            t = pillars[both]
            moves[at[j] - 1] = np.interp(keys, t, rates[j, both]) - np.interp(
                keys, t, rates[j - 1, both]
            )
    inside = np.zeros(n, dtype=bool)
    inside[at[0] + 1 : int(_life_end(at[-1], n)) + 1] = True  # the life of series_moves
    inside[at] = False
    gap = inside[1:]
    moves[gap] = 0.0
    gaps[gap] = True
    return moves, gaps, (float(pillars[0]), float(pillars[-1]))


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
