"""One estimator interface (scikit-learn's) across the models and regime packages, composition
by instances, and the warnings tier: a fit that does not converge is flagged, recorded and
carried into the risk snapshot's lineage.

The contract checked is scikit-learn's own (``sklearn.base.clone`` raises when ``__init__``
alters a parameter; ``get_params`` reads the ``__init__`` signature), as skfolio follows it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone

from riskstream.core.clock import ManualClock
from riskstream.core.warnings import (
    ConvergenceWarning,
    DataScaleWarning,
    RiskstreamWarning,
    third_party_warnings,
)
from riskstream.models import (
    DCCGarch,
    EWMACovariance,
    FilteredHistoricalSimulation,
    GarchPanel,
    GarchVolatility,
    GaussianCopula,
    HistoricalSimulation,
    ModelsConfig,
    MonteCarloSimulation,
    StudentTCopula,
    generator_from_config,
    scenario_generator,
)
from riskstream.regime import (
    CusumDetector,
    DynamicFactorDetector,
    HMMDetector,
    LSTMDetector,
    MosumDetector,
    MSGarchDetector,
    RegimeConfig,
    RegimeEnsemble,
    StudentTHMMDetector,
)
from riskstream.risk.config import RiskConfig
from riskstream.risk.engine import RiskEngine
from riskstream.risk.factors import build_factor_space
from riskstream.risk.scenarios import ScenarioSet

# every estimator family, each with parameters away from its defaults (so a round trip that
# dropped one would show)
ESTIMATORS = [
    GarchVolatility(p=1, o=1, q=1, dist="normal", mean="zero"),
    GarchPanel(o=1, dist="normal", mean="zero", max_iter=50),
    EWMACovariance(lam=0.97),
    DCCGarch(volatility=GarchPanel(o=1), max_iter=100),
    GaussianCopula(method="kendall"),
    StudentTCopula(method="normal_scores", nu=6.0),
    HistoricalSimulation(paths="bootstrap"),
    FilteredHistoricalSimulation(volatility=GarchPanel(o=1, dist="normal")),
    MonteCarloSimulation(copula=GaussianCopula(), volatility=GarchPanel(mean="zero")),
    HMMDetector(n_regimes=2, n_init=1, n_iter=20, seed=3, zero_mean=False),
    StudentTHMMDetector(n_regimes=2, n_init=1, n_iter=20, seed=3, df=6.0, t_iter=5),
    MSGarchDetector(n_regimes=2, n_starts=1, seed=3),
    DynamicFactorDetector(n_regimes=2, halflife=4.0, seed=3, max_iter=20),
    CusumDetector(n_regimes=2, k=0.4, h=5.0, seed=3),
    MosumDetector(n_regimes=2, bandwidth=8, critical=3.5, seed=3),
    LSTMDetector(n_regimes=2, window=8, hidden=4, epochs=1, seed=3),
    RegimeEnsemble(
        detectors=[HMMDetector(n_regimes=2), CusumDetector(n_regimes=2)],
        n_regimes=2,
        smoothing_q=0.05,
        hysteresis=0.2,
        seed=3,
    ),
]


def _flat(params: dict) -> dict:
    """Parameters with nested estimators replaced by (class, their parameters)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, BaseEstimator):
            out[key] = (type(value), _flat(value.get_params(deep=False)))
        elif isinstance(value, list | tuple):
            out[key] = [
                (type(v), _flat(v.get_params(deep=False))) if isinstance(v, BaseEstimator) else v
                for v in value
            ]
        else:
            out[key] = value
    return out


def _fitted_attributes(est: object) -> list[str]:
    return [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_get_params_round_trip_and_clone(est: BaseEstimator) -> None:
    assert isinstance(est, BaseEstimator)
    params = est.get_params(deep=False)
    rebuilt = type(est)(**params)
    assert _flat(rebuilt.get_params(deep=False)) == _flat(params)
    twin = clone(est)  # raises if __init__ altered a parameter
    assert type(twin) is type(est) and twin is not est
    assert _flat(twin.get_params(deep=False)) == _flat(params)
    assert not _fitted_attributes(twin)
    # nested estimators are cloned too, not shared
    for key, value in params.items():
        if isinstance(value, BaseEstimator):
            assert twin.get_params(deep=False)[key] is not value


def test_clone_of_a_fitted_estimator_is_unfitted(sp500_log: np.ndarray) -> None:
    r = np.c_[sp500_log[-600:], 0.5 * sp500_log[-600:] + 0.01 * np.sin(np.arange(600))]
    for est in (GarchPanel(o=1), EWMACovariance(lam=0.9), FilteredHistoricalSimulation()):
        est.fit(r)
        assert _fitted_attributes(est)
        twin = clone(est)
        assert not _fitted_attributes(twin)
        assert _flat(twin.get_params(deep=False)) == _flat(est.get_params(deep=False))


def test_nested_parameters_are_reachable_by_name() -> None:
    mc = MonteCarloSimulation(copula=StudentTCopula(), volatility=GarchPanel())
    assert mc.get_params()["volatility__o"] == 0
    mc.set_params(volatility__o=1, copula__method="normal_scores")
    assert mc.volatility.o == 1 and mc.copula.method == "normal_scores"


def test_composition_leaves_the_parts_passed_in_unfitted(sp500_log: np.ndarray) -> None:
    vol = GarchPanel()
    FilteredHistoricalSimulation(volatility=vol).fit(sp500_log[-600:, None])
    assert not _fitted_attributes(vol)


@pytest.fixture(scope="module")
def three_factors(sp500_log: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(5)
    spx = sp500_log[-1200:]
    noise = rng.standard_t(5, (1200, 2)) * 0.006
    return np.c_[spx, 0.7 * spx + noise[:, 0], -0.3 * spx + noise[:, 1]]


def test_instances_and_strings_draw_the_same_scenarios(three_factors: np.ndarray) -> None:
    """The string factory (CLI) and the settings path build the very model the instances
    do: same fit, same seed, same draws bit for bit."""
    by_instance = MonteCarloSimulation(copula=GaussianCopula(), volatility=GarchPanel(o=1)).fit(
        three_factors
    )
    by_name = scenario_generator("mc", copula="gaussian", o=1).fit(three_factors)
    by_settings = generator_from_config(
        "mc", ModelsConfig(copula="gaussian", garch_asymmetric=True)
    ).fit(three_factors)
    expected = by_instance.generate(500, 5, seed=11)
    np.testing.assert_array_equal(by_name.generate(500, 5, seed=11), expected)
    np.testing.assert_array_equal(by_settings.generate(500, 5, seed=11), expected)


def test_generator_from_config_honours_every_models_setting() -> None:
    cfg = ModelsConfig(
        garch_dist="normal",
        garch_mean="zero",
        garch_asymmetric=True,
        copula="t",
        hs_paths="bootstrap",
    )
    hs = generator_from_config("historical", cfg)
    assert isinstance(hs, HistoricalSimulation) and hs.paths == "bootstrap"
    fhs = generator_from_config("fhs", cfg)
    assert fhs.volatility.get_params() == {
        "o": 1,
        "dist": "normal",
        "mean": "zero",
        "max_iter": 500,
    }
    mc = generator_from_config("mc", cfg)
    assert isinstance(mc.copula, StudentTCopula)
    assert mc.volatility.get_params()["dist"] == "normal"
    assert isinstance(
        generator_from_config("mc", ModelsConfig(copula="gaussian")).copula, GaussianCopula
    )


def test_a_garch_that_does_not_converge_warns_and_records_it(sp500_log: np.ndarray) -> None:
    """One SLSQP iteration cannot reach the optimum: the fit is kept, flagged per column,
    recorded in ``warnings_`` and emitted as a ConvergenceWarning."""
    r = sp500_log[-1000:, None]
    with pytest.warns(ConvergenceWarning, match="column 0: SLSQP did not converge"):
        panel = GarchPanel(max_iter=1).fit(r)
    assert not panel.converged_[0]
    assert len(panel.warnings_) == 1 and panel.warnings_[0].startswith("ConvergenceWarning:")
    # the same data with the default cap converges cleanly, without any warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", RiskstreamWarning)
        clean = GarchPanel().fit(r)
    assert clean.converged_.all() and clean.warnings_ == []


def test_composites_carry_their_parts_warnings(three_factors: np.ndarray) -> None:
    with pytest.warns(ConvergenceWarning):
        fhs = FilteredHistoricalSimulation(volatility=GarchPanel(max_iter=1)).fit(three_factors)
    assert len(fhs.warnings_) == 3  # one per factor
    with pytest.warns(ConvergenceWarning):
        dcc = DCCGarch(volatility=GarchPanel(max_iter=1), max_iter=1).fit(three_factors)
    assert any("DCCGarch: the correlation step" in w for w in dcc.warnings_)
    assert not dcc.converged_


def test_hmm_em_that_stops_early_warns(sp500_log: np.ndarray) -> None:
    r = np.c_[sp500_log[-800:], np.roll(sp500_log[-800:], 1)]
    with pytest.warns(ConvergenceWarning, match="EM stopped after 1 iterations"):
        hmm = HMMDetector(n_regimes=2, n_init=1, n_iter=1).fit(r)
    assert not hmm.converged_ and hmm.warnings_


def test_stale_series_draws_a_data_scale_warning(sp500_log: np.ndarray) -> None:
    """A price quoted on only a third of the days (zero returns in between) is fitted,
    with a DataScaleWarning naming the column."""
    r = sp500_log[-900:].copy()
    r[np.arange(900) % 3 != 0] = 0.0
    with pytest.warns(DataScaleWarning, match="column 0: 67% of the returns are exactly zero"):
        fit = GarchPanel().fit(r[:, None])
    assert any(w.startswith("DataScaleWarning:") for w in fit.warnings_)


def test_third_party_warnings_are_reraised_as_ours_and_others_pass() -> None:
    class ConvergenceWarning3rd(UserWarning):  # stands for arch's / statsmodels' class
        pass

    ConvergenceWarning3rd.__name__ = "ConvergenceWarning"
    log: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with third_party_warnings(log, "lib"):
            warnings.warn("did not converge", ConvergenceWarning3rd, stacklevel=1)
            warnings.warn("something else", RuntimeWarning, stacklevel=1)
    kinds = [w.category for w in caught]
    assert ConvergenceWarning in kinds and RuntimeWarning in kinds
    assert ConvergenceWarning3rd not in kinds
    assert log == ["ConvergenceWarning: lib: did not converge"]


def test_the_risk_snapshot_lists_the_model_warnings(three_factors: np.ndarray) -> None:
    """A scenario model that did not converge is flagged in the snapshot and its lineage."""
    from tests.risk.helpers import AS_OF_NS, implied_vols, make_universe, market_from_ref

    universe = make_universe(n_equity=3, n_options_per=1)
    space = build_factor_space(universe.instruments, universe.base_currency)
    n = space.kind.size
    rng = np.random.default_rng(2)
    history = 0.01 * rng.standard_t(6, (400, n)) + 0.005 * three_factors[-400:, :1]
    config = RiskConfig(n_scenarios=500, horizons_days=(1,), method="fhs")
    with pytest.warns(ConvergenceWarning):
        generator = FilteredHistoricalSimulation(volatility=GarchPanel(max_iter=1)).fit(history)
    flagged = ScenarioSet.from_generator(generator, space.kind, (1,), 500, 7)
    assert flagged.model_warnings == tuple(generator.warnings_) and len(flagged.model_warnings) == n
    clean = ScenarioSet(flagged.shocks, flagged.fingerprint)  # same moves, no warnings

    def snapshot(scenarios: ScenarioSet):
        engine = RiskEngine(
            universe,
            market_from_ref(universe),
            scenarios,
            implied_vols(universe),
            config,
            ManualClock(AS_OF_NS),
        )
        return engine.refresh()

    warned, quiet = snapshot(flagged), snapshot(clean)
    assert warned.model_warnings == flagged.model_warnings
    assert warned.as_dict()["model_warnings"] == list(flagged.model_warnings)
    assert quiet.model_warnings == () and quiet.as_dict()["model_warnings"] == []
    assert warned.headline.var == quiet.headline.var
    assert warned.lineage_id != quiet.lineage_id  # the warning is part of the lineage


def test_regime_ensemble_from_config_matches_instances() -> None:
    cfg = RegimeConfig(n_regimes=2, seed=4, hysteresis=0.2)
    by_name = RegimeEnsemble.from_config(cfg, ["hmm", "cusum"])
    by_instance = RegimeEnsemble(
        detectors=[HMMDetector(2, seed=4), CusumDetector(2, seed=4)],
        n_regimes=2,
        hysteresis=0.2,
        seed=4,
    )
    assert _flat(by_name.get_params(deep=False)) == _flat(by_instance.get_params(deep=False))


def test_ewma_lambda_setting_reaches_the_backtest_ewma(sp500_log: np.ndarray) -> None:
    """``[models] ewma_lambda`` is the decay of ``riskstream backtest var``'s EWMA model:
    day one's 99% VaR is the normal quantile times the EWMA volatility of that decay
    (RiskMetrics 1996, zero mean). Tolerance: the walk-forward standardises the series and
    scales back, a relative rounding of ~1e-15."""
    from scipy.stats import norm

    from riskstream.backtest.rolling import walk_forward

    x = sp500_log[-700:]
    fast = walk_forward(x, np.arange(700), "ewma", window=500, ewma_lambda=0.9)
    sigma = EWMACovariance(lam=0.9).fit(x[:500]).volatility_[0]
    assert fast.var[0] == pytest.approx(norm.ppf(0.99) * sigma, rel=1e-9)
    default = walk_forward(x, np.arange(700), "ewma", window=500)
    assert default.var[0] != pytest.approx(fast.var[0], rel=1e-3)
