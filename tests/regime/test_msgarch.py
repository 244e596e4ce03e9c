"""Markov-switching GARCH (Haas, Mittnik & Paolella 2004): the filter against a plain-Python
twin, and parameter recovery from data simulated with known parameters."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.regime.msgarch import MSGarchDetector, msgarch_filter, simulate_msgarch

OMEGA = np.array([0.02, 0.6])
ALPHA = np.array([0.04, 0.10])
BETA = np.array([0.93, 0.70])
P = np.array([[0.99, 0.01], [0.02, 0.98]])


def _python_filter(eps, omega, alpha, beta, transition, pred, h, e2):
    """Plain-Python twin of the numba kernel: HMP (2004) eq. (3)-(5) + Hamilton filter."""
    pred, h = pred.copy(), h.copy()
    out, loglik = [], 0.0
    for x in eps:
        h = omega + alpha * e2 + beta * h
        dens = np.exp(-0.5 * x * x / h) / np.sqrt(2 * np.pi * h)
        joint = pred * dens
        loglik += np.log(joint.sum())
        xi = joint / joint.sum()
        out.append(xi)
        pred = transition.T @ xi
        e2 = x * x
    return np.array(out), loglik


def test_filter_matches_python_twin() -> None:
    eps, _ = simulate_msgarch(500, OMEGA, ALPHA, BETA, P, seed=1)
    prior, h0 = np.array([0.5, 0.5]), np.array([1.0, 1.0])
    got, ll, *_ = msgarch_filter(eps, OMEGA, ALPHA, BETA, P, prior, h0, 1.0)
    want, ll_want = _python_filter(eps, OMEGA, ALPHA, BETA, P, prior, h0, 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert ll == pytest.approx(ll_want, rel=1e-12)


def test_recovers_simulated_parameters() -> None:
    # HMP (2004) MS-GARCH(1,1), two regimes, 5000 rows simulated with known parameters.
    # Tolerances reflect the MLE's sampling error at this length: unconditional variances
    # omega/(1-alpha-beta) within 15%, switching probabilities within 0.015, the calm
    # regime's alpha within 0.02 and beta within 0.03.
    eps, states = simulate_msgarch(5000, OMEGA, ALPHA, BETA, P, seed=3)
    model = MSGarchDetector(n_regimes=2, n_starts=1).fit_series(eps)
    uncond = model.omega_ / (1 - model.alpha_ - model.beta_)
    np.testing.assert_allclose(uncond, OMEGA / (1 - ALPHA - BETA), rtol=0.15)
    np.testing.assert_allclose(np.diag(model.transmat_), np.diag(P), atol=0.015)
    assert model.alpha_[0] == pytest.approx(ALPHA[0], abs=0.02)
    assert model.beta_[0] == pytest.approx(BETA[0], abs=0.03)
    accuracy = (model.predict_proba(eps).argmax(axis=1) == states).mean()
    assert accuracy > 0.8
