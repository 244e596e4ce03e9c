"""Regime-conditional scenarios (risk.conditioning, RiskEngine.condition_on_regime): the
recoloured scenarios have the target covariance, VaR scales with the volatility multiplier,
and switching back restores the unconditional figures bit for bit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from riskstream.core.errors import InputError
from riskstream.core.instruments import Universe
from riskstream.models.correlation_stress import single_index_stress
from riskstream.risk.conditioning import RegimeConditioning, recolour, scenario_moments
from riskstream.risk.config import RiskConfig
from riskstream.risk.factors import PRICE
from tests.risk.helpers import make_engine, make_universe, market_from_ref

CRISIS = RegimeConditioning("crisis", 1.8, 2.5, probability=0.9)


def _config(**kw) -> RiskConfig:
    return RiskConfig(n_scenarios=2000, horizons_days=(1, 10), regime_conditional=True, **kw)


def _only(universe: Universe, classes: tuple[str, ...]) -> Universe:
    pos = (
        universe.positions.join(
            universe.instruments.select("instrument_id", "asset_class"), on="instrument_id"
        )
        .filter(pl.col("asset_class").is_in(classes))
        .drop("asset_class")
    )
    return Universe(universe.instruments, universe.books, pos, "USD", universe.fx_to_base)


def _additive(shocks: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Stored moves in additive units (log returns for price factors), float64."""
    y = shocks.astype(np.float64)
    y[:, kind == PRICE] = np.log1p(y[:, kind == PRICE])
    return y


@pytest.fixture(scope="module")
def engine():
    return make_engine(config=_config())


def test_recoloured_scenarios_have_the_target_covariance(engine) -> None:
    kind = engine.space.kind
    base = engine.scenarios
    moments = scenario_moments(base, kind)
    out = recolour(base, moments, CRISIS)
    for h in (1, 10):
        y, y2 = _additive(base.shocks[h], kind), _additive(out.shocks[h], kind)
        cov = np.cov(y, rowvar=False)
        d = np.sqrt(np.diag(cov))
        # the market index, recomputed here: equal-weighted standardised price factors
        z = (y - y.mean(0)) / d
        g = z[:, kind == PRICE].mean(axis=1)
        c = np.array([np.corrcoef(y[:, j], g)[0, 1] for j in range(y.shape[1])])
        np.testing.assert_allclose(moments.index_corr[h], c, atol=1e-9)
        target = (
            CRISIS.vol_multiplier**2
            * np.outer(d, d)
            * single_index_stress(cov / np.outer(d, d), CRISIS.market_variance_ratio, c)
        )
        # exact up to the float32 storage of the moves
        np.testing.assert_allclose(np.cov(y2, rowvar=False), target, rtol=1e-4, atol=1e-9)
        np.testing.assert_allclose(y2.mean(0), y.mean(0), atol=1e-6)  # means kept
        # identity: the same moves back (up to float32 and log1p/expm1 round trips)
        same = recolour(base, moments, RegimeConditioning("calm", 1.0, 1.0))
        np.testing.assert_allclose(same.shocks[h], base.shocks[h], rtol=1e-6, atol=1e-8)
    # correlation rises: the average correlation of price factors
    r = np.corrcoef(_additive(out.shocks[1], kind)[:, kind == PRICE], rowvar=False)
    r0 = np.corrcoef(_additive(base.shocks[1], kind)[:, kind == PRICE], rowvar=False)
    n = r.shape[0]
    assert (r.sum() - n) / (n * (n - 1)) > (r0.sum() - n) / (n * (n - 1)) + 0.05
    assert out.fingerprint != base.fingerprint


def test_pure_vol_scaling_scales_var_of_a_linear_book() -> None:
    # A bond book loads on rate factors, whose moves are absolute changes: the map is
    # linear, so P&L' = s P&L + (1 - s) mean(P&L) scenario by scenario, and every
    # order statistic follows: VaR' = s VaR + (s - 1) mean(P&L) (same for ES).
    s = 1.7
    eng = make_engine(_only(make_universe(), ("bond",)), config=_config())
    before = eng.refresh()
    mean = {h: eng.portfolio_pnl(h).mean() for h in (1, 10)}
    eng.condition_on_regime(RegimeConditioning("volatile", s))
    after = eng.refresh()
    for a, b in zip(before.measures, after.measures, strict=True):
        mu = mean[a.horizon_days]
        assert b.var == pytest.approx(s * a.var + (s - 1) * mu, rel=1e-5)
        assert b.es == pytest.approx(s * a.es + (s - 1) * mu, rel=1e-5)


def test_parametric_var_scales_by_the_vol_multiplier() -> None:
    # Delta-normal VaR = z sqrt(w' Sigma w) (Jorion, Value at Risk, 3rd ed., 2007): with
    # Sigma' = s^2 Sigma exactly (rate factors), VaR' = s VaR.
    s = 2.2
    eng = make_engine(_only(make_universe(), ("bond",)), config=_config(method="parametric"))
    before = eng.refresh()
    eng.condition_on_regime(RegimeConditioning("crisis", s))
    after = eng.refresh()
    sigma = eng.portfolio_pnl(1).std(ddof=1)
    assert after.headline.var == pytest.approx(ndtri(0.99) * sigma, rel=1e-9)
    for a, b in zip(before.measures, after.measures, strict=True):
        assert b.var == pytest.approx(s * a.var, rel=1e-5)
    # equities: the map acts on log returns, so arithmetic moves scale by s only to first
    # order (daily moves of a few percent: within 2%)
    eq = make_engine(_only(make_universe(), ("equity",)), config=_config(method="parametric"))
    v0 = eq.refresh().headline.var
    eq.condition_on_regime(RegimeConditioning("crisis", s))
    assert eq.refresh().headline.var == pytest.approx(s * v0, rel=0.02)


def test_switching_back_restores_the_figures_exactly() -> None:
    universe = make_universe()
    eng = make_engine(universe, config=_config())
    before = eng.refresh()
    eng.condition_on_regime(CRISIS)
    crisis = eng.refresh()
    assert crisis.regime_conditioning == CRISIS.as_dict()
    assert crisis.headline.var > 1.5 * before.headline.var
    assert crisis.lineage_id != before.lineage_id
    assert eng.refresh().lineage_id == crisis.lineage_id  # no switch: no change
    eng.condition_on_regime(RegimeConditioning("volatile", 1.3, 1.5))
    eng.condition_on_regime(None)
    back = eng.refresh()
    assert back.regime_conditioning is None
    assert back.as_dict(contributions=True) == before.as_dict(contributions=True)
    # after price moves: the figures of an engine freshly built on the same market
    eng.condition_on_regime(CRISIS)
    eng.market.mid[[0, 3]] *= [0.97, 1.02]
    eng.market.updated[[0, 3]] = True
    eng.market.seq[[0, 3]] += 1
    eng.refresh()
    eng.condition_on_regime(RegimeConditioning("calm", 1.0, 1.0))  # identity: back
    moved = eng.refresh()
    market = market_from_ref(universe)
    market.mid[:], market.seq[:] = eng.market.mid, eng.market.seq
    fresh = make_engine(universe, config=_config(), market=market).refresh()
    assert moved.as_dict(contributions=True) == fresh.as_dict(contributions=True)


@settings(max_examples=25, deadline=None)
@given(
    qty=st.lists(st.floats(-5.0, 5.0).filter(lambda q: abs(q) > 0.05), min_size=4, max_size=4),
    s=st.lists(st.floats(0.3, 4.0), min_size=2, max_size=2, unique=True),
)
def test_var_of_a_linear_book_rises_with_the_vol_multiplier(engine, qty, s) -> None:
    # equities, FX and bonds in random long/short sizes; the same market-variance ratio
    universe = make_universe()
    cls = universe.instruments["asset_class"].to_numpy()
    ids = [0, 3, int(np.flatnonzero(cls == "fx")[0]), int(np.flatnonzero(cls == "bond")[0])]
    pos = pl.DataFrame(
        {"book_id": [0] * 4, "instrument_id": ids, "quantity": [q * 1000 for q in qty]},
        schema=universe.positions.schema,
    )
    engine.set_positions(pos, universe.books)
    low, high = sorted(s)
    engine.condition_on_regime(RegimeConditioning("a", low, 2.0))
    v_low = engine.refresh().headline.var
    engine.condition_on_regime(RegimeConditioning("b", high, 2.0))
    v_high = engine.refresh().headline.var
    engine.condition_on_regime(None)
    assert v_high > v_low > 0


def test_conditioning_needs_the_setting_and_valid_figures() -> None:
    eng = make_engine(config=RiskConfig(n_scenarios=500, horizons_days=(1,)))
    with pytest.raises(InputError, match="regime_conditional"):
        eng.condition_on_regime(CRISIS)
    assert eng.refresh().regime_conditioning is None
    with pytest.raises(InputError, match="vol_multiplier"):
        RegimeConditioning("x", 0.0)
    with pytest.raises(InputError, match="market_variance_ratio"):
        RegimeConditioning("x", 1.0, float("nan"))
