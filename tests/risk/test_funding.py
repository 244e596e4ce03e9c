"""Funding liquidity in L-VaR: the engine's SPAN margin of a futures-and-options book
against the margin module's risk arrays (tested on McMillan's published ones), the funding
add-on of a futures book worked by hand, and the margin cache (recomputed on full refreshes
and book changes only)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from riskstream.core.instruments import Universe
from riskstream.risk.config import RiskConfig
from riskstream.risk.margin import futures_risk_array, option_risk_array, scan_risk
from tests.risk.helpers import make_engine, make_universe


def _only(universe: Universe, symbols: dict[str, float]) -> Universe:
    """The universe with positions in ``symbols`` only (quantities given)."""
    inst = universe.instruments
    ids = {s: int(inst.filter(pl.col("symbol") == s)["instrument_id"][0]) for s in symbols}
    positions = pl.DataFrame(
        {
            "book_id": [1] * len(ids),
            "instrument_id": list(ids.values()),
            "quantity": list(symbols.values()),
        },
        schema=universe.positions.schema,
    )
    return Universe(inst, universe.books, positions, "USD", universe.fx_to_base)


@pytest.fixture(scope="module")
def es_book():
    # long 20 ES futures (notional 5,000 x 50 each), short 30 calls on them (ATM, 90 days)
    universe = _only(make_universe(), {"ESZ6": 20.0, "ESZ6-C": -30.0})
    engine = make_engine(universe, RiskConfig(n_scenarios=2000, horizons_days=(1, 10)))
    symbols = list(engine.symbol)
    return engine, symbols.index("ESZ6"), symbols.index("ESZ6-C")


def _expected_span(engine, fut: int, opt: int, widen: float) -> float:
    """SPAN of the book from the margin module's tested pieces: the risk arrays of the
    future (:func:`futures_risk_array`) and of the option (:func:`option_risk_array`,
    Black-76 with one day of decay), both checked against McMillan's published arrays,
    summed and scanned (:func:`scan_risk`). Scan ranges: 3 daily sigmas of the factors (the
    vol range relative to the option's own vol), times ``widen``."""
    factor_vol = engine.factor_vol
    psr = 3.0 * factor_vol[engine.space.spot_factor[fut]] * widen  # 3 sigma, 1 day
    vsr = 3.0 * factor_vol[engine.space.vol_factor[opt]] * widen
    f0, vol = engine.price[fut], engine.implied_vol[opt]
    fut_array = futures_risk_array(psr * f0 * engine.multiplier[fut])
    opt_array = option_risk_array(
        f0,
        engine.strike[opt],
        engine.opt_expiry[engine.opt_index[opt]],
        engine.rate[opt],
        vol,
        True,
        psr * f0,
        vsr * vol,
        multiplier=engine.multiplier[opt],
        days_ahead=1.0,
    )
    return scan_risk(np.vstack([fut_array, opt_array]), engine.qty[[fut, opt]])[0]


def test_span_margin_matches_a_black76_revaluation_of_the_scenarios(es_book) -> None:
    engine, fut, opt = es_book
    normal, stressed = engine.span_margin()
    # the engine revalues with the pricing package's grid kernel, the margin module with
    # its Black-76: the same numbers up to rounding
    assert normal == pytest.approx(_expected_span(engine, fut, opt, 1.0), rel=1e-9)
    assert stressed == pytest.approx(_expected_span(engine, fut, opt, 2.0), rel=1e-9)
    # the short calls offset the long futures inside the combined commodity: less than
    # the futures alone (1.05 scan ranges of their notional)
    psr = 3.0 * engine.factor_vol[engine.space.spot_factor[fut]]
    futures_alone = 1.05 * psr * engine.qty[fut] * engine.price[fut] * engine.multiplier[fut]
    assert 0 < normal < futures_alone and stressed > normal


def test_the_futures_requirement_alone_is_cmes_extreme_move() -> None:
    engine = make_engine(_only(make_universe(), {"ESZ6": 20.0}))
    fut = list(engine.symbol).index("ESZ6")
    psr = 3.0 * engine.factor_vol[engine.space.spot_factor[fut]]
    notional = 20 * engine.price[fut] * engine.multiplier[fut]
    normal, stressed = engine.span_margin()
    # a long future's worst covered scenario is the extreme fall: 3 x 35% = 1.05 scan ranges
    assert normal == pytest.approx(1.05 * psr * notional, rel=1e-12)
    assert stressed == pytest.approx(2 * normal, rel=1e-12)


def test_lvar_funding_of_a_futures_book_by_hand() -> None:
    engine = make_engine(_only(make_universe(), {"ESZ6": 20.0}))
    fut = list(engine.symbol).index("ESZ6")
    snap = engine.refresh()
    gross = 20 * engine.price[fut] * engine.multiplier[fut]
    im = 1.05 * 3.0 * engine.factor_vol[engine.space.spot_factor[fut]] * gross
    for m in snap.measures:
        # the future is the whole book: in the VaR scenario it loses VaR, paid as
        # variation margin; SPAN doubles with the scan ranges; no haircuts on futures
        assert m.variation_margin == pytest.approx(m.var, rel=1e-9)
        assert m.initial_margin == pytest.approx(im, rel=1e-12)
        assert m.initial_margin_call == pytest.approx(im, rel=1e-12)
        assert m.haircut_call == 0.0
        need = m.var + im
        buffer = 0.02 * gross  # liquid_buffer_share of gross value
        sold = need - buffer
        assert m.forced_sale == pytest.approx(sold, rel=1e-9)
        rate = (m.spread_cost + m.impact_cost * min(sold / gross, 1.0)) / gross
        cost = 0.02 * m.horizon_days / 360 * buffer + sold * rate
        assert m.funding_cost == pytest.approx(cost, rel=1e-9)
        assert m.lvar == pytest.approx(m.var + m.spread_cost + m.impact_cost + cost, rel=1e-12)
    # the 10-day stress calls more and costs more
    one, ten = snap.measure(0.99, 1), snap.measure(0.99, 10)
    assert ten.variation_margin > one.variation_margin and ten.funding_cost > one.funding_cost


def test_span_margin_is_cached_between_full_refreshes_and_book_changes() -> None:
    universe = make_universe()
    engine = make_engine(universe, RiskConfig(n_scenarios=500, horizons_days=(1,),
                                              full_recompute_every=4))  # fmt: skip
    calls = []
    compute = engine.margin.compute

    def counted(inputs):
        calls.append(engine._refreshes)
        return compute(inputs)

    engine.margin.compute = counted
    fut = list(engine.symbol).index("ESZ6")
    eq = list(engine.symbol).index("EQ3")
    market = engine.market
    for _ in range(3):  # price ticks: refreshes 1..3, margin from the first only
        market.mid[[fut, eq]] *= 1.001
        market.updated[[fut, eq]] = True
        engine.refresh()
    assert calls == [1]
    engine.apply_trade(1, eq, 10.0)  # an equity trade: no margin change
    engine.refresh()  # refresh 4: full -> SPAN again
    assert calls == [1, 4]
    engine.apply_trade(1, fut, 5.0)  # a futures trade: SPAN again at the next refresh
    engine.refresh()
    assert calls == [1, 4, 5]
    assert engine.last_snapshot.headline.initial_margin == pytest.approx(engine.span_margin()[0])
