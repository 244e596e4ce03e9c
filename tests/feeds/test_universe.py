"""The reference universe: composition, determinism, AUM, liquidity and the formulas it uses."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import QuantLib as ql  # noqa: N813 (QuantLib's own documented alias)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.core.instruments import ASSET_CLASSES, Instrument, Position, Universe
from riskstream.feeds import asset_classes
from riskstream.feeds.asset_classes import _third_friday
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.exposure import gross_exposure, implied_vol_delta, unit_exposure
from riskstream.feeds.markets import CURRENCIES, FX_PAIRS, zero_rate
from riskstream.feeds.universe import DESKS, _class_counts, generate_universe, universe_summary


@pytest.fixture(scope="module")
def universe() -> Universe:
    return generate_universe(UniverseConfig(instruments=10_000, seed=7))


def of_class(u: Universe, asset_class: str) -> pl.DataFrame:
    return u.instruments.filter(pl.col("asset_class") == asset_class)


# --------------------------------------------------------------------------- composition


def test_five_asset_classes_in_roughly_the_planned_shares(universe: Universe) -> None:
    summary = universe_summary(universe)
    counts = summary["by_asset_class"]
    assert summary["instruments"] == 10_000 == sum(counts.values())
    assert set(counts) == set(ASSET_CLASSES)
    assert counts["option"] >= 2_000  # at least 20 % options
    for cls, share in {"equity": 0.35, "future": 0.08, "fx": 0.07, "bond": 0.20}.items():
        assert counts[cls] == pytest.approx(share * 10_000, rel=0.1), cls


def test_every_row_is_a_valid_instrument(universe: Universe) -> None:
    # The pydantic model enforces the per-class required fields (strike, expiry, coupon...).
    for row in universe.instruments.iter_rows(named=True):
        Instrument.model_validate(row)
    for row in universe.positions.iter_rows(named=True):
        Position.model_validate(row)


def test_equities_span_countries_sectors_and_their_currencies(universe: Universe) -> None:
    eq = of_class(universe, "equity")
    assert {"US", "GB", "DE", "FR", "JP", "CH", "CA", "AU", "HK"} <= set(eq["country"])
    assert eq["sector"].n_unique() == 11  # every GICS sector
    pairs = set(eq.select("country", "currency").unique().iter_rows())
    expected = {"US": "USD", "GB": "GBP", "DE": "EUR", "JP": "JPY", "CH": "CHF", "HK": "HKD"}
    assert set(expected.items()) <= pairs
    assert eq.filter(pl.col("country") == "JP")["lot_size"].unique().to_list() == [100.0]


def test_futures_are_index_and_commodity_contracts_with_several_expiries(
    universe: Universe,
) -> None:
    fut = of_class(universe, "future")
    assert fut["underlying_id"].null_count() == fut.height
    kinds = fut["sector"].str.split(":").list.first()
    assert set(kinds) == {"index", "commodity"}
    per_underlying = fut.group_by("sector").len()
    assert per_underlying.height >= 20
    assert per_underlying["len"].min() >= 3
    for sector in ("index:SPX", "index:SX5E", "index:NKY", "commodity:WTI", "commodity:GOLD"):
        assert sector in set(fut["sector"])
    assert (fut["expiry"] > dt.date(2024, 6, 28)).all()
    es = fut.filter(pl.col("symbol") == "ESU24").row(0, named=True)
    assert es["multiplier"] == 50.0 and es["tick_size"] == 0.25  # CME E-mini S&P 500 spec
    assert es["expiry"] == dt.date(2024, 9, 20)  # CME: ESU4 last trade 20 Sep 2024


def test_futures_stop_at_ten_years_of_listed_expiries() -> None:
    counts = _class_counts(100_000)
    assert counts["future"] == asset_classes.MAX_FUTURES == 14 * 40 + 14 * 120
    assert sum(counts.values()) == 100_000
    fut = asset_classes.futures(asset_classes.MAX_FUTURES, dt.date(2024, 6, 28))
    assert fut["symbol"].n_unique() == fut.height
    assert fut["expiry"].max() < dt.date(2034, 7, 1)
    with pytest.raises(ValueError, match="at most 2240 futures"):
        asset_classes.futures(asset_classes.MAX_FUTURES + 1, dt.date(2024, 6, 28))


def test_options_are_near_the_money_on_stocks_and_index_futures(universe: Universe) -> None:
    opt = of_class(universe, "option")
    inst = universe.instruments
    und = inst[opt["underlying_id"].to_numpy()]
    und_class = und["asset_class"].to_numpy()
    assert set(und_class) == {"equity", "future"}
    is_index = und_class == "future"
    assert (und["sector"].str.starts_with("index:").to_numpy() == is_index).all()
    exercise = opt["exercise"].to_numpy()
    assert (exercise[is_index] == "european").all()
    assert (exercise[~is_index] == "american").all()
    moneyness = opt["strike"].to_numpy() / und["ref_price"].to_numpy()
    assert moneyness.min() > 0.75 and moneyness.max() < 1.25
    assert set(opt["right"]) == {"C", "P"}
    days = (opt["expiry"] - dt.date(2024, 6, 28)).dt.total_days().to_numpy()
    assert days.min() >= 14 and days.max() <= 2 * 366
    assert len(np.unique(days)) >= 6  # 1 month to 2 years
    # An index option never outlives its future (Black-76 on that future).
    assert (opt["expiry"].to_numpy()[is_index] <= und["expiry"].to_numpy()[is_index]).all()
    assert (opt["currency"] == und["currency"]).all()
    # Puts are worth more than calls below the money and less above (put-call parity shape).
    itm_put = (opt["right"] == "P").to_numpy() & (moneyness > 1.1)
    otm_put = (opt["right"] == "P").to_numpy() & (moneyness < 0.9)
    assert np.median(
        opt["ref_price"].to_numpy()[itm_put] / und["ref_price"].to_numpy()[itm_put]
    ) > (np.median(opt["ref_price"].to_numpy()[otm_put] / und["ref_price"].to_numpy()[otm_put]))


def test_fx_spot_and_forwards_with_g10_and_em_pairs(universe: Universe) -> None:
    fx = of_class(universe, "fx")
    spot = fx.filter(pl.col("expiry").is_null())
    fwd = fx.filter(pl.col("expiry").is_not_null())
    assert spot.height == FX_PAIRS.height and fwd.height > 0
    symbols = set(spot["symbol"])
    for pair in ("EURUSD", "USDJPY", "USDMXN", "USDBRL", "USDZAR", "USDINR", "USDCNH", "USDKRW"):
        assert pair in symbols
    assert "USDTRY" in symbols
    # The currency is the quote currency; base_currency the base.
    eurusd = spot.filter(pl.col("symbol") == "EURUSD").row(0, named=True)
    assert (eurusd["currency"], eurusd["base_currency"]) == ("USD", "EUR")
    # Covered interest parity, F = S exp((r_quote - r_base) T), to one tick.
    j = fwd.join(
        spot.select("base_currency", "currency", spot_px="ref_price"),
        on=["base_currency", "currency"],
    )
    T = (j["expiry"] - dt.date(2024, 6, 28)).dt.total_days().to_numpy() / 365.0
    carry = zero_rate(j["currency"].to_numpy(), T) - zero_rate(j["base_currency"].to_numpy(), T)
    cip = j["spot_px"].to_numpy() * np.exp(carry * T)
    assert np.all(np.abs(j["ref_price"].to_numpy() - cip) <= j["tick_size"].to_numpy() * 1.5)


def test_bonds_are_sovereign_and_corporate_at_several_maturities(universe: Universe) -> None:
    bonds = of_class(universe, "bond")
    gov = bonds.filter(pl.col("sector") == "government")
    corp = bonds.filter(pl.col("sector").str.starts_with("corporate:"))
    assert gov.height + corp.height == bonds.height and gov.height > 0 and corp.height > 0
    assert {"US", "DE", "GB", "JP", "IT"} <= set(gov["country"])
    years = (bonds["maturity"] - dt.date(2024, 6, 28)).dt.total_days().to_numpy() / 365.25
    for tenor in (2, 5, 10, 30):
        assert ((years > 0.75 * tenor) & (years <= tenor + 0.01)).any(), tenor
    assert {"AA", "A", "BBB", "BB", "B"} <= set(corp["rating"])
    assert (bonds["multiplier"] == 10.0).all()  # 1,000 face per unit, priced per 100
    assert bonds["ref_price"].is_between(50.0, 150.0).all()
    assert bonds["coupon_frequency"].is_in([1, 2]).all()


def test_every_currency_has_a_rate_to_base(universe: Universe) -> None:
    assert set(universe.instruments["currency"]) <= set(universe.fx_to_base)
    assert universe.fx_to_base["USD"] == 1.0
    assert universe.fx_to_base["EUR"] == pytest.approx(1.0713)
    assert universe.fx_to_base["JPY"] == pytest.approx(1 / 160.9)


def test_symbols_are_unique(universe: Universe) -> None:
    assert universe.instruments["symbol"].n_unique() == universe.instruments.height


# --------------------------------------------------------------------------- liquidity


def test_liquidity_profile_tight_for_large_and_wide_for_small(universe: Universe) -> None:
    inst = universe.instruments
    assert (inst["adv"] > 0).all() and (inst["spread_bps"] > 0).all()
    # Never tighter than one tick.
    one_tick = 1e4 * inst["tick_size"] / inst["ref_price"]
    assert (inst["spread_bps"] >= one_tick * 0.999).all()
    spread = dict(inst.group_by("asset_class").agg(pl.col("spread_bps").median()).iter_rows())
    assert spread["fx"] < spread["equity"] < spread["option"]
    fx = of_class(universe, "fx").filter(pl.col("expiry").is_null())
    g10 = fx.filter(pl.col("sector") == "fx:G10")["spread_bps"].median()
    em = fx.filter(pl.col("sector") == "fx:EM")["spread_bps"].median()
    assert em > g10
    bonds = of_class(universe, "bond")
    gov = bonds.filter(pl.col("country") == "US", pl.col("sector") == "government")
    hy = bonds.filter(
        pl.col("rating").str.starts_with("B") & ~pl.col("rating").str.starts_with("BBB")
    )
    assert hy["spread_bps"].median() > 5 * gov["spread_bps"].median()
    # Equities: the largest names (by traded value) are tighter than the smallest.
    eq = of_class(universe, "equity").with_columns(turnover=pl.col("adv") * pl.col("ref_price"))
    q = eq["turnover"].quantile(0.9), eq["turnover"].quantile(0.1)
    big = eq.filter(pl.col("turnover") >= q[0])["spread_bps"].median()
    small = eq.filter(pl.col("turnover") <= q[1])["spread_bps"].median()
    assert big < small / 2
    # Front-month futures trade more than back months.
    es = of_class(universe, "future").filter(pl.col("symbol").str.starts_with("ES")).sort("expiry")
    assert es["adv"].is_sorted(descending=True)


# --------------------------------------------------------------------------- books, positions, AUM


def test_books_roll_up_to_desks_strategies_and_traders(universe: Universe) -> None:
    books = universe.books
    assert set(books["desk"]) == set(DESKS)
    assert books["name"].n_unique() == books.height
    assert books["trader"].n_unique() == books.height
    for desk, strategies in DESKS.items():
        assert set(books.filter(pl.col("desk") == desk)["strategy"]) == set(strategies)


def test_positions_long_and_short_across_all_classes(universe: Universe) -> None:
    pos = universe.positions
    assert pos.select("book_id", "instrument_id").is_unique().all()
    assert (pos["quantity"] > 0).any() and (pos["quantity"] < 0).any()
    assert pos["book_id"].is_in(universe.books["book_id"].implode()).all()
    held = universe.instruments[pos["instrument_id"].to_numpy()]
    assert set(held["asset_class"]) == set(ASSET_CLASSES)
    lots = held["lot_size"].to_numpy()
    q = pos["quantity"].to_numpy()
    assert np.allclose(q / lots, np.round(q / lots))
    assert pos.height < universe.instruments.height  # not every instrument is held
    # Each position sits on the desk that trades its asset class.
    desk = pos.join(universe.books, on="book_id")["desk"].to_numpy()
    cls = held["asset_class"].to_numpy()
    assert set(desk[cls == "bond"]) == {"Rates", "Credit"}
    assert set(desk[cls == "fx"]) == {"Macro FX"}
    assert set(desk[cls == "option"]) == {"Equity Derivatives"}


def test_aum_at_least_the_target_and_not_far_above(universe: Universe) -> None:
    aum = universe_summary(universe)["aum"]
    assert 500e6 <= aum < 600e6
    assert aum == pytest.approx(gross_exposure(universe), rel=1e-12)
    bigger = generate_universe(UniverseConfig(instruments=2_000, aum_base=2e9))
    assert gross_exposure(bigger) >= 2e9


def test_aum_counts_options_at_delta_adjusted_notional(universe: Universe) -> None:
    unit = unit_exposure(universe)
    inst = universe.instruments
    opt = np.flatnonzero((inst["asset_class"] == "option").to_numpy())
    und = inst["underlying_id"][opt].to_numpy()
    fx = np.array([universe.fx_to_base[c] for c in inst["currency"].to_numpy()[opt]])
    full = inst["ref_price"].to_numpy()[und] * inst["multiplier"].to_numpy()[opt] * fx
    ratio = unit[opt] / full  # |delta|
    assert (ratio >= 0).all() and (ratio <= 1.0).all()
    assert 0.3 < np.median(ratio) < 0.7


def test_other_base_currency_converts_through_the_spot_references() -> None:
    usd = generate_universe(UniverseConfig(instruments=500, seed=3))
    eur = generate_universe(UniverseConfig(instruments=500, seed=3, base_currency="EUR"))
    assert eur.fx_to_base["EUR"] == 1.0
    assert eur.fx_to_base["USD"] == pytest.approx(1 / 1.0713)
    assert gross_exposure(eur) >= 500e6
    assert usd.instruments.equals(eur.instruments)
    with pytest.raises(InputError, match="base_currency"):
        generate_universe(UniverseConfig(instruments=500, base_currency="XAU"))


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_universe_bit_for_bit(universe: Universe) -> None:
    again = generate_universe(UniverseConfig(instruments=10_000, seed=7))
    assert again.instruments.equals(universe.instruments)
    assert again.books.equals(universe.books)
    assert again.positions.equals(universe.positions)
    assert again.fx_to_base == universe.fx_to_base


def test_different_seed_different_universe(universe: Universe) -> None:
    other = generate_universe(UniverseConfig(instruments=10_000, seed=8))
    assert not other.instruments.equals(universe.instruments)
    assert not other.positions.equals(universe.positions)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(50, 3_000), seed=st.integers(0, 2**32))
def test_any_size_and_seed_gives_a_consistent_universe(n: int, seed: int) -> None:
    u = generate_universe(UniverseConfig(instruments=n, seed=seed))
    inst = u.instruments
    assert inst.height == n
    assert all(v > 0 for v in universe_summary(u)["by_asset_class"].values())
    assert (inst.filter(pl.col("asset_class") == "option").height) >= 0.2 * n
    opt = inst.filter(pl.col("asset_class") == "option")
    und_class = inst["asset_class"].to_numpy()[opt["underlying_id"].to_numpy()]
    assert set(und_class) <= {"equity", "future"}
    assert inst["symbol"].n_unique() == n
    assert (
        inst.select(pl.col("ref_price", "adv", "spread_bps", "tick_size").is_finite().all()).row(0)
        == (True,) * 4
    )
    assert gross_exposure(u) >= 500e6


# --------------------------------------------------------------------------- formulas


def test_third_friday_matches_exchange_calendars() -> None:
    # CME equity-index quarterly expiries (third Fridays): 15 Mar 2024, 21 Jun 2024,
    # 20 Sep 2024, 20 Dec 2024, 21 Mar 2025.
    months = np.array(["2024-03", "2024-06", "2024-09", "2024-12", "2025-03"], "datetime64[M]")
    got = _third_friday(months).astype(str).tolist()
    assert got == ["2024-03-15", "2024-06-21", "2024-09-20", "2024-12-20", "2025-03-21"]


def test_implied_vol_and_delta_match_hull() -> None:
    # Hull, Options, Futures and Other Derivatives (9th ed.), Example 15.6: S=42, K=40,
    # r=10 %, sigma=20 %, T=0.5 gives c=4.76 and p=0.81; d1=0.7693 so the call delta is
    # N(0.7693)=0.7791. Prices are rounded to the cent, so vol to 1e-3 and delta to 2e-3.
    sigma, delta = implied_vol_delta(
        np.array([4.76, 0.81]), 42.0, 40.0, 0.5, 0.10, 0.0, np.array([True, False])
    )
    assert sigma == pytest.approx([0.20, 0.20], abs=1e-3)
    assert delta == pytest.approx([0.7791, 0.7791 - 1.0], abs=2e-3)


def test_black76_delta_matches_quantlib() -> None:
    # QuantLib's BlackCalculator (Black 1976) as the oracle: F=5460, K=5200, T=0.75,
    # r=5 %, sigma=18 %, a put; its delta w.r.t. the forward, discounted.
    F, K, T, r, vol = 5460.0, 5200.0, 0.75, 0.05, 0.18
    disc = np.exp(-r * T)
    calc = ql.BlackCalculator(ql.PlainVanillaPayoff(ql.Option.Put, K), F, vol * np.sqrt(T), disc)
    sigma, delta = implied_vol_delta(np.array(calc.value()), F, K, T, r, r, np.array(False))
    assert float(sigma) == pytest.approx(vol, abs=1e-9)
    assert float(delta) == pytest.approx(calc.deltaForward(), rel=1e-7)


def test_zero_curve_runs_from_the_short_to_the_long_rate() -> None:
    usd = CURRENCIES.filter(pl.col("currency") == "USD").row(0, named=True)
    r = zero_rate(["USD", "USD", "USD"], np.array([1e-9, 2.0, 500.0]))
    assert r[0] == pytest.approx(usd["rate_short"], abs=1e-8)
    assert r[2] == pytest.approx(usd["rate_long"], abs=5e-4)
    # Nelson-Siegel at T = tau: r_inf + (r0 - r_inf)(1 - e^-1)
    assert r[1] == pytest.approx(
        usd["rate_long"] + (usd["rate_short"] - usd["rate_long"]) * (1 - np.exp(-1.0))
    )
    with pytest.raises(KeyError, match="XAU"):
        zero_rate(["XAU"], np.array([1.0]))
