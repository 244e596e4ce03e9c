"""The risk engine of a book, built from the stored market history: what ``riskstream risk``,
``riskstream backtest book``, the demo and the benches share.

* **as-of**: ``--as-of`` or the last date a close of one of the book's instruments is
  stored (:func:`book_as_of`);
* **marks**: each instrument's last stored close on or before the as-of date; FX
  translation from the stored FX pair closes that day (:func:`riskstream.core.fx.
  rates_to_base`, cross rates included); an option without a close is priced by the
  engine's own model (Black-Scholes-Merton on a stock, Black-76 on a future) at its
  implied vol;
* **implied vols**: read off the underlying's stored vol surface at the option's
  moneyness and expiry (:func:`riskstream.risk.market_series.surface_vols`); without a
  stored surface, solved from the option's own close (:func:`implied_vols`); neither: the
  engine excludes and lists the position;
* **rates**: each option's zero rate to expiry from its currency's stored curve at the
  as-of date (linear in zero rate), else the reference curve of
  :func:`riskstream.feeds.markets.zero_rate`;
* **scenarios**: the daily moves of the book's own risk factors over the last
  ``risk.window_days`` (``--window``) days of that history
  (:func:`riskstream.risk.factor_history.build_factor_history`, with its proxies), drawn
  by the configured generator; ``historical`` takes the last ``window_days`` overlapping
  ``h``-day windows at every horizon (``window_days`` scenarios), ``mc`` and ``fhs`` fit
  on the last ``window_days`` moves and draw ``risk.n_scenarios``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError


def build_engine(
    universe: Any,
    config: Any,
    *,
    history: Any,
    publish: Any = None,
    cache: Any = None,
    market: Any = None,
    clock: Any = None,
    implied_vol: np.ndarray | None = None,
    as_of: dt.date | None = None,
    models: Any = None,
) -> Any:
    """A risk engine over ``universe`` with scenarios from stored market history.

    Parameters
    ----------
    universe : Universe
    config : RiskConfig
    history : MarketHistoryFrames
        The stored market history (:mod:`riskstream.risk.factor_history`); the scenarios
        are the configured generator's, fitted on the last ``config.window_days`` daily
        moves of the book's own factors up to ``as_of``.
    market : MarketState, optional
        The live market state (from the md stage); without one, a state quoting every
        instrument at its reference price.
    clock : Clock, optional
        Defaults to 16:00 UTC on the as-of date.
    implied_vol : ndarray of shape (n_instruments,), optional
        Option implied vols; by default solved from the reference prices
        (:func:`implied_vols`).
    as_of : datetime.date, optional
        Last date of history used; default the last date of the book's stored series.
    models : ModelsConfig, optional
        The ``[models]`` settings the scenario generator is built from
        (:func:`riskstream.models.generator_from_config`; default: their defaults).

    Returns
    -------
    RiskEngine
        With ``history_lineage``: the factor history's lineage
        (:meth:`~riskstream.risk.factor_history.FactorHistory.as_dict`) and ``window_days``.
    """
    from riskstream.core.state import MarketState
    from riskstream.risk.engine import RiskEngine
    from riskstream.risk.factors import build_factor_space

    space = build_factor_space(universe.instruments, universe.base_currency)
    factor_history, scenarios = draw_scenarios(space, universe, config, history, as_of, models)
    n = len(universe)
    if market is None:
        market = MarketState(n)
        px = universe.instruments["ref_price"].to_numpy().astype(np.float64)
        market.mid[:] = px
        market.last[:] = px
        market.seq[:] = 1
    day = (
        as_of
        or getattr(universe, "as_of", None)
        or dt.date.fromisoformat(str(factor_history.dates[-1]))
    )
    rates = option_rates(universe, day, history.curves)
    if implied_vol is None:
        implied_vol = implied_vols(universe, day, rates, config.dividend_yield)
    if clock is None:
        clock = close_clock(day)
    engine = RiskEngine(
        universe, market, scenarios, implied_vol, config, clock, publish, cache, rates=rates
    )
    engine.history_lineage = {**factor_history.as_dict(), "window_days": config.window_days}
    return engine


def draw_scenarios(
    space: Any,
    universe: Any,
    config: Any,
    history: Any,
    as_of: dt.date | None,
    models: Any = None,
) -> tuple[Any, Any]:
    """The factor history of ``space`` and the scenario set drawn from it.

    ``historical`` and ``parametric`` (whose covariance comes from the same scenarios):
    the last ``window_days`` overlapping ``h``-day windows of the daily moves at every
    horizon, so the history holds ``window_days + max(h) - 1`` moves; ``mc`` and ``fhs``:
    fitted on the last ``window_days`` moves, ``n_scenarios`` drawn per horizon. The
    generator is built from the ``[models]`` settings (``models``, default their defaults).
    """
    from riskstream.risk.scenarios import ScenarioSet

    fh, generator = fit_scenario_generator(space, universe, config, history, as_of, models)
    n_scenarios = config.window_days if _replays_history(config) else config.n_scenarios
    scenarios = ScenarioSet.from_generator(
        generator, space.kind, config.horizons_days, n_scenarios, config.seed
    )
    return fh, scenarios


def fit_scenario_generator(
    space: Any,
    universe: Any,
    config: Any,
    history: Any,
    as_of: dt.date | None,
    models: Any = None,
) -> tuple[Any, Any]:
    """The factor history of ``space`` up to ``as_of`` and the configured scenario
    generator fitted on it (see :func:`draw_scenarios`, which draws from it; the chunked
    Monte Carlo of :mod:`riskstream.cli.chunked_risk` draws from it chunk by chunk)."""
    from riskstream.models import ModelsConfig, generator_from_config
    from riskstream.risk.factor_history import build_factor_history

    historical = _replays_history(config)
    longest = max(config.horizons_days) if historical else 1
    fh = build_factor_history(
        space,
        universe.instruments,
        universe.base_currency,
        history,
        config.window_days,
        longest,
        as_of,
    )
    models = ModelsConfig() if models is None else models
    generator = generator_from_config("historical" if historical else config.method, models)
    generator.fit(fh.moves)
    return fh, generator


def _replays_history(config: Any) -> bool:
    """Whether ``config.method`` replays the overlapping ``h``-day windows of the history
    (``historical``, and ``parametric`` whose covariance comes from those scenarios) rather
    than drawing ``n_scenarios`` from a fitted model (``mc``, ``fhs``)."""
    return config.method in ("historical", "parametric")


def close_clock(day: dt.date) -> Any:
    """The engine's clock of a one-off run: 16:00 UTC on ``day`` (the daily close)."""
    from riskstream.core.clock import ManualClock

    return ManualClock(int(dt.datetime.combine(day, dt.time(16), tzinfo=dt.UTC).timestamp() * 1e9))


def option_rates(universe: Any, as_of: dt.date, curves: pl.DataFrame | None = None) -> np.ndarray:
    """Each option's continuously compounded zero rate to expiry (NaN for other instruments).

    From its currency's stored zero curve on the last date on or before ``as_of`` (linear
    in zero rate, flat beyond the stored tenors: :class:`riskstream.pricing.curves.
    ZeroCurve`); a currency without a stored curve uses the reference curve of
    :func:`riskstream.feeds.markets.zero_rate` (the one the generated universe priced its
    options with); a currency with neither is NaN (the engine's ``risk.rate``).
    """
    from riskstream.feeds.markets import CURRENCIES, zero_rate
    from riskstream.pricing.curves import ZeroCurve
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = universe.instruments
    out = np.full(inst.height, np.nan)
    opt = np.flatnonzero((inst["asset_class"] == "option").to_numpy())
    if opt.size == 0:
        return out
    years = np.maximum(year_fraction(epoch_days(inst["expiry"])[opt], as_of), 0.0)
    ccy = inst["currency"].to_numpy()[opt]
    known = set(CURRENCIES["currency"].to_list())
    for c in np.unique(ccy):
        sel = ccy == c
        rows = (
            curves.filter((pl.col("currency") == c) & (pl.col("date") <= as_of))
            if curves is not None and curves.height
            else None
        )
        if rows is not None and rows.height:
            last = rows.filter(pl.col("date") == rows["date"].max()).sort("tenor_years")
            curve = ZeroCurve(last["tenor_years"].to_numpy(), last["zero_rate"].to_numpy())
            out[opt[sel]] = curve.zero_rate(years[sel])
        elif c in known:
            out[opt[sel]] = zero_rate(ccy[sel], years[sel])
    return out


def implied_vols(
    universe: Any, as_of: dt.date, rates: np.ndarray, dividend_yield: float
) -> np.ndarray:
    """Implied vol of every option from its reference price (NaN for other instruments).

    Black-Scholes-Merton (``dividend_yield``) for options on stocks, Black-76 for options on
    futures, Barone-Adesi-Whaley for American options (see the code for quotes below the
    exercise value), at each option's rate (``rates``, per instrument), so the engine's
    model value at today's spot reproduces the quoted price. Reference prices are rounded to
    the tick, so a deep in-the-money quote can sit up to a tick *below* the discounted
    intrinsic value (the zero-vol price); such quotes are read as half a tick above it. Where no vol
    reproduces a price even so, the result is NaN and the engine excludes and lists the
    position.
    """
    from riskstream.pricing import (
        baw_implied_vol,
        black76_implied_vol,
        black76_price,
        bsm_implied_vol,
        bsm_price,
    )
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = universe.instruments
    n = inst.height
    out = np.full(n, np.nan)
    opt = np.flatnonzero((inst["asset_class"] == "option").to_numpy())
    if opt.size == 0:
        return out
    und = inst["underlying_id"].to_numpy()[opt].astype(np.int64)
    asset = inst["asset_class"].to_numpy()
    px = inst["ref_price"].to_numpy().astype(np.float64)
    strike = inst["strike"].to_numpy().astype(np.float64)[opt]
    call = inst["right"].to_numpy()[opt] == "C"
    expiry = year_fraction(epoch_days(inst["expiry"])[opt], as_of)
    on_future = asset[und] == "future"
    spot = px[und]
    b, f = ~on_future, on_future
    r = rates[opt]
    quote = px[opt]
    floor = np.where(
        on_future,
        black76_price(spot, strike, expiry, r, 0.0, call),
        bsm_price(spot, strike, expiry, r, dividend_yield, 0.0, call),
    )
    tick = inst["tick_size"].to_numpy().astype(np.float64)[opt]
    rounded_below = (quote >= floor - tick) & (quote < floor + 0.5 * tick)
    quote = np.where(rounded_below, floor + 0.5 * tick, quote)
    out[opt[b]] = bsm_implied_vol(
        quote[b], spot[b], strike[b], expiry[b], r[b], dividend_yield, call[b]
    )
    out[opt[f]] = black76_implied_vol(quote[f], spot[f], strike[f], expiry[f], r[f], call[f])
    # American options by the engine's American model (Barone-Adesi-Whaley). A quote at or
    # below the exercise value carries no vol (the simulator's reference prices are
    # European values, so deep in-the-money American puts sit below it): such an option
    # keeps the European vol of its quote, and the engine adds the exercise premium.
    if "exercise" in inst.columns:
        am = inst["exercise"].to_numpy()[opt] == "american"
        if am.any():
            q = np.where(on_future, r, dividend_yield)[am]
            iv = baw_implied_vol(
                quote[am], spot[am], strike[am], expiry[am], r[am], q, call[am],
                guess=out[opt[am]],
            )  # fmt: skip
            out[opt[am]] = np.where(np.isfinite(iv), iv, out[opt[am]])
    return out


def book_as_of(universe: Any, history: Any) -> dt.date:
    """The as-of date of a book's stored history: the last date a close of one of its
    instruments is stored (else, for a book with no closes of its own such as bonds marked
    off curves, the last date of its currencies' stored curves).

    Raises
    ------
    InputError
        Nothing of the book is stored.
    """
    inst = universe.instruments
    rows = history.prices.filter(pl.col("symbol").is_in(inst["symbol"].to_list()))
    if rows.height == 0:
        rows = history.curves.filter(pl.col("currency").is_in(inst["currency"].to_list()))
    if rows.height == 0:
        raise InputError(
            "history",
            history.source,
            "stored closes of the book's instruments (`riskstream history load FILE`)",
        )
    return rows["date"].max()


def mark_to_history(
    universe: Any, history: Any, as_of: dt.date, dividend_yield: float
) -> tuple[Any, Any, np.ndarray, dict[str, Any]]:
    """Marks, FX rates and implied vols of a book at ``as_of`` from stored history.

    Returns
    -------
    (universe, market, implied_vol, info)
        The universe with ``fx_to_base`` from the stored FX closes and ``as_of``; a
        :class:`~riskstream.core.state.MarketState` at the last close on or before
        ``as_of`` (NaN, hence excluded by the engine, where none is stored; options
        without a close at their model value); each option's implied vol (see the module
        doc); and counts of how each was obtained.
    """
    from riskstream.core.fx import rates_to_base, split_pair
    from riskstream.core.instruments import Universe
    from riskstream.core.state import MarketState
    from riskstream.pricing import black76_price, bsm_price
    from riskstream.risk.factors import epoch_days, year_fraction
    from riskstream.risk.market_series import surface_vols

    inst = universe.instruments
    last = (
        history.prices.filter((pl.col("date") <= as_of) & (pl.col("close") > 0))
        .sort("date")
        .group_by("symbol")
        .agg(pl.col("close").last())
    )
    close = dict(zip(last["symbol"].to_list(), last["close"].to_list(), strict=True))
    pairs = {k: v for k, v in close.items() if split_pair(k)}
    # every currency the book holds, including the base legs of its FX pairs
    currencies = pl.concat([inst["currency"], inst["base_currency"].drop_nulls()]).unique()
    fx = rates_to_base(pairs, currencies.sort().to_list(), universe.base_currency)
    fx.setdefault(universe.base_currency, 1.0)
    symbols = inst["symbol"].to_list()
    px = np.array([close.get(x, np.nan) for x in symbols], dtype=np.float64)
    # A future without closes of its own is marked at its underlying's close, as
    # `riskstream instruments load` sets its reference price (the basis is ignored): the
    # underlying instrument's, else the series its sector names (e.g. "SPX", "index:SPX").
    asset = inst["asset_class"].to_numpy()
    series = [underlying_series(inst, i, close) for i in range(inst.height)]
    for i in np.flatnonzero((asset == "future") & ~np.isfinite(px)):
        u = inst["underlying_id"][int(i)]
        px[i] = px[u] if u is not None else close.get(series[i] or "", np.nan)
    marked = Universe(
        inst,
        universe.books,
        universe.positions,
        universe.base_currency,
        fx,
        as_of,
    )
    n = inst.height
    opt = np.flatnonzero(asset == "option")
    iv = np.full(n, np.nan)
    info: dict[str, Any] = {"as_of": as_of.isoformat(), "closes": int(np.isfinite(px).sum())}
    if opt.size:
        und = inst["underlying_id"].to_numpy()[opt].astype(np.int64)
        spot = px[und]
        strike = inst["strike"].to_numpy().astype(np.float64)[opt]
        years = year_fraction(epoch_days(inst["expiry"])[opt], as_of)
        rates = option_rates(marked, as_of, history.curves)
        # The surface stored under the underlying's symbol, else under the series a future
        # underlying follows (options on ESH9 read the SPX surface).
        stored = set(history.vols["underlying"].unique().to_list())
        names = [symbols[u] if symbols[u] in stored else series[u] for u in und]
        surface = surface_vols(history.vols, names, strike / spot, years, as_of)
        # Without a stored surface, the vol that reproduces the option's own close.
        own = np.isfinite(px[opt])
        solved = np.full(opt.size, np.nan)
        if np.any(own & ~np.isfinite(surface)):
            solvable = np.where(np.isfinite(px), px, inst["ref_price"].to_numpy())
            solved_from = Universe(
                inst.with_columns(pl.Series("ref_price", solvable)),
                universe.books,
                universe.positions,
                universe.base_currency,
                fx,
                as_of,
            )
            solved = implied_vols(solved_from, as_of, rates, dividend_yield)[opt]
        vol = np.where(np.isfinite(surface), surface, np.where(own, solved, np.nan))
        iv[opt] = vol
        call = inst["right"].to_numpy()[opt] == "C"
        on_future = asset[und] == "future"
        model = np.where(
            on_future,
            black76_price(spot, strike, years, rates[opt], np.nan_to_num(vol), call),
            bsm_price(spot, strike, years, rates[opt], dividend_yield, np.nan_to_num(vol), call),
        )
        priced = ~own & np.isfinite(vol) & (vol > 0) & np.isfinite(spot)
        px[opt[priced]] = model[priced]
        info.update(
            options=int(opt.size),
            option_vols_from_surface=int(np.isfinite(surface).sum()),
            option_vols_from_close=int((~np.isfinite(surface) & own & np.isfinite(solved)).sum()),
            options_priced_by_model=int(priced.sum()),
        )
    info["unmarked"] = [symbols[i] for i in np.flatnonzero(~np.isfinite(px))][:50]
    market = MarketState(n)
    market.mid[:] = px
    market.last[:] = px
    market.seq[:] = 1
    return marked, market, iv, info


def engine_as_of(
    universe: Any, config: Any, history: Any, day: dt.date, models: Any, marked: Any = None
) -> tuple[Any, Any]:
    """The risk engine of a stored book as of ``day``, as ``riskstream risk`` builds it: the
    marks, FX rates and implied vols of that day (:func:`mark_to_history`, or ``marked``,
    its result when the caller has it) and scenarios from the window of daily moves up to
    that day. Returns the engine and the marks."""
    marks = marked or mark_to_history(universe, history, day, config.dividend_yield)
    engine = build_engine(
        marks[0],
        config,
        history=history,
        market=marks[1],
        implied_vol=marks[2],
        as_of=day,
        models=models,
    )
    return engine, marks


def underlying_series(inst: pl.DataFrame, i: int, stored: Any) -> str | None:
    """The stored price series a future follows when it is not an instrument: its sector
    (``SPX``), or the part after ``index:`` / ``commodity:`` (the reference universe's
    ``index:SPX``), whichever ``stored`` (a set or mapping of series names) holds."""
    if inst["asset_class"][i] != "future":
        return None
    sector = inst["sector"][i] or ""
    for name in (sector, sector.partition(":")[2]):
        if name and name in stored:
            return name
    return None


def load_history(s: Any) -> Any:
    """The configured history store's market history (``settings.store.history``) as
    :class:`~riskstream.risk.factor_history.MarketHistoryFrames`."""
    from riskstream.risk.factor_history import MarketHistoryFrames
    from riskstream.store.market_history import MarketHistory

    store = MarketHistory.from_config(s.store)
    versions = ", ".join(
        f"{k} v{v}" if (v := store.version(k)) >= 0 else f"no {k}"
        for k in ("prices", "curves", "vols")
    )
    return MarketHistoryFrames(
        store.prices(), store.curves(), store.vols(), f"history store {store.root} ({versions})"
    )


def simulated_history(universe: Any, days: int, seed: int, config: Any = None) -> Any:
    """The tick simulator's daily history of ``universe`` (``days`` business days ending on
    its as-of date, :func:`riskstream.feeds.daily_history.simulate_daily_history`) as
    :class:`~riskstream.risk.factor_history.MarketHistoryFrames` — for benches and tests
    that run the simulator without a history store."""
    from riskstream.feeds.config import SimulatorConfig
    from riskstream.feeds.daily_history import simulate_daily_history
    from riskstream.risk.factor_history import MarketHistoryFrames

    d = simulate_daily_history(universe, config or SimulatorConfig(), days, seed)
    return MarketHistoryFrames(
        d.prices, d.curves, d.vols, f"simulator daily history ({days} business days, seed {seed})"
    )


def risk_config(base: Any, update: dict[str, Any]) -> Any:
    r"""``base`` (a :class:`~riskstream.risk.config.RiskConfig`) with command-line
    ``update``\ s, validated; an error names the command's option (``--window``, ...)."""
    from pydantic import ValidationError

    try:
        return type(base).model_validate({**base.model_dump(), **update})
    except ValidationError as exc:
        e = exc.errors()[0]
        field = str(e["loc"][0]) if e["loc"] else "risk"
        flag = {"window_days": "--window", "n_scenarios": "--scenarios"}.get(field, field)
        raise InputError(flag, e.get("input"), e["msg"].lower()) from None
