"""Live marks in the engine: vols move when option quotes move, FX when FX quotes move,
American options carry their early-exercise premium on the grids."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from riskstream.core.events import empty_events
from riskstream.core.instruments import Universe
from riskstream.core.state import MarketState
from riskstream.limits.config import LimitsConfig
from riskstream.limits.stage import build_limits_stage
from riskstream.pricing import baw_price, black76_price, bsm_price
from riskstream.risk.config import RiskConfig
from riskstream.risk.stage import RiskStage
from riskstream.service.portfolio import PortfolioView
from tests.risk.helpers import AS_OF, AS_OF_NS, make_engine, make_universe, market_from_ref

CONFIG = RiskConfig(n_scenarios=2000, horizons_days=(1, 10))
T_OPT = 90 / 365  # the helper universe's option expiry


def quote_options(universe: Universe, market, vol, ids=None, ts_ns: int = AS_OF_NS) -> None:
    """Quote options at their model value (``vol`` per option or one number) with a
    one-cent spread, stamped ``ts_ns``; flag them updated."""
    inst = universe.instruments
    opt = np.flatnonzero((inst["asset_class"] == "option").to_numpy())
    ids = opt if ids is None else np.asarray(ids)
    und = inst["underlying_id"].fill_null(-1).to_numpy().astype(np.int64)[ids]
    spot = market.mid[und]
    K = inst["strike"].to_numpy()[ids]
    call = (inst["right"].to_numpy()[ids]) == "C"
    on_future = (inst["asset_class"].to_numpy()[und]) == "future"
    am = (inst["exercise"].to_numpy()[ids]) == "american"
    r = CONFIG.rate
    vol = np.broadcast_to(np.asarray(vol, dtype=float), ids.shape)
    px = np.where(
        on_future,
        black76_price(spot, K, T_OPT, r, vol, call),
        np.where(
            am,
            baw_price(spot, K, T_OPT, r, 0.0, vol, call),
            bsm_price(spot, K, T_OPT, r, 0.0, vol, call),
        ),
    )
    market.mid[ids] = px
    market.bid[ids] = px - 0.005
    market.ask[ids] = px + 0.005
    market.ts_ns[ids] = ts_ns
    market.seq[ids] += 1
    market.updated[ids] = True


def quoted_market(universe: Universe, vol: float = 0.25):
    market = market_from_ref(universe)
    market.bid[:] = market.mid * (1 - 1e-4)
    market.ask[:] = market.mid * (1 + 1e-4)
    market.ts_ns[:] = AS_OF_NS
    quote_options(universe, market, vol)
    market.updated[:] = False
    return market


def options_of(engine, underlying: int) -> np.ndarray:
    return engine.opt_ids[engine.underlying[engine.opt_ids] == underlying]


def test_engine_vols_come_from_the_option_quotes() -> None:
    universe = make_universe()
    engine = make_engine(universe, CONFIG, market=quoted_market(universe, 0.31))
    opt = engine.opt_ids
    # the engine was given 25% (helpers.implied_vols); the quotes say 31%
    np.testing.assert_allclose(engine.implied_vol[opt], 0.31, atol=1e-8)


def test_vols_move_in_the_engine_when_option_quotes_move() -> None:
    universe = make_universe()
    market = quoted_market(universe)
    engine = make_engine(universe, CONFIG, market=market)
    before = engine.refresh()
    eq0 = options_of(engine, 0)
    vega_before = engine.unit_vega[eq0].copy()
    # the market marks EQ0's options 10 vol points up
    quote_options(universe, market, 0.35, ids=eq0)
    after = engine.refresh()
    np.testing.assert_allclose(engine.implied_vol[eq0], 0.35, atol=1e-8)
    others = np.setdiff1d(engine.opt_ids, eq0)
    np.testing.assert_allclose(engine.implied_vol[others], 0.25, atol=1e-8)
    assert engine.vol_rebuilds == 1  # EQ0's grid, once
    assert after.marks["vol_grid_rebuilds"] == 1 and after.marks["vol_moves"] == 1
    assert not np.allclose(engine.unit_vega[eq0], vega_before)  # Greeks at the live vols
    # the options book's figures move: a long-vol or short-vol book gains or loses risk
    assert after.headline.var != pytest.approx(before.headline.var, rel=1e-9)
    assert after.greeks["option"]["vega"] != pytest.approx(before.greeks["option"]["vega"])
    # ... to exactly what an engine started on the new quotes computes
    fresh = make_engine(universe, CONFIG, market=market_copy(market)).refresh()
    assert after.headline.var == pytest.approx(fresh.headline.var, rel=1e-9)
    assert after.headline.es == pytest.approx(fresh.headline.es, rel=1e-9)


def market_copy(market: MarketState) -> MarketState:
    out = MarketState(market.n_instruments)
    for name, a in market.arrays().items():
        getattr(out, name)[:] = a
    out.updated[:] = False
    return out


def test_a_small_vol_move_keeps_the_grid_and_moves_the_greeks() -> None:
    universe = make_universe()
    market = quoted_market(universe)
    engine = make_engine(universe, CONFIG, market=market)
    before = engine.refresh()
    eq0 = options_of(engine, 0)
    vega = engine.unit_vega[eq0].copy()
    quote_options(universe, market, 0.252, ids=eq0)  # 0.2 vol points: below the threshold
    after = engine.refresh()
    np.testing.assert_allclose(engine.implied_vol[eq0], 0.252, atol=1e-8)
    assert engine.vol_rebuilds == 0
    assert after.headline.var == before.headline.var  # the grid stays
    assert not np.array_equal(engine.unit_vega[eq0], vega)  # the Greeks do not


def test_bad_option_quotes_are_flagged_in_the_snapshot_and_keep_the_last_vol() -> None:
    universe = make_universe()
    market = quoted_market(universe)
    engine = make_engine(universe, CONFIG, market=market)
    engine.refresh()
    eq0 = options_of(engine, 0)
    market.bid[eq0[0]], market.ask[eq0[0]] = 9.0, 8.0  # crossed
    market.ts_ns[eq0[1]] = AS_OF_NS - 3600 * 10**9  # an hour old
    market.updated[eq0[:2]] = True
    snap = engine.refresh()
    assert snap.marks["flagged_now"]["crossed"] == 1
    assert snap.marks["flagged_now"]["stale"] == 1
    # the surface still has the third quote: the flagged two take its vol
    np.testing.assert_allclose(engine.implied_vol[eq0], 0.25, atol=1e-8)
    assert snap.as_dict()["marks"]["flagged_quotes"]["crossed"] == 1


def _sap_only(universe: Universe) -> Universe:
    inst = universe.instruments
    sap = int(np.flatnonzero((inst["symbol"] == "SAP").to_numpy())[0])
    pos = universe.positions.filter(pl.col("instrument_id") == sap)
    return Universe(inst, universe.books, pos, "USD", universe.fx_to_base), sap


def test_fx_moves_in_the_engine_when_the_fx_quote_moves() -> None:
    universe, sap = _sap_only(make_universe())
    market = quoted_market(universe)
    engine = make_engine(universe, CONFIG, market=market)
    stage = RiskStage(engine)
    stage.on_batch(empty_events(0), AS_OF_NS)
    limits = build_limits_stage(stage, None, [], LimitsConfig())
    limits.on_batch(empty_events(0), AS_OF_NS)
    before = stage.last
    mark_before = limits._mark()[sap]
    value_per_price = limits.controller.market.value_per_price[sap]
    eurusd = int(np.flatnonzero(engine.symbol == "EURUSD")[0])
    assert before.fx_to_base["EUR"] == pytest.approx(1.10)
    # EURUSD 1.10 -> 1.155 (+5%)
    market.mid[eurusd] = 1.155
    market.updated[eurusd] = True
    stage.on_batch(empty_events(0), AS_OF_NS + 10**9)
    after = stage.last
    limits.on_batch(empty_events(0), AS_OF_NS + 10**9)
    ratio = 1.155 / 1.10
    assert after.fx_to_base["EUR"] == pytest.approx(1.155, rel=1e-15)
    assert after.marks["fx_updates"] == 1
    assert stage.summary()["risk_marks"]["fx_updates"] == 1
    assert dict(stage.view())["live marks"].endswith("1 FX updates")
    # the EUR equity's base value, and the book's VaR and ES (all of it EUR), scale by the
    # rate ratio (to rounding)
    assert engine.unit_value[sap] == pytest.approx(150.0 * 1.155, rel=1e-14)
    assert after.headline.var == pytest.approx(before.headline.var * ratio, rel=1e-12)
    assert after.headline.es == pytest.approx(before.headline.es * ratio, rel=1e-12)
    # the limits' view reads the rate from the snapshot: marks and trade values move too
    assert limits._mark()[sap] == pytest.approx(mark_before * ratio, rel=1e-14)
    assert limits.controller.market.value_per_price[sap] == pytest.approx(
        value_per_price * ratio, rel=1e-14
    )
    held, _ = limits.pnl()
    q = float(universe.positions["quantity"][0])
    assert held == pytest.approx(q * 150.0 * (1.155 - 1.10), rel=1e-12)
    # and the dashboard's P&L against reference marks carries the translation
    view = PortfolioView(universe)
    assert view.pnl(market.mid, after.fx_to_base) == pytest.approx(held, rel=1e-12)
    assert view.pnl(market.mid) == pytest.approx(0.0, abs=1e-6)


def _american_universe(dividend_yield: float | None) -> Universe:
    """The helper universe with EQ0's options American (and EQ0 paying a yield)."""
    u = make_universe()
    inst = u.instruments.with_columns(
        pl.when(pl.col("underlying_id") == 0)
        .then(pl.lit("american"))
        .otherwise(pl.col("exercise"))
        .alias("exercise")
    )
    out = Universe(inst, u.books, u.positions, u.base_currency, u.fx_to_base, AS_OF.date())
    if dividend_yield is not None:
        # the optional ``dividend_yield`` reference column (schema change on branch
        # ``book``): set past the schema check until that merges
        col = np.where(inst["instrument_id"].to_numpy() == 0, dividend_yield, np.nan)
        object.__setattr__(out, "instruments", inst.with_columns(pl.Series("dividend_yield", col)))
    return out


@pytest.mark.parametrize("dividend_yield", [None, 0.04])
def test_american_options_are_valued_american_on_the_grids(dividend_yield) -> None:
    universe = _american_universe(dividend_yield)
    market = market_from_ref(universe)
    engine = make_engine(universe, CONFIG, market=market)
    eq0 = options_of(engine, 0)
    o = engine.opt_index[eq0]
    q = 0.0 if dividend_yield is None else dividend_yield
    np.testing.assert_allclose(engine.opt_q[o], q)
    S = engine.price[0]
    T = (dt.date.fromordinal(AS_OF.date().toordinal() + 90) - AS_OF.date()).days / 365
    args = (S, engine.strike[eq0], T, CONFIG.rate, q, engine.implied_vol[eq0], engine.is_call[eq0])
    american = baw_price(*args) * engine.multiplier[eq0]
    european = bsm_price(*args) * engine.multiplier[eq0]
    # today's value is a grid node (spot and vol moves 0): the American value exactly
    # (the grid seeds each vol node's exercise boundary from the last, the scalar from
    # Haug's seed; both stop at 1e-9 of the strike: 1e-9 relative)
    np.testing.assert_allclose(engine.opt_base[o], american, rtol=1e-9)
    puts = ~engine.is_call[eq0]
    assert np.all(american[puts] > european[puts])  # r > 0: the put's premium
    calls = engine.is_call[eq0]
    if q == 0.0:  # no dividends: the American call is the European one
        np.testing.assert_allclose(american[calls], european[calls], rtol=1e-13)
    else:
        assert np.all(american[calls] >= european[calls])
    # other underlyings' options stay European
    eq1 = options_of(engine, 1)
    args1 = (engine.price[1], engine.strike[eq1], T, CONFIG.rate, 0.0, engine.implied_vol[eq1])
    np.testing.assert_allclose(
        engine.opt_base[engine.opt_index[eq1]],
        bsm_price(*args1, engine.is_call[eq1]) * engine.multiplier[eq1],
        rtol=1e-12,
    )


def test_fx_translation_in_place_equals_a_fresh_engine() -> None:
    # EQ0 and its options in EUR: an EURUSD move translates the stock, the options' grids
    # and their book's scenario P&L in place (no repricing); the figures must equal those
    # of an engine started on the new quotes. The liquidity and SPAN parts are compared
    # through VaR, ES and the Greeks (SPAN follows at the next full refresh).
    u = make_universe()
    eur = (pl.col("instrument_id") == 0) | (pl.col("underlying_id") == 0)
    inst = u.instruments.with_columns(
        pl.when(eur).then(pl.lit("EUR")).otherwise(pl.col("currency")).alias("currency")
    )
    universe = Universe(inst, u.books, u.positions, "USD", u.fx_to_base)
    market = quoted_market(universe)
    engine = make_engine(universe, CONFIG, market=market)
    before = engine.refresh()
    eurusd = int(np.flatnonzero(engine.symbol == "EURUSD")[0])
    market.mid[eurusd] = 1.21
    market.updated[eurusd] = True
    after = engine.refresh()
    assert after.fx_to_base["EUR"] == pytest.approx(1.21)
    assert after.headline.var != pytest.approx(before.headline.var, rel=1e-6)
    fresh = make_engine(universe, CONFIG, market=market_copy(market)).refresh()
    for a, b in zip(after.measures, fresh.measures, strict=True):
        assert a.var == pytest.approx(b.var, rel=1e-9)
        assert a.es == pytest.approx(b.es, rel=1e-9)
    for cls in ("equity", "option"):
        for greek in ("delta", "gamma", "vega"):
            assert after.greeks[cls][greek] == pytest.approx(fresh.greeks[cls][greek], rel=1e-9)
    np.testing.assert_allclose(engine.unit_value, fresh_unit_values(universe, market), rtol=1e-12)


def fresh_unit_values(universe: Universe, market: MarketState) -> np.ndarray:
    return make_engine(universe, CONFIG, market=market_copy(market)).unit_value
