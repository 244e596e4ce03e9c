"""The simulator's daily market history (riskstream.feeds.daily_history): anchored at the
reference, deterministic, and drawn from the tick simulator's own market model — its
covariance, its regimes, and the structure the old synthetic history got wrong (GICS sectors,
safe-haven currencies, flight to quality, the leverage effect)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.core.fx import rate_history_to_base
from riskstream.core.instruments import Universe
from riskstream.feeds.config import DailyHistoryConfig, SimulatorConfig, UniverseConfig
from riskstream.feeds.daily_history import (
    SURFACE_EXPIRIES_Y,
    SURFACE_MONEYNESS,
    _anchored_levels,
    business_days,
    daily_market_model,
    daily_transition_matrix,
    simulate_daily_history,
    simulate_driver_moves,
    simulate_regimes,
    stationary_distribution,
)
from riskstream.feeds.markets import zero_rate
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.pricing import KEY_RATE_TENORS_Y, bond_yield_from_price
from tests.feeds.universes import AS_OF, small_universe

CONFIG = SimulatorConfig()
DAYS = 260


@pytest.fixture(scope="module")
def small() -> Universe:
    return small_universe()


@pytest.fixture(scope="module")
def small_history(small):
    return simulate_daily_history(small, CONFIG, DAYS, seed=5)


@pytest.fixture(scope="module")
def reference() -> Universe:
    """A generated reference universe with every FX spot pair, all asset classes."""
    return generate_universe(UniverseConfig(instruments=400, seed=3))


@pytest.fixture(scope="module")
def reference_history(reference):
    return simulate_daily_history(reference, CONFIG, 1000, seed=11)


def _wide_log_returns(prices: pl.DataFrame) -> pl.DataFrame:
    """Daily log returns, one column per symbol, rows by date."""
    returns = prices.sort("symbol", "date").with_columns(
        r=pl.col("close").log().diff().over("symbol")
    )
    return returns.drop_nulls("r").pivot(on="symbol", index="date", values="r").sort("date")


def _market_symbol(universe: Universe) -> str:
    """The front S&P 500 future: the market factor's closest traded proxy."""
    inst = universe.instruments
    es = inst.filter((pl.col("asset_class") == "future") & (pl.col("sector") == "index:SPX"))
    es = es.sort("expiry")
    return es["symbol"][0]


# --------------------------------------------------------------------------- shape, anchor


def test_same_seed_same_history_other_seed_another(small, small_history):
    again = simulate_daily_history(small, CONFIG, DAYS, seed=5)
    for kind, frame in small_history.tables().items():
        assert frame.equals(again.tables()[kind]), kind
    assert small_history.regimes.equals(again.regimes)
    other = simulate_daily_history(small, CONFIG, DAYS, seed=6)
    assert not other.prices.equals(small_history.prices)


def test_rows_in_series_then_date_order(small_history):
    """Rows come sorted as the history store keeps them (series, date, grid point)."""
    keys = {
        "prices": ["symbol", "date"],
        "curves": ["currency", "date", "tenor_years"],
        "vols": ["underlying", "date", "expiry_years", "moneyness"],
    }
    for kind, frame in small_history.tables().items():
        assert frame.equals(frame.sort(keys[kind])), kind
        assert frame.select(keys[kind]).is_unique().all(), kind


def test_business_days_ending_on_as_of(small, small_history):
    for frame in (*small_history.tables().values(), small_history.regimes):
        dates = frame["date"].unique().sort()
        assert dates.len() == DAYS
        assert dates[-1] == AS_OF  # a Friday
        assert (dates.dt.weekday() <= 5).all()  # polars: Monday 1 .. Sunday 7
        # consecutive business days: no business day is missing
        assert np.all(np.busday_count(dates[:-1].to_numpy(), dates[1:].to_numpy()) == 1)
    # a weekend as_of ends on the Friday before
    assert business_days(dt.date(2024, 6, 30), 3)[-1] == np.datetime64("2024-06-28")


def test_one_close_per_day_for_every_non_option_and_last_close_is_reference(small, small_history):
    inst = small.instruments.filter(pl.col("asset_class") != "option")
    prices = small_history.prices
    assert prices.select("date", "symbol").is_unique().all()
    symbols = set(prices["symbol"].unique())
    assert symbols == set(inst["symbol"]) | set(small_history.added_pairs)
    assert not symbols & set(small.instruments.filter(pl.col("asset_class") == "option")["symbol"])
    last = prices.filter(pl.col("date") == AS_OF)
    joined = inst.select("symbol", "ref_price").join(last, on="symbol")
    assert joined.height == inst.height
    assert (joined["close"] == joined["ref_price"]).all()  # exactly
    assert (prices["close"] > 0).all() and prices["close"].is_finite().all()


def test_last_close_is_reference_on_a_generated_universe(reference, reference_history):
    inst = reference.instruments.filter(pl.col("asset_class") != "option")
    last = reference_history.prices.filter(pl.col("date") == AS_OF)
    joined = inst.select("symbol", "ref_price").join(last, on="symbol")
    assert joined.height == inst.height
    assert (joined["close"] == joined["ref_price"]).all()
    assert reference_history.added_pairs == ()  # its FX spot pairs already convert all


def test_equity_and_future_log_returns_are_the_driver_moves(small):
    """Prices are ref * exp(z): the log returns of every contract of one underlying agree
    (parallel in logs), and FX forwards move with their spot plus the carry's roll-down."""
    history = simulate_daily_history(small, CONFIG, DAYS, seed=5)
    wide = _wide_log_returns(history.prices)
    np.testing.assert_allclose(wide["ESU24"], wide["ESZ24"], rtol=0, atol=1e-12)
    # Forward = spot * exp(carry T): the forward's log return is the spot's less carry / 365
    # for each calendar day that passed (covered interest parity, Hull ch. 5).
    model, _, _ = daily_market_model(small, CONFIG)
    fwd = small.instruments.filter(pl.col("symbol").str.starts_with("EURUSD "))
    carry = model.fx_carry[np.flatnonzero(model.fx == fwd["instrument_id"][0])[0]]
    days = np.diff(wide["date"].to_numpy()).astype("timedelta64[D]").astype(float)
    expected = wide["EURUSD"].to_numpy()[1:] - carry * days / 365.0
    np.testing.assert_allclose(wide[fwd["symbol"][0]].to_numpy()[1:], expected, atol=1e-12)


def test_government_bond_yields_move_with_their_curve(small, small_history):
    """A government bond's yield (inverted from its closes, independently, at each day's
    remaining maturity) moves with its currency's zero curve at its maturity: the same
    level/slope/curvature, local and market factors drive both, the bond adds an
    idiosyncratic 8 bp a year against about 90 bp of factor moves, so the correlation of
    daily changes is about 0.99 and the regression slope 1 (0.9 to 1.1 allows for the
    curve's linear interpolation between key tenors and periodic vs continuous rates)."""
    dates = np.array(small_history.curves["date"].unique().sort().to_list(), dtype="datetime64[D]")
    for symbol, currency in (("T 10Y", "USD"), ("DBR 5Y", "EUR")):
        bond = small.instruments.row(by_predicate=pl.col("symbol") == symbol, named=True)
        closes = small_history.prices.filter(pl.col("symbol") == symbol).sort("date")["close"]
        years = (np.datetime64(bond["maturity"], "D") - dates).astype(float) / 365.0
        yields = bond_yield_from_price(
            closes.to_numpy(), bond["coupon"], years, bond["coupon_frequency"]
        )
        curve = small_history.curves.filter(pl.col("currency") == currency).sort("date")
        grid = curve.pivot(on="tenor_years", index="date", values="zero_rate").sort("date")
        tenors = np.asarray(KEY_RATE_TENORS_Y)
        rates = grid.select([str(t) for t in tenors]).to_numpy()
        at_maturity = np.array([np.interp(y, tenors, r) for y, r in zip(years, rates, strict=True)])
        dy, dr = np.diff(yields), np.diff(at_maturity)
        assert np.corrcoef(dy, dr)[0, 1] > 0.95, symbol
        assert 0.9 < np.polyfit(dr, dy, 1)[0] < 1.1, symbol


def test_bad_input_is_named():
    u = small_universe()
    with pytest.raises(InputError, match="days"):
        simulate_daily_history(u, CONFIG, 1, seed=1)
    with pytest.raises(InputError, match="seed"):
        simulate_daily_history(u, CONFIG, 10, seed=-1)
    undated = Universe(u.instruments, u.books, u.positions, u.base_currency, u.fx_to_base)
    with pytest.raises(InputError, match="as_of"):
        simulate_daily_history(undated, CONFIG, 10, seed=1)


# --------------------------------------------------------------------------- same model


def test_factor_model_is_the_tick_simulators(small):
    """Same betas for the same drivers as MarketSimulator with the same config: the history
    adds a pair (GBPUSD) to the universe but draws the structure from the same stream."""
    model, _, added = daily_market_model(small, CONFIG)
    assert added == ("GBPUSD",)
    sim = MarketSimulator(small, CONFIG).model.factors
    ours = model.factors
    for i in np.flatnonzero(sim.driver_of >= 0):
        a = dict(zip(sim.factor_names, sim.loadings[sim.driver_of[i]], strict=True))
        b = dict(zip(ours.factor_names, ours.loadings[ours.driver_of[i]], strict=True))
        assert {k: v for k, v in b.items() if v} == {k: v for k, v in a.items() if v}
        assert ours.idio_vols[ours.driver_of[i]] == sim.idio_vols[sim.driver_of[i]]


def _expected_daily_covariance(fm, config: SimulatorConfig, weights, jump_drivers) -> np.ndarray:
    """Unconditional covariance of one day's driver moves under regime weights ``weights``:
    E[Cov | regime] + Cov(E[move | regime]) (law of total covariance), with the diffusion
    of each regime (FactorModel.covariance at its multipliers, per year, times one day),
    compound-Poisson market jumps (variance lambda (mu^2 + sd^2) a day; compensated, so the
    regime's mean move is its drift alone) and the equities' idiosyncratic jumps."""
    rc = config.regimes
    h = 1.0 / config.trading_days_per_year
    b = fm.loadings[:, fm.factor("market")]
    cov = np.zeros((fm.n_drivers, fm.n_drivers))
    means = np.zeros(3)
    for r in range(3):
        jump_var = rc.market_jumps_per_day[r] * (
            config.market_jump_mean**2 + config.market_jump_sd**2
        )
        cov += weights[r] * (
            fm.covariance(rc.factor_vol_mult[r], rc.idio_vol_mult[r]) * h
            + np.outer(b, b) * jump_var
        )
        means[r] = rc.market_drift_per_year[r] * h
    cov += np.outer(b, b) * (weights @ means**2 - (weights @ means) ** 2)
    cov[jump_drivers, jump_drivers] += config.idio_jumps_per_day * config.idio_jump_sd**2
    return cov


def test_driver_covariance_is_the_model_mixture(small):
    """Over a long sample the realised covariance of daily driver moves is the factor model's
    (FactorModel.covariance / trading days) mixed over the regimes in the daily chain's
    stationary proportions, plus the jumps.

    Stationary weights are computed independently of the module, as a row of P^n for large
    n. Tolerance: regime spells make days dependent, so the standard error of each element
    comes from batch means (50 batches of 800 days, each 9 times the longest mean spell, so
    batches are close to independent; Law & Kelton, *Simulation Modeling and Analysis*,
    sec. 9.5.3); every element must lie within 4.5 standard errors (a two-sided t_49 tail of
    about 5e-5 per element, under 1 % for the ~150 distinct elements).
    """
    model, _, _ = daily_market_model(small, CONFIG)
    fm = model.factors
    P = daily_transition_matrix(CONFIG)
    weights = np.linalg.matrix_power(P, 10_000)[0]
    rng = np.random.default_rng(2024)
    days, batches = 40_001, 50
    regimes = simulate_regimes(P, days, CONFIG.regimes.initial, rng)
    _, dz = simulate_driver_moves(fm, CONFIG, regimes, rng, model.equity_drivers)
    expected = _expected_daily_covariance(fm, CONFIG, weights, model.equity_drivers)
    centred = dz - dz.mean(axis=0)
    blocks = centred.reshape(batches, -1, fm.n_drivers)
    batch_cov = np.einsum("bti,btj->bij", blocks, blocks) / blocks.shape[1]
    realised = batch_cov.mean(axis=0)
    se = batch_cov.std(axis=0, ddof=1) / np.sqrt(batches)
    z = (realised - expected) / np.where(se > 0, se, np.inf)
    assert np.abs(z).max() < 4.5, np.unravel_index(np.abs(z).argmax(), z.shape)
    # the regime occupancy the mixture assumed, within 4.5 batch-means standard errors
    occupied = np.eye(3)[regimes[1:]].reshape(batches, -1, 3).mean(axis=1)
    se_occupancy = occupied.std(axis=0, ddof=1) / np.sqrt(batches)
    assert (np.abs(occupied.mean(axis=0) - weights) < 4.5 * se_occupancy).all()


def test_market_drift_is_the_regimes_with_jumps_compensated(small):
    """Each regime's mean daily market-factor move is market_drift_per_year / trading days:
    the jumps (mean -1 %, up to 2 a day) add tails, not drift (Merton 1976). Tolerance: 4.5
    standard errors of the mean of the regime's days (the moves are independent given the
    regime path)."""
    model, _, _ = daily_market_model(small, CONFIG)
    fm = model.factors
    rng = np.random.default_rng(8)
    regimes = simulate_regimes(daily_transition_matrix(CONFIG), 200_001, 0, rng)
    dF, _ = simulate_driver_moves(fm, CONFIG, regimes, rng, model.equity_drivers)
    market = dF[:, fm.factor("market")]
    for r in range(3):
        days = market[regimes[1:] == r]
        expected = CONFIG.regimes.market_drift_per_year[r] / CONFIG.trading_days_per_year
        se = days.std() / np.sqrt(len(days))
        assert abs(days.mean() - expected) < 4.5 * se, (r, days.mean(), expected, se)
        # uncompensated, the jumps would shift the mean by lambda * mu: many errors away
        shift = CONFIG.regimes.market_jumps_per_day[r] * CONFIG.market_jump_mean
        assert abs(shift) > 9 * se


# --------------------------------------------------------------------------- regimes


@settings(max_examples=40, deadline=None)
@given(st.tuples(*(st.floats(1.0, 500.0),) * 3))
def test_daily_chain_has_the_configured_spells(spells):
    config = SimulatorConfig(daily_history=DailyHistoryConfig(spell_days=spells))
    P = daily_transition_matrix(config)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert (P >= 0).all()
    # a geometric spell with daily exit probability 1 - P_ii has mean 1 / (1 - P_ii)
    np.testing.assert_allclose(1.0 / (1.0 - np.diag(P)), spells, rtol=1e-9)
    # exits go where the tick simulator's per-minute chain sends them
    per_min = np.asarray(config.regimes.transition_per_min)
    for i in range(3):
        j, k = (x for x in range(3) if x != i)
        assert P[i, j] / P[i, k] == pytest.approx(per_min[i, j] / per_min[i, k], rel=1e-9)
    pi = stationary_distribution(P)
    np.testing.assert_allclose(pi @ P, pi, atol=1e-12)


def test_backward_regime_path_has_the_forward_chains_transitions():
    """Drawn backwards with the reversed chain, the path read forwards moves as P says
    (the reversed chain of the reversed chain is P; Norris 1997, thm. 1.9.1). Tolerance:
    4.5 binomial standard errors of each transition frequency."""
    P = daily_transition_matrix(CONFIG)
    path = simulate_regimes(P, 200_000, 2, np.random.default_rng(3))
    assert path[-1] == 2
    counts = np.zeros((3, 3))
    np.add.at(counts, (path[:-1], path[1:]), 1)
    n = counts.sum(axis=1, keepdims=True)
    freq = counts / n
    se = np.sqrt(P * (1 - P) / n)
    assert (np.abs(freq - P) <= 4.5 * se + 1e-12).all(), freq - P


def test_regime_path_ends_in_todays_regime(small_history):
    assert small_history.regimes["regime"][-1] == CONFIG.regimes.initial
    assert set(small_history.regimes["regime"].unique()) <= {0, 1, 2}


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_anchored_levels_end_at_zero_and_move_as_drawn(steps, width, seed):
    moves = np.random.default_rng(seed).normal(size=(steps, width))
    levels = _anchored_levels(moves)
    assert levels.shape == (steps + 1, width)
    assert (levels[-1] == 0.0).all()
    np.testing.assert_allclose(np.diff(levels, axis=0), moves, atol=1e-12)


# --------------------------------------------------------------------------- structure


def test_safe_havens_rally_and_carry_currencies_fall_in_sell_offs(reference, reference_history):
    """FX_RISK_BETA: JPY and CHF gain against USD when equities fall (negative correlation of
    their USD value with the S&P 500 future), AUD and MXN lose (Brunnermeier, Nagel &
    Pedersen 2008). With 999 days a correlation's standard error is about 0.03; the model
    puts these beyond +/-0.25."""
    currencies = ["JPY", "CHF", "AUD", "MXN"]
    rates, _ = rate_history_to_base(reference_history.prices, currencies, "USD")
    fx = (
        rates.sort("currency", "date")
        .with_columns(r=pl.col("rate").log().diff().over("currency"))
        .drop_nulls("r")
        .pivot(on="currency", index="date", values="r")
        .sort("date")
    )
    wide = _wide_log_returns(reference_history.prices).join(fx, on="date")
    market = wide[_market_symbol(reference)].to_numpy()
    corr = {c: np.corrcoef(wide[c].to_numpy(), market)[0, 1] for c in currencies}
    assert corr["JPY"] < -0.2 and corr["CHF"] < -0.15, corr
    assert corr["AUD"] > 0.2 and corr["MXN"] > 0.2, corr


def test_equities_of_one_sector_move_together_more_than_across_sectors(
    reference, reference_history
):
    """The GICS sector factor (vol 8 %) adds about 0.1 to the correlation of two stocks of
    the same sector; the mean over hundreds of pairs has a standard error below 0.01."""
    eq = reference.instruments.filter(pl.col("asset_class") == "equity")
    wide = _wide_log_returns(reference_history.prices)
    corr = np.corrcoef(wide.select(eq["symbol"].to_list()).to_numpy().T)
    sector = eq["sector"].to_numpy()
    same = (sector[:, None] == sector[None, :]) & ~np.eye(len(sector), dtype=bool)
    across = sector[:, None] != sector[None, :]
    assert corr[same].mean() > corr[across].mean() + 0.05


def test_developed_yields_fall_and_emerging_rise_in_sell_offs(reference, reference_history):
    """Flight to quality (BOND_MARKET_BETA): developed sovereign bond prices rise and their
    curves fall when equities fall; emerging curves sell off with them. The beta gives a
    correlation near +/-0.3 to +/-0.6; 999 days give a standard error near 0.03."""
    wide = _wide_log_returns(reference_history.prices)
    market = wide[_market_symbol(reference)].to_numpy()
    gov = reference.instruments.filter(
        (pl.col("asset_class") == "bond")
        & (pl.col("sector") == "government")
        & pl.col("country").is_in(["US", "DE", "GB", "JP", "CA", "AU"])
    )
    corr = [np.corrcoef(wide[s].to_numpy(), market)[0, 1] for s in gov["symbol"]]
    assert len(corr) > 5 and max(corr) < -0.1, corr
    ten = (
        reference_history.curves.filter(pl.col("tenor_years") == 10.0)
        .sort("currency", "date")
        .with_columns(d=pl.col("zero_rate").diff().over("currency"))
        .drop_nulls("d")
        .pivot(on="currency", index="date", values="d")
        .sort("date")
    )
    for c in ("USD", "EUR", "JPY", "GBP"):
        assert np.corrcoef(ten[c].to_numpy(), market)[0, 1] > 0.2, c
    for c in ("MXN", "BRL", "ZAR"):
        assert np.corrcoef(ten[c].to_numpy(), market)[0, 1] < -0.2, c


def test_implied_vols_rise_when_the_underlying_falls(small, small_history):
    """The leverage effect (leverage -3): daily changes of the log ATM implied vol and the
    underlying's log return are strongly negatively correlated."""
    wide = _wide_log_returns(small_history.prices)
    for underlying in small_history.vols["underlying"].unique():
        atm = small_history.vols.filter(
            (pl.col("underlying") == underlying)
            & (pl.col("expiry_years") == 0.25)
            & (pl.col("moneyness") == 1.0)
        ).sort("date")["implied_vol"]
        change = np.diff(np.log(atm.to_numpy()))
        assert np.corrcoef(change, wide[underlying].to_numpy())[0, 1] < -0.5, underlying


def test_surfaces_end_at_the_simulators_calm_surface(small, small_history):
    """Today's surface is where the tick simulator starts: its ATM term structure
    (MarketModel.atm_vol) and a skew down the strikes."""
    sim = MarketSimulator(small, CONFIG).model
    today = small_history.vols.filter(pl.col("date") == AS_OF)
    assert today.height == len(sim.underlyings) * len(SURFACE_EXPIRIES_Y) * len(SURFACE_MONEYNESS)
    symbols = small.instruments["symbol"].to_list()
    for u in sim.underlyings:
        atm = today.filter((pl.col("underlying") == symbols[u]) & (pl.col("moneyness") == 1.0))
        atm = atm.sort("expiry_years")
        expected = sim.atm_vol(int(u), np.asarray(SURFACE_EXPIRIES_Y))
        np.testing.assert_allclose(atm["implied_vol"].to_numpy(), expected, rtol=1e-12)
        smile = today.filter(
            (pl.col("underlying") == symbols[u]) & (pl.col("expiry_years") == 0.25)
        ).sort("moneyness")["implied_vol"]
        assert smile[0] > smile[2] > smile[4]  # puts dearer than calls: the skew


def test_curves_end_at_todays_reference_curves(small, small_history):
    curves = small_history.curves
    currencies = sorted(
        set(small.instruments["currency"]) | set(small.instruments["base_currency"].drop_nulls())
    )
    assert sorted(curves["currency"].unique()) == currencies
    assert sorted(curves["tenor_years"].unique()) == list(KEY_RATE_TENORS_Y)
    today = curves.filter(pl.col("date") == AS_OF)
    expected = zero_rate(today["currency"].to_numpy(), today["tenor_years"].to_numpy())
    assert (today["zero_rate"].to_numpy() == expected).all()
    assert curves.select("date", "currency", "tenor_years").is_unique().all()


def test_every_currency_converts_to_the_base_currency(small, small_history):
    """The small universe quotes GBP equities but no GBP pair: the history adds GBPUSD, so
    every currency has a rate to USD on every day."""
    currencies = set(small.instruments["currency"]) | set(
        small.instruments["base_currency"].drop_nulls()
    )
    rates, paths = rate_history_to_base(small_history.prices, currencies, "USD")
    assert all(paths[c] is not None for c in currencies)
    counts = dict(rates.group_by("currency").len().iter_rows())
    assert counts == {c: DAYS for c in currencies - {"USD"}}
    # and in another base currency
    eur = Universe(
        small.instruments, small.books, small.positions, "EUR", small.fx_to_base, as_of=AS_OF
    )
    history = simulate_daily_history(eur, CONFIG, 5, seed=1)
    _, paths = rate_history_to_base(history.prices, currencies, "EUR")
    assert all(paths[c] is not None for c in currencies)
