"""Gaussian HMM detector: parameters recovered from data simulated from a known HMM, the
forward filter's likelihood equal to hmmlearn's, online equal to batch."""

from __future__ import annotations

import numpy as np
import pytest
from hmmlearn.hmm import GaussianHMM

from riskstream.regime import HMMDetector
from riskstream.regime.base import hamilton_filter

TRANSMAT = np.array([[0.97, 0.03], [0.05, 0.95]])
MEANS = np.array([[0.0, 0.0], [-0.2, -0.1]])
COVARS = np.array([[[1.0, 0.3], [0.3, 1.0]], [[4.0, 2.4], [2.4, 4.0]]])


def _known_hmm() -> tuple[np.ndarray, np.ndarray]:
    truth = GaussianHMM(2, covariance_type="full", random_state=3)
    truth.startprob_ = np.array([1.0, 0.0])
    truth.transmat_, truth.means_, truth.covars_ = TRANSMAT, MEANS, COVARS
    x, states = truth.sample(4000, random_state=3)
    return x, states


def _python_forward(log_e: np.ndarray, transmat: np.ndarray, pred: np.ndarray):
    """Plain-Python twin of the Hamilton filter (Rabiner 1989, eq. 19-20, scaled)."""
    out, loglik = [], 0.0
    for row in log_e:
        joint = pred * np.exp(row)
        loglik += np.log(joint.sum())
        xi = joint / joint.sum()
        out.append(xi)
        pred = transmat.T @ xi
    return np.array(out), loglik


def test_recovers_known_parameters() -> None:
    # Baum-Welch (Rabiner 1989, §III.C) on 4000 rows of a known 2-state, 2-asset HMM:
    # switching probabilities within 0.015, covariances within 12%, means within 0.15
    # (sampling error of ~200-row visits to the volatile state).
    x, states = _known_hmm()
    model = HMMDetector(n_regimes=2, n_init=2, zero_mean=False).fit(x)
    np.testing.assert_allclose(model.transmat_, TRANSMAT, atol=0.015)
    covars = model.covars_ * np.outer(model.scale_, model.scale_)
    np.testing.assert_allclose(covars, COVARS, rtol=0.12, atol=0.05)
    np.testing.assert_allclose(model.means_ * model.scale_, MEANS, atol=0.15)
    # regimes are ordered by volatility: the fitted state 0 is the calm one
    assert (model.predict_proba(x).argmax(axis=1) == states).mean() > 0.85


def test_forward_likelihood_equals_hmmlearn() -> None:
    # The filter's log-likelihood is hmmlearn's score() of the same parameters (peer
    # library; forward algorithm), to 1e-9 relative.
    x, _ = _known_hmm()
    model = HMMDetector(n_regimes=2, n_init=1, zero_mean=False).fit(x)
    peer = GaussianHMM(2, covariance_type="full")
    peer.startprob_, peer.transmat_ = model.startprob_, model.transmat_
    peer.means_, peer.covars_ = model.means_, model.covars_
    assert model.score(x) == pytest.approx(peer.score(x / model.scale_), rel=1e-9)
    log_e = model.log_emission(x[:300] / model.scale_)
    got, _, ll = hamilton_filter(log_e, model.transmat_, model.startprob_.copy())
    want, ll_want = _python_forward(log_e, model.transmat_, model.startprob_.copy())
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert ll == pytest.approx(ll_want, rel=1e-10)


def test_online_filter_equals_batch() -> None:
    x, _ = _known_hmm()
    model = HMMDetector(n_regimes=2, n_init=1).fit(x[:2000])
    batch = model.predict_proba(x[2000:2300])
    model.reset()
    online = np.array([model.filter(row) for row in x[2000:2300]])
    np.testing.assert_allclose(online, batch, atol=1e-12)


def test_supervised_fit_is_the_complete_data_mle() -> None:
    # With the states known, the MLE is closed form: transition counts (add-one smoothed)
    # and per-state moments — the same parameters as the truth up to sampling error.
    x, states = _known_hmm()
    model = HMMDetector(n_regimes=2, zero_mean=False).fit(x, states)
    np.testing.assert_allclose(model.transmat_, TRANSMAT, atol=0.015)
    covars = model.covars_ * np.outer(model.scale_, model.scale_)
    np.testing.assert_allclose(covars, COVARS, rtol=0.12, atol=0.05)
    share = np.bincount(states, minlength=2) / len(states)
    np.testing.assert_allclose(model.startprob_, share, atol=1e-12)


def test_zero_mean_states_differ_by_covariance_only() -> None:
    # The default fixes the state means at zero (EM and the labelled fit): the covariances
    # are then second moments about zero; on the known HMM (means of at most 0.2 s.d.
    # against variances of 1 and 4) they stay within the free-mean fit's tolerance.
    x, states = _known_hmm()
    for model in (HMMDetector(2, n_init=1).fit(x), HMMDetector(2).fit(x, states)):
        np.testing.assert_array_equal(model.means_, 0.0)
        covars = model.covars_ * np.outer(model.scale_, model.scale_)
        np.testing.assert_allclose(covars, COVARS, rtol=0.12, atol=0.06)
