"""The real-time engine: Euler sums, incremental refresh, determinism, bad input, stage."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.special import ndtri

from riskstream.core.errors import InputError
from riskstream.core.instruments import Universe
from riskstream.risk.config import RiskConfig
from riskstream.risk.measures import var_es_from_pnl
from riskstream.risk.scenarios import ScenarioSet
from riskstream.risk.stage import RiskStage
from riskstream.risk.valuation import REASON_CODE, REASONS, VALUED
from tests.risk.helpers import AS_OF, make_engine, make_universe, market_from_ref

AS_OF_DAYS = (AS_OF.date() - __import__("datetime").date(1970, 1, 1)).days


@pytest.fixture(scope="module")
def engine():
    return make_engine()


@pytest.fixture(scope="module")
def snap(engine):
    return engine.refresh()


def test_euler_contributions_sum_to_var_and_es(engine, snap):
    head = snap.headline
    assert snap.component_es.sum() == pytest.approx(head.es, rel=1e-9)
    assert snap.component_var.sum() == pytest.approx(head.var, rel=1e-9)
    for by, groups in snap.aggregates.items():
        assert sum(g["component_es"] for g in groups.values()) == pytest.approx(
            head.es, rel=1e-9
        ), by
        assert sum(g["component_var"] for g in groups.values()) == pytest.approx(head.var, rel=1e-9)
    assert set(snap.aggregates["desk"]) == {"equities", "macro"}


def test_var_es_equal_direct_measure_of_portfolio_pnl(engine, snap):
    for m in snap.measures:
        var, es = var_es_from_pnl(engine.portfolio_pnl(m.horizon_days), m.confidence)
        assert m.var == var
        assert m.es == pytest.approx(es, rel=1e-13)
        assert m.es >= m.var
        assert m.lvar == pytest.approx(m.var + m.spread_cost + m.impact_cost + m.funding_cost)
        assert m.spread_cost > 0 and m.impact_cost > 0 and m.funding_cost > 0


def test_portfolio_pnl_is_sum_of_instrument_pnl(engine):
    rows = np.arange(50)
    unit = engine.unit_pnl_rows(1, rows)
    np.testing.assert_allclose(
        unit @ engine.qty, engine.portfolio_pnl(1)[rows], rtol=1e-9, atol=1e-6
    )


def test_tail_weighted_unit_pnl_matches_per_row_unit_pnl(engine):
    # The Euler path (factor space for the linear part) against the per-scenario path.
    rows = np.arange(40)
    weights = np.zeros((2, rows.size))
    weights[0, 10:] = 1.0 / 30
    weights[1, [3, 4, 5]] = [0.25, 0.5, 0.25]
    inst = np.flatnonzero(engine.qty)
    got = engine.unit_pnl_weighted(1, rows, weights, inst)
    want = weights @ engine.unit_pnl_rows(1, rows, inst)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_snapshot_is_deterministic_and_immutable(snap):
    again = make_engine().refresh()
    assert again.as_dict(contributions=True) == snap.as_dict(contributions=True)
    assert again.lineage_id == snap.lineage_id
    with pytest.raises(ValueError):
        snap.component_es[0] = 1.0
    with pytest.raises(AttributeError):
        snap.ts_ns = 0  # type: ignore[misc]


def test_scaled_portfolio_scales_var():
    base = make_universe()
    scaled = Universe(
        base.instruments,
        base.books,
        base.positions.with_columns(pl.col("quantity") * 3.0),
        "USD",
        base.fx_to_base,
    )
    a, b = make_engine(base).refresh(), make_engine(scaled).refresh()
    for ma, mb in zip(a.measures, b.measures, strict=True):
        assert mb.var == pytest.approx(3 * ma.var, rel=1e-9)
        assert mb.es == pytest.approx(3 * ma.es, rel=1e-9)


def test_incremental_price_update_matches_a_fresh_engine():
    universe = make_universe()
    live = make_engine(universe)
    live.refresh()
    market = live.market
    # Move an equity that is no option underlying (exact) and one that is (grid shift).
    market.mid[[3, 0]] *= [1.02, 0.97]
    market.updated[[3, 0]] = True
    market.seq[[3, 0]] += 1
    after = live.refresh()
    fresh_market = market_from_ref(universe)
    fresh_market.mid[:] = market.mid
    fresh_market.seq[:] = market.seq
    fresh = make_engine(universe, market=fresh_market).refresh()
    for a, b in zip(after.measures, fresh.measures, strict=True):
        assert a.var == pytest.approx(b.var, rel=1e-5)
        assert a.es == pytest.approx(b.es, rel=1e-5)
    assert after.market_seq_digest == fresh.market_seq_digest


def test_incremental_var_of_a_trade(engine):
    iv, ies = engine.incremental_var(0, 500.0)
    before = var_es_from_pnl(engine.portfolio_pnl(1), 0.99)
    engine.apply_trade(0, 0, 500.0)
    after = var_es_from_pnl(engine.portfolio_pnl(1), 0.99)
    engine.apply_trade(0, 0, -500.0)
    assert iv == pytest.approx(after[0] - before[0], rel=1e-9)
    assert ies == pytest.approx(after[1] - before[1], rel=1e-9)


def test_option_trade_updates_its_book_grid(engine):
    opt = int(engine.opt_ids[0])
    before = engine.portfolio_pnl(1).copy()
    trade = engine.trade_pnl(1, opt, 7.0)
    engine.apply_trade(0, opt, 7.0)
    np.testing.assert_allclose(engine.portfolio_pnl(1), before + trade, rtol=1e-9, atol=1e-6)
    engine.apply_trade(0, opt, -7.0)


def test_parametric_linear_book_is_delta_normal():
    universe = make_universe()
    linear = (
        universe.positions.join(
            universe.instruments.select("instrument_id", "asset_class"), on="instrument_id"
        )
        .filter(pl.col("asset_class") != "option")
        .drop("asset_class")
    )
    u = Universe(universe.instruments, universe.books, linear, "USD", universe.fx_to_base)
    cfg = RiskConfig(method="parametric", n_scenarios=2000, horizons_days=(1, 10))
    eng = make_engine(u, config=cfg)
    snap = eng.refresh()
    pnl = eng.portfolio_pnl(1)
    sigma = pnl.std(ddof=1)
    head = snap.headline
    assert head.var == pytest.approx(ndtri(0.99) * sigma, rel=1e-9)
    assert snap.component_var.sum() == pytest.approx(head.var, rel=1e-9)
    assert snap.component_es.sum() == pytest.approx(head.es, rel=1e-9)


def test_parametric_with_options_is_delta_gamma():
    cfg = RiskConfig(method="parametric", n_scenarios=2000, horizons_days=(1,))
    snap = make_engine(config=cfg).refresh()
    hist = make_engine(config=RiskConfig(n_scenarios=2000, horizons_days=(1,))).refresh()
    # Same scenarios: the delta-gamma Cornish-Fisher VaR is close to the full revaluation.
    # The exact check is the test above; this one bounds the model error. Tolerance 15 %:
    # the 99 % HS quantile of n = 2000 scenarios has a standard error of about
    # sqrt(c(1-c)/n)/phi(z) = 0.084 sigma, 3.6 % of VaR for normal P&L (more with the
    # bootstrapped fat tails), and delta-gamma neglects vanna, volga and the higher
    # cumulants beyond Cornish-Fisher's fourth order; measured 8 % at this seed.
    assert snap.headline.var == pytest.approx(hist.headline.var, rel=0.15)


def test_parametric_with_options_equals_an_independent_delta_gamma_cornish_fisher():
    # Independent recomputation in numpy of the delta-gamma Cornish-Fisher VaR (Zangari 1996;
    # Jorion, Value at Risk 3rd ed., ch. 14) from the engine's Greeks and the full sample
    # covariance of the scenario moves. P&L Q = d'x + x'Gx/2 with x ~ N(0, S); its cumulants
    # (Mathai & Provost 1992, quadratic forms in normal variables), with A = G S:
    # k1 = tr(A)/2, k2 = d'Sd + tr(A^2)/2, k3 = 3 d'SGSd + tr(A^3), k4 = 12 d'SGSGSd + 3 tr(A^4),
    # then the third-order Cornish-Fisher quantile written out here, not the engine's helper.
    # Tolerance: both sides compute the same float64 algebra on the same float32 scenarios;
    # they differ only by summation order (the engine forms S d from a sweep over the
    # scenario matrix, the test forms S whole), about 1e-12 relative; 1e-8 leaves room.
    cfg = RiskConfig(method="parametric", n_scenarios=2000, horizons_days=(1,))
    eng = make_engine(config=cfg)
    snap = eng.refresh()
    x = np.asarray(eng.scenarios.shocks[1], dtype=np.float64)
    cov = np.cov(x, rowvar=False)
    opt = eng.opt_ids[eng.reason[eng.opt_ids] == VALUED]
    assert opt.size > 0  # the book holds options, else this reduces to delta-normal
    d = eng.exposures().astype(np.float64)
    spot_f, vol_f = eng.space.spot_factor[opt], eng.space.vol_factor[opt]
    np.add.at(d, spot_f, eng.qty[opt] * eng.unit_delta[opt])  # dollar delta per unit move
    np.add.at(d, vol_f, eng.qty[opt] * eng.unit_vega[opt] * eng.implied_vol[opt])
    g = np.zeros(d.size)
    np.add.at(g, spot_f, eng.qty[opt] * eng.unit_gamma[opt])  # diagonal dollar gamma
    G = np.diag(g)
    A = G @ cov
    Sd = cov @ d
    k1 = np.trace(A) / 2
    k2 = d @ Sd + np.trace(A @ A) / 2
    k3 = 3 * Sd @ G @ Sd + np.trace(A @ A @ A)
    k4 = 12 * Sd @ G @ cov @ G @ Sd + 3 * np.trace(A @ A @ A @ A)
    skew, kurt = k3 / k2**1.5, k4 / k2**2
    z = ndtri(0.01)
    w = z + (z**2 - 1) * skew / 6 + (z**3 - 3 * z) * kurt / 24 - (2 * z**3 - 5 * z) * skew**2 / 36
    var = -(k1 + w * np.sqrt(k2))
    m = next(m for m in snap.measures if m.confidence == 0.99 and m.horizon_days == 1)
    assert m.var == pytest.approx(var, rel=1e-8)
    # the gamma term matters here (skewness about -0.07): the delta-normal VaR z*sqrt(d'Sd)
    # is about 5 % lower, far outside the tolerance, so a dropped gamma term fails the test
    assert abs(skew) > 0.01
    assert -z * np.sqrt(d @ Sd) < var * (1 - 0.02)


def test_publish_and_cache_receive_the_snapshot():
    seen, cache = [], {}
    eng = make_engine(publish=seen.append, cache=cache)
    snap = eng.refresh()
    assert seen == [snap]
    assert cache["risk:snapshot"]["lineage_id"] == snap.lineage_id


# ----------------------------------------------------------------------- bad input


def test_unknown_instrument_is_excluded_and_listed():
    u = make_universe()
    extra = pl.DataFrame(
        {"book_id": [0], "instrument_id": [9999], "quantity": [10.0]}, schema=u.positions.schema
    )
    bad = Universe(u.instruments, u.books, pl.concat([u.positions, extra]), "USD", u.fx_to_base)
    snap = make_engine(bad).refresh()
    assert [e.as_dict() for e in snap.excluded] == [
        {"book_id": 0, "instrument_id": 9999, "reason": "unknown instrument"}
    ]
    assert snap.headline.var == make_engine(u).refresh().headline.var


def test_missing_price_is_excluded_and_listed():
    u = make_universe()
    market = market_from_ref(u)
    market.mid[3] = np.nan
    market.last[3] = np.nan
    snap = make_engine(u, market=market).refresh()
    assert {(e.instrument_id, e.reason) for e in snap.excluded} == {(3, "missing price")}
    assert snap.component_es[3] == 0.0
    without = Universe(
        u.instruments,
        u.books,
        u.positions.filter(pl.col("instrument_id") != 3),
        "USD",
        u.fx_to_base,
    )
    assert snap.headline.var == pytest.approx(
        make_engine(without).refresh().headline.var, rel=1e-12
    )


def test_missing_underlying_price_excludes_its_options():
    u = make_universe()
    market = market_from_ref(u)
    market.mid[0] = market.last[0] = np.nan
    snap = make_engine(u, market=market).refresh()
    reasons = {e.instrument_id: e.reason for e in snap.excluded}
    assert reasons[0] == "missing price"
    assert sum(r == "missing underlying price" for r in reasons.values()) == 3
    # the valuation record carries the same reasons as uint8 codes (REASONS' texts)
    codes = snap.valuation.reason
    assert codes.dtype == np.uint8 and not codes.flags.writeable
    listed = {e.instrument_id: e.reason for e in snap.excluded if e.reason in REASONS}
    assert {i: REASONS[codes[i]] for i in np.flatnonzero(codes)}.items() >= listed.items()
    assert codes[0] == REASON_CODE["missing price"] and not snap.valuation.valued[0]


def test_negative_volatility_is_excluded_and_listed():
    u = make_universe()
    iv = np.full(len(u), np.nan)
    opts = (u.instruments["asset_class"] == "option").to_numpy()
    iv[opts] = 0.25
    first = int(np.flatnonzero(opts)[0])
    iv[first] = -0.2
    snap = make_engine(u, implied_vol=iv).refresh()
    assert {(e.instrument_id, e.reason) for e in snap.excluded} == {(first, "negative volatility")}


def test_nan_scenarios_and_quantities_raise():
    with pytest.raises(InputError, match="scenario 1, factor 0"):
        ScenarioSet.from_log_moves({1: np.array([[0.0, 0.1], [np.nan, 0.0]])}, np.zeros(2))
    u = make_universe()
    bad = Universe(
        u.instruments,
        u.books,
        u.positions.with_columns(
            pl.when(pl.col("instrument_id") == 2)
            .then(np.nan)
            .otherwise(pl.col("quantity"))
            .alias("quantity")
        ),
        "USD",
        u.fx_to_base,
    )
    with pytest.raises(InputError, match="quantity"):
        make_engine(bad)


# ----------------------------------------------------------------------- stage


def test_stage_refreshes_every_interval_of_event_time():
    eng = make_engine(
        config=RiskConfig(n_scenarios=1000, horizons_days=(1,), snapshot_interval_ms=100)
    )
    stage = RiskStage(eng)
    events = np.zeros(0)
    t0 = 1_780_326_000_000_000_000
    for k in range(10):
        stage.on_batch(events, t0 + k * 30_000_000)  # every 30 ms
    assert stage.snapshots == 3  # at 0, 120 and 240 ms
    out = stage.summary()
    assert {"var", "es", "lvar", "top_contributors"} <= set(out)
    assert out["var"] == stage.last.headline.var
    assert any(label.startswith("VaR") for label, _ in stage.view())


def test_bond_key_rate_loadings_match_repricing():
    # A parallel 1 bp shift of the curve moves a bond by its DV01 (Fabozzi, Bond Markets,
    # ch. 4): the key-rate loadings sum to -dP/dy, checked against repricing at y +- 1 bp.
    from riskstream.pricing import bond_price_from_yield

    eng = make_engine()
    bonds = np.flatnonzero(eng.asset_class == 4)
    for b in bonds:
        y = eng.bond_yield[b]
        mat = (eng.ref.maturity_days[b] - (AS_OF_DAYS)) / 365.0
        c, f = eng.coupon[b], eng.freq[b]
        assert bond_price_from_yield(y, c, mat, f) == pytest.approx(eng.price[b], abs=1e-8)
        up = bond_price_from_yield(y + 1e-4, c, mat, f)
        dn = bond_price_from_yield(y - 1e-4, c, mat, f)
        dv01 = (dn - up) / 2 * eng.multiplier[b]
        assert -eng.lin_s[b, :2].sum() * 1e-4 == pytest.approx(dv01, rel=1e-6)
        assert eng.unit_dv01[b] == pytest.approx(dv01, rel=1e-6)


def test_a_bond_is_solved_again_only_when_its_price_moved(monkeypatch):
    """md re-sends a book whose sizes moved and price did not: its bond's yield and DV01
    are kept, not solved again, and a moved bond's come out equal, bit for bit, to those
    of an engine that solves every bond at the new prices."""
    import riskstream.risk.marks as marks

    market = market_from_ref(make_universe())
    eng = make_engine(market=market)
    eng.refresh()
    bonds = np.flatnonzero(eng.asset_class == 4)
    moved, touched = bonds[0], bonds[1:]
    solved: list[int] = []
    solve = marks.bond_yield_from_price

    def counted(price, *args, **kw):
        solved.extend(np.atleast_1d(price).tolist())
        return solve(price, *args, **kw)

    monkeypatch.setattr(marks, "bond_yield_from_price", counted)
    market.mid[moved] *= 1.001
    market.last[moved] = market.mid[moved]
    market.bid_size[touched] = 5.0  # a size moved, the price did not
    market.updated[bonds] = True
    eng.refresh()
    assert solved == [market.mid[moved]]
    fresh = make_engine(market=market)
    fresh.refresh()
    assert eng.bond_yield[bonds].tolist() == fresh.bond_yield[bonds].tolist()
    assert eng.unit_dv01[bonds].tolist() == fresh.unit_dv01[bonds].tolist()
    assert eng.lin_s[bonds].tolist() == fresh.lin_s[bonds].tolist()


def test_results_do_not_depend_on_the_thread_count():
    import numba

    one = make_engine(config=RiskConfig(n_scenarios=2000, horizons_days=(1, 10), threads=1))
    many = make_engine(
        config=RiskConfig(
            n_scenarios=2000, horizons_days=(1, 10), threads=numba.config.NUMBA_NUM_THREADS
        )
    )
    a, b = one.refresh().as_dict(contributions=True), many.refresh().as_dict(contributions=True)
    assert a == b  # lineage included: threads are not part of the config fingerprint
