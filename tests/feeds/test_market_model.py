"""Statistical properties of the simulator's latent market (the model, without events):
factor correlations, regime volatilities and dwell times, the yield curve, FX carry, the
volatility surface, and the intraday cycle."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from riskstream.feeds.config import RegimeConfig, SimulatorConfig
from riskstream.feeds.factors import nelson_siegel_loadings
from riskstream.feeds.market_model import intraday_activity, intraday_spread
from riskstream.feeds.markets import zero_rate
from riskstream.feeds.simulator import MarketSimulator
from riskstream.pricing import bsm_implied_vol

MIDDAY = dt.datetime(2024, 6, 28, 16, 45)  # halfway through the 13:30-20:00 UTC session
FROZEN = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def _config(regime: int = 0, transitions=FROZEN, **kw) -> SimulatorConfig:
    regimes = RegimeConfig(
        initial=regime, transition_per_min=transitions, market_jumps_per_day=(0.0, 0.0, 0.0)
    )
    return SimulatorConfig(
        seed=kw.pop("seed", 3), start=MIDDAY, regimes=regimes, idio_jumps_per_day=0.0, **kw
    )


def _path(sim: MarketSimulator, steps: int, dt_s: float = 1.0) -> np.ndarray:
    """Fair values after each of ``steps`` model steps of ``dt_s``, shape (steps + 1, N)."""
    model = sim.model
    out = [model.fair.copy()]
    for _ in range(steps):
        model.step(model.t_ns + int(dt_s * 1e9))
        out.append(model.fair.copy())
    return np.array(out)


def _one_per_driver(sim: MarketSimulator, classes: tuple[str, ...]) -> np.ndarray:
    asset = sim.universe.instruments["asset_class"].to_numpy()
    ids = np.flatnonzero(np.isin(asset, classes))
    _, first = np.unique(sim.model.driver_of[ids], return_index=True)
    return ids[np.sort(first)]


def test_realised_correlation_matches_the_factor_model(universe):
    """Log returns of equities, futures and FX spots over 4,000 one-second steps have the
    correlation matrix the factor model implies, B diag(sigma^2) B' + diag(sigma_e^2).

    Tolerance: the Fisher transform atanh(r) of a sample correlation of n bivariate-normal
    pairs is normal with standard error 1/sqrt(n - 3) (Fisher 1921); we allow 4 standard
    errors on each of the ~45 pairs (family-wise false-alarm rate under 0.3 %)."""
    sim = MarketSimulator(universe, _config())
    ids = _one_per_driver(sim, ("equity", "future", "fx"))  # fx: the spot comes first
    path = _path(sim, 4000)
    returns = np.diff(np.log(path[:, ids]), axis=0)
    realised = np.corrcoef(returns.T)
    drivers = sim.model.driver_of[ids]
    cov = sim.model.factors.covariance()[np.ix_(drivers, drivers)]
    implied = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    upper = np.triu_indices(len(ids), 1)
    z_gap = np.abs(np.arctanh(realised[upper]) - np.arctanh(implied[upper]))
    assert z_gap.max() < 4.0 / np.sqrt(len(returns) - 3), (realised, implied)
    assert implied[upper].max() > 0.4  # the test has real co-movement to detect


def test_regime_volatilities_are_ordered_and_match_the_model(universe):
    """With the chain frozen in each regime, the realised volatility of the S&P 500 driver is
    ordered calm < volatile < crisis and within 8 % of the model's (the standard error of a
    volatility estimated from n normal returns is about sigma / sqrt(2n) = 1.6 % here)."""
    vols = []
    for regime in (0, 1, 2):
        sim = MarketSimulator(universe, _config(regime))
        es = int(np.flatnonzero(sim.universe.instruments["symbol"].to_numpy() == "ESU24")[0])
        path = _path(sim, 2000)
        realised = np.diff(np.log(path[:, es])).std() * np.sqrt(sim.model.year_s)
        rc = sim.config.regimes
        model = sim.model.factors.driver_vols(rc.factor_vol_mult[regime], rc.idio_vol_mult[regime])
        expected = model[sim.model.driver_of[es]]
        assert realised == pytest.approx(expected, rel=0.08)
        vols.append(realised)
    assert vols[0] < vols[1] < vols[2]


def test_regime_chain_dwell_times_and_labels(universe):
    """A fast chain (stay probability 0.5 a minute: mean dwell 60 / ln 2 = 86.6 s) over two
    simulated hours: the recorded path has the right mean dwell (within 35 %, about 3
    standard errors for ~80 spells), visits every regime, and returns labelled by it have
    volatilities ordered calm < volatile < crisis."""
    chain = ((0.5, 0.4, 0.1), (0.3, 0.5, 0.2), (0.2, 0.3, 0.5))
    sim = MarketSimulator(universe, _config(0, chain, seed=5))
    es = int(np.flatnonzero(sim.universe.instruments["symbol"].to_numpy() == "ESU24")[0])
    labels = []
    fair = [sim.model.fair[es]]
    for _ in range(7200):
        sim.model.step(sim.model.t_ns + 10**9)
        labels.append(sim.model.regime)
        fair.append(sim.model.fair[es])
    changes = sim.model.regime_changes
    assert changes[0] == (sim.start_ns, 0)
    dwell = np.diff([t for t, _ in changes]) / 1e9
    assert dwell.mean() == pytest.approx(60 / np.log(2), rel=0.35)
    labels = np.array(labels)
    assert set(labels) == {0, 1, 2}
    returns = np.diff(np.log(fair))
    vol = [returns[labels == r].std() for r in (0, 1, 2)]
    assert vol[0] < vol[1] < vol[2]


def test_correlation_rises_in_crisis(universe):
    """The regime multipliers scale systematic risk more than idiosyncratic risk, so the
    model's average pairwise equity correlation is higher in a crisis than in calm."""
    sim = MarketSimulator(universe, _config())
    drivers = sim.model.driver_of[_one_per_driver(sim, ("equity",))]
    rc = sim.config.regimes

    def mean_corr(r: int) -> float:
        cov = sim.model.factors.covariance(rc.factor_vol_mult[r], rc.idio_vol_mult[r])
        c = cov[np.ix_(drivers, drivers)]
        corr = c / np.sqrt(np.outer(np.diag(c), np.diag(c)))
        return float(corr[np.triu_indices(len(drivers), 1)].mean())

    assert mean_corr(0) < mean_corr(1) < mean_corr(2)


def test_nelson_siegel_curvature_peaks_where_diebold_li_say():
    """Diebold & Li (2006, J. Econometrics 130, p. 346): with lambda = 0.0609 per month the
    curvature loading is maximised at 30 months. In our parametrisation tau = 1/lambda."""
    years = np.linspace(0.1, 10, 9901)
    curvature = nelson_siegel_loadings(years, tau=1 / 0.0609 / 12)[:, 2]
    assert years[np.argmax(curvature)] == pytest.approx(2.5, abs=0.05)
    level, slope, curv = nelson_siegel_loadings(np.array([1e-6, 30.0]), tau=2.0).T
    assert level.tolist() == [1.0, 1.0]
    assert slope[0] == pytest.approx(1.0, abs=1e-6) and slope[1] < 0.1  # short end loads
    assert curv[0] == pytest.approx(0.0, abs=1e-6)


def test_bond_prices_follow_their_yields(universe):
    """Bonds start at their reference prices (within a tick: the yield is solved from the
    price), are priced from the yield y0 + z at every step, and yields of one currency move
    together (the curve factors), long and short ends with the Nelson-Siegel loadings."""
    sim = MarketSimulator(universe, _config())
    model = sim.model
    bonds = model.bonds
    tick = sim.universe.instruments["tick_size"].to_numpy()[bonds]
    np.testing.assert_array_less(np.abs(model.fair[bonds] - model.ref[bonds]), tick)
    y = [model.bond_yields().copy()]
    for _ in range(3000):
        model.step(model.t_ns + 10**9)
        y.append(model.bond_yields().copy())
    dy = np.diff(np.array(y), axis=0)
    symbols = sim.universe.instruments["symbol"].to_numpy()[bonds].tolist()
    t2, t10, bund = symbols.index("T 2Y"), symbols.index("T 10Y"), symbols.index("DBR 5Y")
    corr = np.corrcoef(dy.T)
    assert corr[t2, t10] > 0.4 and corr[t2, t10] > corr[t2, bund]
    drivers = model.driver_of[bonds]
    cov = model.factors.covariance()[np.ix_(drivers, drivers)]
    implied = cov[t2, t10] / np.sqrt(cov[t2, t2] * cov[t10, t10])
    assert np.arctanh(corr[t2, t10]) == pytest.approx(np.arctanh(implied), abs=4 / np.sqrt(2997))


def test_fx_forwards_carry_at_covered_interest_parity(universe):
    """An FX forward's fair value is its pair's spot times exp((r_quote - r_base) T), with the
    currencies' zero rates (covered interest parity), and rolls towards spot as T shrinks."""
    sim = MarketSimulator(universe, _config())
    inst = sim.universe.instruments
    symbols = inst["symbol"].to_list()
    spot = symbols.index("EURUSD")
    fwd = next(i for i, s in enumerate(symbols) if s.startswith("EURUSD "))
    for _ in range(3):
        model = sim.model
        T = (inst["expiry"][fwd] - dt.date(1970, 1, 1)).days * 86400e9 - model.t_ns
        T /= 365 * 86400e9
        carry = zero_rate(["USD"], np.array([T]))[0] - zero_rate(["EUR"], np.array([T]))[0]
        ratio = model.fair[fwd] / model.fair[spot]
        assert ratio == pytest.approx(np.exp(carry * T), rel=2e-5)
        model.step(model.t_ns + 3600 * 10**9)
    assert abs(model.fair[fwd] - model.ref[fwd]) < 0.02 * model.ref[fwd]


def test_volatility_surface_skew_term_structure_and_leverage(universe):
    """Option fair values: start at the reference prices (the calibration recovers the
    universe's volatility levels), carry a downward skew (an out-of-the-money put is richer in
    implied volatility than the call equally far out of the money), an upward calm term
    structure, and after a 7 % fall of the underlying in a crisis the at-the-money volatility
    has risen (leverage effect) and the term structure has inverted."""
    sim = MarketSimulator(universe, _config())
    model = sim.model
    inst = sim.universe.instruments
    opts = model.options
    tick = inst["tick_size"].to_numpy()[opts]
    ref = model.ref[opts]
    np.testing.assert_array_less(np.abs(model.fair[opts] - ref), 3 * tick + 0.03 * ref)

    def implied(prices):
        S = model.fair[model.opt_under]
        T = model._years(model.opt_expiry_ns)
        q = np.where(model.opt_black76, model.opt_rate, 0.0)
        return bsm_implied_vol(prices, S, model.opt_strike, T, model.opt_rate, q, model.opt_call)

    iv = implied(model.fair[opts])
    np.testing.assert_allclose(iv, model.option_vols(), rtol=1e-6)  # prices are on the surface
    strike, expiry = model.opt_strike, model.opt_expiry_ns
    S = model.fair[model.opt_under]
    for u in np.unique(model.opt_under):
        for e in np.unique(expiry[model.opt_under == u]):
            chain = (model.opt_under == u) & (expiry == e)
            put = chain & ~model.opt_call & (strike < 0.95 * S)
            call = chain & model.opt_call & (strike > 1.05 * S)
            assert iv[put].min() > iv[call].max()
    short, long_ = 1 / 12, 1.0
    for u in np.unique(model.opt_under):  # calm: upward-sloping term structure
        assert model.atm_vol(u, short) < model.atm_vol(u, long_)
    crisis = MarketSimulator(universe, _config(2))
    m2 = crisis.model
    m2.z[m2.driver_of[model.opt_under]] += np.log(0.93)  # the underlyings fall 7 % ...
    m2.iv_log += crisis.config.leverage * np.log(0.93)  # ... and vol responds as step() does
    jump = [m2.atm_vol(u, short) / model.atm_vol(u, short) for u in np.unique(model.opt_under)]
    assert min(jump) > 1.2  # leverage: exp(3 x 0.0725) = 1.24
    for _ in range(600):  # ten minutes of crisis: vol reverts to the crisis level
        m2.step(m2.t_ns + 10**9)
    for u in np.unique(model.opt_under):
        assert m2.atm_vol(u, short) > 1.5 * model.atm_vol(u, short)
        assert m2.atm_vol(u, short) > m2.atm_vol(u, long_)  # inverted


def test_intraday_cycles_are_u_shaped():
    """Activity averages 1 over a session and is higher at the open and close than at midday;
    spreads are widest at the open (Jain & Joh 1988; McInish & Wood 1992)."""
    tau = np.linspace(0, 1, 100_001)
    activity = intraday_activity(tau)
    assert activity.mean() == pytest.approx(1.0, rel=1e-3)
    assert activity[0] > 2 * activity[50_000] and activity[-1] > 1.5 * activity[50_000]
    spread = intraday_spread(tau)
    assert spread[0] > spread[-1] > spread[50_000] == pytest.approx(1.0, abs=1e-3)


def test_market_jumps_fatten_the_tails(universe):
    """Compound-Poisson market jumps (here 600 a session, N(-1 %, 1 %) each) give returns a
    large excess kurtosis; without jumps one-second returns are Gaussian (excess kurtosis
    within 0.4 of 0: its standard error is sqrt(24 / n) = 0.09 for n = 3,000)."""
    from scipy.stats import kurtosis

    out = []
    for per_day in (0.0, 600.0):
        regimes = RegimeConfig(transition_per_min=FROZEN, market_jumps_per_day=(per_day,) * 3)
        config = SimulatorConfig(seed=8, start=MIDDAY, regimes=regimes, idio_jumps_per_day=0.0)
        sim = MarketSimulator(universe, config)
        es = int(np.flatnonzero(sim.universe.instruments["symbol"].to_numpy() == "ESU24")[0])
        path = _path(sim, 3000)
        out.append(kurtosis(np.diff(np.log(path[:, es]))))
    assert abs(out[0]) < 0.4
    assert out[1] > 3.0
