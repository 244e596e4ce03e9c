"""Multi-year daily market history of a universe, drawn from the tick simulator's own model.

The demo's risk engine fits its scenarios on stored daily history, as it does for a user's
book. For the reference universe that history is simulated here from the **same** market
model the tick simulator runs (:class:`~riskstream.feeds.market_model.MarketModel`): the
same factor model (:func:`~riskstream.feeds.factors.build_factor_model`, with the same
betas, drawn from the simulator's structure stream of ``config.seed``), the same regimes'
volatility multipliers, drifts and jumps (:class:`~riskstream.feeds.config.RegimeConfig`),
the same implied-volatility surface and its dynamics, the same curves
(:func:`~riskstream.feeds.markets.zero_rate`) and carry. Only the time step is a business
day, and the regime spells and the implied-volatility half-life are on a daily scale
(:class:`~riskstream.feeds.config.DailyHistoryConfig`).

Each business day ``t`` (Monday to Friday; the history ends on the universe's ``as_of``, or
the business day before it when ``as_of`` falls on a weekend), with :math:`h = 1/` trading
days per year:

1. the regime :math:`r_t` follows the daily chain (:func:`daily_transition_matrix`);
2. factors move
   :math:`dF = \\mu_r h\\, e_{mkt} + m_r \\sigma \\sqrt{h} Z + (J - \\lambda_r \\mu_J)\\, e_{mkt}`,
   with compound-Poisson market jumps :math:`J` (``market_jumps_per_day``
   :math:`\\lambda_r` of the regime, sizes :math:`N(\\mu_J, \\sigma_J)`), compensated so the
   regime's expected market move is its drift :math:`\\mu_r` (see the note below);
3. drivers move :math:`dz = B\\, dF + m^\\varepsilon_r \\sigma^\\varepsilon \\sqrt{h}\\, Z'`
   plus idiosyncratic equity jumps (``idio_jumps_per_day``, :math:`N(0, \\sigma_{J,i})`).

**Anchored at today.** The path is drawn and then shifted so that its last point is the
reference: a driver's level on day ``t`` is minus the sum of its moves after ``t``, so every
instrument's last close is its ``ref_price`` exactly, every curve ends at today's
:func:`~riskstream.feeds.markets.zero_rate` and every surface at its calm level. The regime
path is drawn backwards from today's regime (``regimes.initial``, where the tick simulator
starts) with the time-reversed chain :math:`\\hat P_{ij} = \\pi_j P_{ji} / \\pi_i`, which
gives exactly the law of a stationary chain conditioned on its last state.

Decision (jumps): the tick simulator adds its market jumps (mean -1 %, 0.1 to 2 a day by
regime) uncompensated, which in a session of minutes is invisible but over years would drag
the market down by about 60 % a year; the daily history compensates them (Merton 1976), so
each regime's drift is what ``market_drift_per_year`` says and the jumps only fatten tails.

What each series is:

* equities and futures: ``ref * exp(z)`` (every contract of an underlying moves with its one
  driver, parallel in logs; a contract listed after a past date simply carries the driver's
  path there, as if it had traded);
* FX spot ``ref * exp(z)``; FX forwards at covered interest parity off the spot,
  ``ref * exp(z + c (T_t - T_0))`` with the simulator's carry ``c = r_quote - r_base``
  (:attr:`MarketModel.fx_carry`) and ``T_t`` the ACT/365 years to value date on day ``t``;
* bonds: priced from the yield ``y0 + z`` (``y0`` reprices ``ref_price`` today) at each
  day's remaining maturity (dirty prices, as ``ref_price`` and the simulator's fair
  values) with
  :func:`riskstream.pricing.bond_price_from_yield` (a bond issued after a past date carries
  its yield path there);
* a currency pair series for every currency of the universe that its FX spot instruments do
  not already convert to the base currency (:func:`riskstream.core.fx.conversion_paths`):
  the pair of :data:`~riskstream.feeds.markets.FX_PAIRS` against USD, modelled as the FX
  instrument it would be (:attr:`DailyHistory.added_pairs`);
* curves: each currency's zero curve at :data:`~riskstream.pricing.KEY_RATE_TENORS_Y`, moved
  by the model's rate factors (level, slope, curvature with Nelson-Siegel loadings, the
  currency's local level ``rates:<CCY>``) and the flight-to-quality beta of its sovereign on
  the market factor (:func:`~riskstream.feeds.factors.sovereign_market_beta`) — what a
  zero-coupon sovereign bond of that currency does in the simulator;
* vols: per option underlying, the simulator's surface (:func:`atm_surface_vol`,
  :func:`surface_vol`) on :data:`SURFACE_EXPIRIES_Y` x :data:`SURFACE_MONEYNESS`, its level
  following the simulator's step (:func:`implied_vol_log_move`: mean reversion to the
  regime's model volatility, the leverage effect, vol of vol) at the daily step, pinned to
  the calm level today by the AR(1) bridge :math:`x_t + \\phi^{T-t} (x^*_T - x_T)`, the
  path's law given its last value.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.errors import InputError
from riskstream.core.fx import conversion_paths, pair_symbol, split_pair
from riskstream.core.instruments import Universe
from riskstream.feeds import asset_classes
from riskstream.feeds.config import SimulatorConfig
from riskstream.feeds.factors import (
    FACTOR_VOLS,
    FactorModel,
    nelson_siegel_loadings,
    sovereign_market_beta,
)
from riskstream.feeds.market_model import (
    SMILE_SKEW,
    VOL_OF_VOL,
    YEAR_NS,
    MarketModel,
    atm_surface_vol,
    implied_vol_log_move,
    reversion_fraction,
    surface_vol,
)
from riskstream.feeds.markets import CURRENCIES, FX_PAIRS, zero_rate
from riskstream.pricing import KEY_RATE_TENORS_Y, bond_price_from_yield, bond_yield_from_price

SURFACE_EXPIRIES_Y: tuple[float, ...] = (1.0 / 12.0, 0.25, 0.5, 1.0, 2.0)
SURFACE_MONEYNESS: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.2)
"""The fixed grid (years to expiry x strike/spot) of the simulated implied-vol history."""

DAYS_PER_YEAR = YEAR_NS / NS_PER_DAY  # ACT/365 years to value dates and maturities
USD = "USD"

PRICES_SCHEMA = {"date": pl.Date, "symbol": pl.String, "close": pl.Float64}
CURVES_SCHEMA = {
    "date": pl.Date,
    "currency": pl.String,
    "tenor_years": pl.Float64,
    "zero_rate": pl.Float64,
}
VOLS_SCHEMA = {
    "date": pl.Date,
    "underlying": pl.String,
    "expiry_years": pl.Float64,
    "moneyness": pl.Float64,
    "implied_vol": pl.Float64,
}
REGIMES_SCHEMA = {"date": pl.Date, "regime": pl.Int8}


@dataclass(frozen=True)
class DailyHistory:
    """A simulated daily market history, in the history store's long formats.

    Attributes
    ----------
    prices : polars.DataFrame
        ``date`` (Date), ``symbol``, ``close``: one row per business day per non-option
        instrument, plus the currency pairs in ``added_pairs``; closes in the instrument's
        currency (bonds per 100 face, FX pairs quote units per base unit).
    curves : polars.DataFrame
        ``date``, ``currency``, ``tenor_years``, ``zero_rate`` (continuously compounded,
        annual decimal) for every currency of the universe at the key-rate tenors.
    vols : polars.DataFrame
        ``date``, ``underlying`` (symbol of the option underlying), ``expiry_years``,
        ``moneyness`` (K/S), ``implied_vol`` (annual decimal).
    regimes : polars.DataFrame
        ``date``, ``regime`` (Int8: 0 calm, 1 volatile, 2 crisis): the true regime path.
    added_pairs : tuple of str
        Currency pairs simulated besides the universe's instruments, so that every currency
        converts to the base currency.
    """

    prices: pl.DataFrame
    curves: pl.DataFrame
    vols: pl.DataFrame
    regimes: pl.DataFrame
    added_pairs: tuple[str, ...]

    def tables(self) -> dict[str, pl.DataFrame]:
        """The three history-store tables by kind: ``prices``, ``curves``, ``vols``."""
        return {"prices": self.prices, "curves": self.curves, "vols": self.vols}


# --------------------------------------------------------------------------- regimes


def daily_transition_matrix(config: SimulatorConfig) -> np.ndarray:
    """The daily regime chain, shape (3, 3): row ``i`` gives the probability of each regime on
    the next business day.

    Regime ``i`` is left with probability ``1 / spell_days[i]`` a day (geometric spells of
    mean ``spell_days[i]``), to ``j`` in the tick simulator's proportions
    :math:`P_{ij}/(1 - P_{ii})` of ``regimes.transition_per_min`` (see
    :class:`~riskstream.feeds.config.DailyHistoryConfig`). A regime the per-minute chain
    never leaves is never left here either.
    """
    per_min = np.asarray(config.regimes.transition_per_min, dtype=np.float64)
    leave_min = 1.0 - np.diag(per_min)
    exits = np.divide(
        per_min, leave_min[:, None], out=np.zeros_like(per_min), where=leave_min[:, None] > 0
    )
    np.fill_diagonal(exits, 0.0)
    leave = np.where(leave_min > 0, 1.0 / np.asarray(config.daily_history.spell_days), 0.0)
    P = exits * leave[:, None]
    np.fill_diagonal(P, 1.0 - leave)
    return P


def stationary_distribution(P: np.ndarray) -> np.ndarray:
    """The stationary distribution :math:`\\pi = \\pi P` of an irreducible chain, shape (n,)."""
    n = len(P)
    A = np.vstack([P.T - np.eye(n), np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()


def simulate_regimes(P: np.ndarray, days: int, final: int, rng: np.random.Generator) -> np.ndarray:
    """A path of ``days`` regimes ending in ``final``, drawn backwards with the time-reversed
    chain :math:`\\hat P_{ij} = \\pi_j P_{ji} / \\pi_i` (Norris, *Markov Chains*, 1997,
    thm. 1.9.1): the law of the stationary chain ``P`` given its last state. int8, shape
    (days,)."""
    pi = stationary_distribution(P)
    if pi[final] <= 0.0:
        raise InputError(
            "simulator.regimes.initial", final, "a regime the daily chain spends time in"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        R = np.where(pi[:, None] > 0, P.T * pi[None, :] / pi[:, None], 0.0)
    cum = np.cumsum(R, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(days - 1)
    path = np.empty(days, dtype=np.int8)
    path[-1] = final
    for t in range(days - 2, -1, -1):
        path[t] = np.searchsorted(cum[path[t + 1]], u[t], side="right")
    return path


# --------------------------------------------------------------------------- drivers


def simulate_driver_moves(
    factors: FactorModel,
    config: SimulatorConfig,
    regimes: np.ndarray,
    rng: np.random.Generator,
    jump_drivers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Daily factor and driver moves over a regime path (steps 2 and 3 of the module
    docstring); move ``t`` takes the market from day ``t`` to day ``t + 1`` in the regime of
    day ``t + 1``.

    Parameters
    ----------
    factors : FactorModel
    config : SimulatorConfig
        Regime multipliers, drifts and jumps; trading days per year.
    regimes : ndarray of int, shape (T,)
    rng : numpy.random.Generator
    jump_drivers : ndarray of int
        Drivers with idiosyncratic (earnings-like) jumps: the equities.

    Returns
    -------
    factor_moves : ndarray of shape (T - 1, K)
    driver_moves : ndarray of shape (T - 1, D)
        Log-price changes, or yield changes (decimal) where ``factors.is_yield``.
    """
    rc = config.regimes
    r = np.asarray(regimes, dtype=np.intp)[1:]
    steps = len(r)
    h = 1.0 / config.trading_days_per_year
    market = factors.factor("market")
    fmult = np.asarray(rc.factor_vol_mult)[r][:, None]
    imult = np.asarray(rc.idio_vol_mult)[r][:, None]
    dF = (
        fmult
        * (factors.factor_vols * math.sqrt(h))
        * rng.standard_normal((steps, len(factors.factor_vols)))
    )
    # Compound-Poisson market jumps: the sum of N normal jumps is N mu + sqrt(N) sd Z. They
    # are compensated (Merton 1976): the drift is lowered by their mean lambda mu_J, so the
    # regime's expected move is market_drift_per_year. Uncompensated, the jumps' -1 % mean
    # at 0.1 to 2 a day would add about -60 % a year to the market over a long history.
    intensity = np.asarray(rc.market_jumps_per_day)[r]
    n_jumps = rng.poisson(intensity)
    dF[:, market] += (
        np.asarray(rc.market_drift_per_year)[r] * h
        + (n_jumps - intensity) * config.market_jump_mean
        + np.sqrt(n_jumps) * config.market_jump_sd * rng.standard_normal(steps)
    )
    dz = dF @ factors.loadings.T
    dz += (
        imult * (factors.idio_vols * math.sqrt(h)) * rng.standard_normal((steps, factors.n_drivers))
    )
    if len(jump_drivers) and config.idio_jumps_per_day > 0:
        hits = rng.poisson(config.idio_jumps_per_day, (steps, len(jump_drivers)))
        t, k = np.nonzero(hits)
        dz[t, jump_drivers[k]] += (
            np.sqrt(hits[t, k]) * config.idio_jump_sd * rng.standard_normal(len(t))
        )
    return dF, dz


def _anchored_levels(moves: np.ndarray) -> np.ndarray:
    """Levels on T days from T - 1 moves, zero on the last day: level_t = -sum of the moves
    after day t. Shape (T, ...)."""
    cum = np.cumsum(moves, axis=0)
    return np.concatenate([-cum[-1:], cum - cum[-1]], axis=0)


def business_days(end: dt.date, days: int) -> np.ndarray:
    """The ``days`` business days (Monday to Friday) ending on ``end`` (or the business day
    before it on a weekend), datetime64[D], ascending."""
    last = np.busday_offset(np.datetime64(end, "D"), 0, roll="backward")
    return np.busday_offset(last, np.arange(-(days - 1), 1, dtype=np.int64))


# --------------------------------------------------------------------------- universe


def _universe_currencies(universe: Universe) -> list[str]:
    inst = universe.instruments
    found = set(inst["currency"].drop_nulls().to_list())
    found |= set(inst["base_currency"].drop_nulls().to_list())
    found.add(universe.base_currency)
    return sorted(found)


def _spot_pair_symbols(instruments: pl.DataFrame) -> list[str]:
    fx = instruments.filter((pl.col("asset_class") == "fx") & pl.col("expiry").is_null())
    return [s for s in fx["symbol"].to_list() if split_pair(s) is not None]


def _with_conversion_pairs(
    universe: Universe, as_of: dt.date
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The universe's instruments plus the FX spot pairs (against USD, from
    :data:`FX_PAIRS`, built as the universe generator builds them) that every currency of
    the universe needs to convert to the base currency; and the added symbols."""
    inst = universe.instruments
    base = universe.base_currency
    currencies = _universe_currencies(universe)
    have = _spot_pair_symbols(inst)
    missing = [c for c, p in conversion_paths(have, currencies, base).items() if p is None]
    if not missing:
        return inst, ()
    market_pairs = {
        (b, q) for b, q in FX_PAIRS.select("base", "quote").iter_rows() if USD in (b, q)
    }
    wanted: set[str] = set()
    for c in {*missing, base} - {USD}:
        for b, q in ((c, USD), (USD, c)):
            if (b, q) in market_pairs and pair_symbol(b, q) not in have:
                wanted.add(pair_symbol(b, q))
    still = [
        c for c, p in conversion_paths([*have, *wanted], currencies, base).items() if p is None
    ]
    if still:
        raise InputError(
            "currency",
            still[0],
            f"a currency with an FX pair to {base} in the universe or in "
            f"riskstream.feeds.markets.FX_PAIRS ({sorted(CURRENCIES['currency'])})",
        )
    spot = asset_classes.fx(FX_PAIRS.height, as_of)  # one spot row per pair of FX_PAIRS
    extra = spot.filter(pl.col("symbol").is_in(sorted(wanted))).sort("symbol")
    extra = extra.with_columns(
        instrument_id=pl.int_range(inst.height, inst.height + extra.height, dtype=pl.Int32)
    )
    full = pl.concat([inst, extra], how="diagonal_relaxed")
    full = full.select([pl.col(c).cast(t) for c, t in inst.schema.items()])
    return full, tuple(extra["symbol"].to_list())


def _extended_factors(fm: FactorModel, currencies: list[str]) -> FactorModel:
    """``fm`` plus a local rate factor ``rates:<CCY>`` (vol ``FACTOR_VOLS["rates:local"]``,
    no driver loading on it) for each curve currency that has no bond in the universe."""
    extra = [f"rates:{c}" for c in currencies if f"rates:{c}" not in fm.factor_names]
    if not extra:
        return fm
    return replace(
        fm,
        factor_names=fm.factor_names + tuple(extra),
        factor_vols=np.concatenate(
            [fm.factor_vols, np.full(len(extra), FACTOR_VOLS["rates:local"])]
        ),
        loadings=np.hstack([fm.loadings, np.zeros((fm.n_drivers, len(extra)))]),
    )


# --------------------------------------------------------------------------- public API


def daily_market_model(
    universe: Universe, config: SimulatorConfig
) -> tuple[MarketModel, pl.DataFrame, tuple[str, ...]]:
    """The tick simulator's market model of ``universe`` as of its ``as_of`` date, with the
    currency pairs the history adds (see :func:`simulate_daily_history`).

    Returns
    -------
    model : MarketModel
        Built as :class:`~riskstream.feeds.simulator.MarketSimulator` builds it: the same
        structure stream of ``config.seed``, so the same betas for the same drivers.
    instruments : polars.DataFrame
        The universe's instruments followed by the added FX spot pairs (ids continuing).
    added_pairs : tuple of str
        Symbols of the added pairs.
    """
    as_of = getattr(universe, "as_of", None)
    if as_of is None:
        raise InputError("universe.as_of", None, "the date of the reference prices")
    unknown = sorted(set(_universe_currencies(universe)) - set(CURRENCIES["currency"]))
    if unknown:
        raise InputError("currency", unknown[0], f"one of {sorted(CURRENCIES['currency'])}")
    inst, added = _with_conversion_pairs(universe, as_of)
    # MarketSimulator spawns three streams from config.seed: structure, dynamics, flow.
    structure = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(3)[0])
    start = dt.datetime.combine(as_of, config.session_open_utc, tzinfo=dt.UTC)
    start_ns = int(start.timestamp()) * NS_PER_S
    unused = np.random.default_rng(0)  # the model's path stream: construction draws nothing
    return MarketModel(inst, config, start_ns, structure, unused), inst, added


def simulate_daily_history(
    universe: Universe, config: SimulatorConfig, days: int, seed: int
) -> DailyHistory:
    """Simulate ``days`` business days of market history ending today (the module docstring).

    Parameters
    ----------
    universe : Universe
        Instruments with reference prices as of ``universe.as_of`` (required).
    config : SimulatorConfig
        The market model: ``seed`` fixes its structure (the betas, as the tick simulator
        draws them), ``regimes`` its regimes, ``daily_history`` the daily time scales.
    days : int
        Number of business days, at least 2 (``UniverseConfig.history_days``).
    seed : int
        Seed of the path (regimes, factor and idiosyncratic moves, jumps).

    Returns
    -------
    DailyHistory
        Same inputs, same history, bit for bit.

    Raises
    ------
    InputError
        ``days`` < 2, a negative ``seed``, no ``as_of`` date, or a currency that no FX
        pair converts.
    """
    if days < 2:
        raise InputError("days", days, "at least 2 business days")
    if seed < 0:
        raise InputError("seed", seed, "a non-negative integer")
    model, inst, added = daily_market_model(universe, config)
    currencies = _universe_currencies(universe)
    fm = _extended_factors(model.factors, currencies)
    rng = np.random.default_rng(seed)

    dates = business_days(universe.as_of, days)
    P = daily_transition_matrix(config)
    regimes = simulate_regimes(P, days, config.regimes.initial, rng)
    dF, dz = simulate_driver_moves(fm, config, regimes, rng, model.equity_drivers)
    z = _anchored_levels(dz)  # (T, D), zero today
    prices = _prices(inst, model, z, dates)
    curves = _curves(fm, dF, currencies, dates)
    vols = _vols(inst, model, config, regimes, dz, rng, dates)
    date_series = pl.Series("date", dates).cast(pl.Date)
    regime_frame = pl.DataFrame({"date": date_series, "regime": regimes}, schema=REGIMES_SCHEMA)
    return DailyHistory(prices, curves, vols, regime_frame, added)


def _long(
    schema: dict[str, pl.DataType],
    dates: np.ndarray,
    series: np.ndarray,
    values: np.ndarray,
    points: dict[str, np.ndarray] | None = None,
) -> pl.DataFrame:
    """A long frame of ``schema`` (date, series, point columns..., value) from ``values`` of
    shape (T dates, S series, P points per series), rows sorted by series (in ``series``
    order), date, point: the history store's order, so its checks sort little."""
    T, S = values.shape[:2]
    P = values.shape[2] if values.ndim == 3 else 1
    names = list(schema)
    columns = {
        names[0]: pl.Series(dates).cast(pl.Date).gather(np.tile(np.repeat(np.arange(T), P), S)),
        names[1]: pl.Series(series).gather(np.repeat(np.arange(S), T * P)),
    }
    for name, point in (points or {}).items():
        columns[name] = np.tile(point, S * T)
    columns[names[-1]] = np.moveaxis(values.reshape(T, S, P), 1, 0).reshape(-1)
    return pl.DataFrame(columns, schema=schema)


def _prices(inst: pl.DataFrame, model: MarketModel, z: np.ndarray, dates: np.ndarray):
    asset = inst["asset_class"].to_numpy()
    ref = model.ref
    driver = model.driver_of
    ids = np.flatnonzero(asset != "option")
    closes = np.empty((len(dates), inst.height))
    lin = model.linear
    closes[:, lin] = ref[lin] * np.exp(z[:, driver[lin]])

    # FX: spot ref * exp(z); forwards at covered interest parity off the spot path.
    fx = model.fx
    if len(fx):
        value_date = inst["expiry"].to_numpy()[fx].astype("datetime64[D]")
        forward = ~np.isnat(value_date)
        extra_years = np.zeros((len(dates), len(fx)))
        extra_years[:, forward] = (dates[-1] - dates[:, None]).astype(np.float64) / DAYS_PER_YEAR
        closes[:, fx] = ref[fx] * np.exp(z[:, driver[fx]] + model.fx_carry * extra_years)

    # Bonds: the yield path at each day's remaining maturity (ACT/365 from each close; y0
    # reprices ref_price at today's close), priced in chunks of similar maturity (the
    # cash-flow grid is as long as the longest bond of a chunk).
    bonds = model.bonds
    if len(bonds):
        maturity = inst["maturity"].to_numpy()[bonds].astype("datetime64[D]")
        years = (maturity[None, :] - dates[:, None]).astype(np.float64) / DAYS_PER_YEAR
        years = np.maximum(years, 1e-4)
        coupon, freq = model.bond_coupon, model.bond_freq
        y0 = bond_yield_from_price(ref[bonds], coupon, years[-1], freq)
        yields = y0 + z[:, driver[bonds]]
        order = np.argsort(years[0])
        for chunk in np.array_split(order, max(1, len(order) // 50)):
            closes[:, bonds[chunk]] = bond_price_from_yield(
                yields[:, chunk], coupon[chunk], years[:, chunk], freq[chunk]
            )
    # Today is the reference: exp(0) gives it exactly for the others; a bond's y0 reprices
    # it to the yield solver's tolerance, so its last close is set to it.
    closes[-1, ids] = ref[ids]
    symbols = inst["symbol"].to_numpy()[ids].astype(str)
    order = np.argsort(symbols, kind="stable")
    return _long(PRICES_SCHEMA, dates, symbols[order], closes[:, ids[order]])


def _curves(fm: FactorModel, dF: np.ndarray, currencies: list[str], dates: np.ndarray):
    tenors = np.asarray(KEY_RATE_TENORS_Y)
    ns = nelson_siegel_loadings(tenors)  # (n_tenors, 3)
    curve_factors = [fm.factor(n) for n in ("rates:level", "rates:slope", "rates:curvature")]
    global_moves = dF[:, curve_factors] @ ns.T  # (T-1, n_tenors)
    country = dict(CURRENCIES.select("currency", "country").iter_rows())
    local = dF[:, [fm.factor(f"rates:{c}") for c in currencies]]  # (T-1, C)
    beta = np.array([sovereign_market_beta(country[c]) for c in currencies])
    market = dF[:, fm.factor("market")]
    moves = global_moves[:, None, :] + (local + beta * market[:, None])[:, :, None]
    levels = _anchored_levels(moves)  # (T, C, n_tenors)
    today = zero_rate(np.array(currencies)[:, None], tenors[None, :])  # (C, n_tenors)
    rates = today + levels  # currencies are sorted
    return _long(CURVES_SCHEMA, dates, np.array(currencies), rates, {"tenor_years": tenors})


def _vols(
    inst: pl.DataFrame,
    model: MarketModel,
    config: SimulatorConfig,
    regimes: np.ndarray,
    dz: np.ndarray,
    rng: np.random.Generator,
    dates: np.ndarray,
):
    under = model.underlyings
    if not len(under):
        return pl.DataFrame(schema=VOLS_SCHEMA)
    steps = len(dates) - 1
    h = 1.0 / config.trading_days_per_year
    calm = model.iv_anchor
    target = np.log(calm * model.iv_regime_ratio[regimes.astype(np.intp)])  # (T, U)
    under_moves = dz[:, model.driver_of[under]]
    reversion = reversion_fraction(1.0, config.daily_history.implied_vol_half_life_days)
    noise = VOL_OF_VOL * math.sqrt(h) * rng.standard_normal((steps, len(under)))
    x = np.empty((len(dates), len(under)))
    x[0] = target[0]
    for t in range(steps):
        x[t + 1] = x[t] + implied_vol_log_move(
            x[t], target[t + 1], reversion, config.leverage, under_moves[t], noise[t]
        )
    # Pin today's level to the calm one (where the tick simulator starts): for an AR(1)
    # x_t = phi x_{t-1} + e_t, x_t - phi^(T-t) x_T is independent of x_T, so adding
    # phi^(T-t) (x_T* - x_T) gives the path's law given x_T = x_T* (the AR(1) bridge).
    phi = 1.0 - reversion
    decay = phi ** np.arange(len(dates) - 1, -1, -1, dtype=np.float64)[:, None]
    level = np.exp(x + decay * (np.log(calm) - x[-1]))
    level[-1] = calm  # exp(log(calm)) may differ from it in the last bit
    asset = inst["asset_class"].to_numpy()
    skew = np.where(asset[under] == "future", SMILE_SKEW["index"], SMILE_SKEW["stock"])
    expiries = np.asarray(SURFACE_EXPIRIES_Y)
    log_m = np.log(np.asarray(SURFACE_MONEYNESS))
    E, M, U = len(expiries), len(log_m), len(under)
    atm = atm_surface_vol(calm[None, :, None], level[:, :, None], expiries[None, None, :])
    vols = surface_vol(
        atm[..., None], skew[None, :, None, None], log_m[None, None, None, :],
        expiries[None, None, :, None],
    )  # fmt: skip  # (T, U, E, M)
    symbols = inst["symbol"].to_numpy()[under].astype(str)
    order = np.argsort(symbols, kind="stable")
    points = {
        "expiry_years": np.repeat(expiries, M),
        "moneyness": np.tile(np.asarray(SURFACE_MONEYNESS), E),
    }
    grid = vols[:, order].reshape(len(dates), U, E * M)
    return _long(VOLS_SCHEMA, dates, symbols[order], grid, points)


__all__ = [
    "SURFACE_EXPIRIES_Y",
    "SURFACE_MONEYNESS",
    "DailyHistory",
    "business_days",
    "daily_market_model",
    "daily_transition_matrix",
    "simulate_daily_history",
    "simulate_driver_moves",
    "simulate_regimes",
    "stationary_distribution",
]
