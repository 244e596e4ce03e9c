"""The hard test bed (regimes by correlation as much as by volatility, Student-t rows), its
true-parameter filter (the benchmark's ceiling) and the Student-t HMM detector."""

from __future__ import annotations

import numpy as np
import pytest
from hmmlearn.hmm import GaussianHMM
from scipy import stats

from riskstream.core.errors import InputError
from riskstream.regime import HMMDetector
from riskstream.regime.ensemble import fit_smoothing_ratio
from riskstream.regime.hmm import StudentTHMMDetector, forward_backward
from riskstream.regime.simulate import (
    HARD_CORRELATION,
    HARD_SPELL_BARS,
    HARD_VOL_MULT,
    SwitchingStudentT,
    hard_regime_model,
)


@pytest.fixture(scope="module")
def long_sample() -> tuple[SwitchingStudentT, np.ndarray, np.ndarray]:
    market = hard_regime_model(n_assets=10, seed=0)
    x, s = market.simulate(60_000, seed=11)
    return market, x, s


def test_regimes_have_the_stated_vols_and_correlations(long_sample) -> None:
    # Estimated from 60,000 rows (~6,000 in the crisis regime). Tolerances are four standard
    # errors of the estimates under the multivariate t5: a sample correlation has variance
    # (1 + kappa)(1 - rho^2)^2 / n with kappa = 2/(nu - 4) = 2 the elliptical kurtosis
    # parameter (Muirhead 1982, *Aspects of Multivariate Statistical Theory*, §1.6 and
    # Thm 5.1.6): 4 SE <= 0.036 in every regime; a sample variance has relative SE
    # sqrt((2 + 6)/n) (t5 excess kurtosis 6), so a volatility ratio ~0.02: 4 SE ~8%.
    _, x, s = long_sample
    vols, corrs = [], []
    for k in range(3):
        c = np.cov(x[s == k], rowvar=False)
        sd = np.sqrt(np.diag(c))
        vols.append(sd)
        corr = c / np.outer(sd, sd)
        corrs.append((corr.sum() - len(sd)) / (len(sd) * (len(sd) - 1)))
    ratios = [float(np.mean(v / vols[0])) for v in vols]
    np.testing.assert_allclose(ratios, HARD_VOL_MULT, rtol=0.08)
    np.testing.assert_allclose(corrs, HARD_CORRELATION, atol=0.036)


def test_spells_and_tails(long_sample) -> None:
    market, x, s = long_sample
    # mean spell lengths: geometric spells have s.d. ~ their mean, so with >= 400 spells a
    # regime the standard error is <= 5% of the mean; 15% is three of them
    flips = np.flatnonzero(np.diff(s)) + 1
    starts, ends = np.r_[0, flips], np.r_[flips, len(s)]
    spell_state = s[starts]
    means = [float((ends - starts)[spell_state == k].mean()) for k in range(3)]
    np.testing.assert_allclose(means, HARD_SPELL_BARS, rtol=0.15)
    # fat tails: each asset's standardised calm return beyond 4 s.d. as often as under the
    # unit-variance t5 (its marginal), within four binomial standard errors — about 40
    # times as often as under a normal law
    z = x[s == 0] / np.sqrt(np.diag(market.covariances[0]))
    p_t = 2 * stats.t.sf(4.0 / np.sqrt(3.0 / 5.0), df=5)
    share = float((np.abs(z) > 4.0).mean())
    assert abs(share - p_t) < 4 * np.sqrt(p_t / z.size) * np.sqrt(10)  # 10 assets share W
    assert share > 20 * 2 * stats.norm.sf(4.0)


def test_log_density_is_scipys_multivariate_t() -> None:
    # scipy.stats.multivariate_t (an independent implementation) with shape (nu-2)/nu Sigma_k
    market = hard_regime_model(n_assets=4, seed=3)
    x, _ = market.simulate(50, seed=4)
    got = market.log_density(x)
    for k in range(3):
        shape = market.covariances[k] * (market.df - 2) / market.df
        want = stats.multivariate_t(loc=np.zeros(4), shape=shape, df=market.df).logpdf(x)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-10)


def test_ceiling_filter_by_hand() -> None:
    # Two regimes, one asset, three rows: Bayes' rule row by row with scipy's t densities.
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    cov = np.array([[[1.0]], [[4.0]]])
    market = SwitchingStudentT(p, cov, df=4.0)
    rows = np.array([[0.3], [-2.5], [1.9]])
    prior = np.array([2 / 3, 1 / 3])  # stationary: pi_1 = 0.1 / (0.1 + 0.2)
    want = []
    for r in rows[:, 0]:
        dens = np.array([stats.t.pdf(r / np.sqrt(c * 0.5), df=4) / np.sqrt(c * 0.5)
                         for c in (1.0, 4.0)])  # fmt: skip
        post = prior * dens / (prior * dens).sum()
        want.append(post)
        prior = p.T @ post
    np.testing.assert_allclose(market.filter(rows), np.array(want), rtol=1e-10)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(InputError, match="df"):
        SwitchingStudentT(np.eye(2), np.array([np.eye(2), np.eye(2)]), df=2.0)
    with pytest.raises(InputError, match="correlation"):
        hard_regime_model(n_assets=5, correlation=(0.1, 0.5, 1.0))


def test_forward_backward_equals_hmmlearn_posteriors() -> None:
    # the E-step of the t EM: smoothed posteriors equal hmmlearn's forward-backward
    # (predict_proba) under the same Gaussian parameters
    market = hard_regime_model(n_assets=3, seed=1)
    x, s = market.simulate(3000, seed=2)
    model = HMMDetector(3).fit(x, s)
    peer = GaussianHMM(3, covariance_type="full")
    peer.startprob_, peer.transmat_ = model.startprob_, model.transmat_
    peer.means_, peer.covars_ = model.means_, model.covars_
    z = x / model.scale_
    gamma, xi_sum, loglik = forward_backward(
        model.log_emission(z), model.transmat_, model.startprob_
    )
    np.testing.assert_allclose(gamma, peer.predict_proba(z), atol=1e-8)
    assert loglik == pytest.approx(peer.score(z), rel=1e-9)
    assert xi_sum.sum() == pytest.approx(len(z) - 1, rel=1e-9)


def test_student_t_hmm_recovers_df_and_reaches_the_ceiling() -> None:
    # Supervised on 20,000 rows of the hard test bed: nu within 10% of 5 (its ML standard
    # error at this size is ~2%), and out of sample within 1.5 points of the true-parameter
    # filter (sampling error of 12 x 13 covariance parameters per regime costs a little).
    market = hard_regime_model(n_assets=12, seed=0)
    x, s = market.simulate(20_000, seed=1)
    xt, st = market.simulate(8_000, seed=2)
    model = StudentTHMMDetector(3).fit(x, s)
    assert model.df_ == pytest.approx(5.0, rel=0.1)
    ceiling = (market.filter(xt).argmax(axis=1) == st).mean()
    got = (model.predict_proba(xt).argmax(axis=1) == st).mean()
    gaussian = (HMMDetector(3).fit(x, s).predict_proba(xt).argmax(axis=1) == st).mean()
    assert got >= ceiling - 0.015, (got, ceiling)
    assert got > gaussian + 0.03, (got, gaussian)  # fat tails: the t emission matters
    model.reset()
    online = np.array([model.filter(row) for row in xt[:200]])
    np.testing.assert_allclose(online, model.predict_proba(xt[:200]), atol=1e-12)


def test_smoothing_ratio_is_recovered() -> None:
    # a local level with q/r = 0.1 (two columns, 20,000 rows): the ML ratio within 20%
    # (its standard error, from the likelihood's curvature at this size, is ~5%)
    rng = np.random.default_rng(5)
    level = np.cumsum(rng.normal(0, np.sqrt(0.1), (20_000, 2)), axis=0)
    y = level + rng.normal(0, 1.0, level.shape)
    assert fit_smoothing_ratio(y) == pytest.approx(0.1, rel=0.2)
