"""Ensemble: out-of-sample accuracy on simulated regimes, Kalman smoothing against
statsmodels, probabilities on the simplex, no flicker, and filtering never uses the future."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from riskstream.regime import (
    CusumDetector,
    DynamicFactorDetector,
    HMMDetector,
    LSTMDetector,
    MosumDetector,
    MSGarchDetector,
    RegimeConfig,
    RegimeEnsemble,
)
from riskstream.regime.ensemble import hysteresis_labels, local_level_filter

FAST = RegimeConfig(lstm_window=16, lstm_hidden=8, lstm_epochs=4)


@pytest.fixture(scope="module")
def ensemble(regime_data) -> RegimeEnsemble:
    x, s, _, _ = regime_data
    return RegimeEnsemble.from_config(FAST).fit(x, s)


@pytest.mark.slow
def test_out_of_sample_accuracy(ensemble, regime_data) -> None:
    # Held-out seed: the ensemble reaches the 85% target of issue 7 and is not worse than
    # its best member by more than 2 points.
    _, _, xt, st_ = regime_data
    regime, probs = ensemble.predict(xt)
    accuracy = (regime == st_).mean()
    members = {n: (p.argmax(1) == st_).mean() for n, p in ensemble.detector_probas(xt).items()}
    assert accuracy >= 0.85, (accuracy, members)
    assert accuracy >= max(members.values()) - 0.02
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)


def test_online_filter_equals_batch(ensemble, regime_data) -> None:
    _, _, xt, _ = regime_data
    regime, probs = ensemble.predict(xt[:150])
    ensemble.reset()
    online = np.array([ensemble.filter(row) for row in xt[:150]])
    np.testing.assert_allclose(online, probs, atol=1e-5)
    assert ensemble.regime == regime[-1]


DETECTORS = [
    lambda: HMMDetector(3, n_init=1),
    lambda: MSGarchDetector(3, n_starts=1),
    lambda: DynamicFactorDetector(3),
    lambda: CusumDetector(3),
    lambda: MosumDetector(3),
    lambda: LSTMDetector(3, window=8, hidden=4, epochs=1),
]


@pytest.mark.parametrize("make", DETECTORS, ids=[
    "hmm", "msgarch", "dfm", "cusum", "mosum", "lstm"])  # fmt: skip
def test_filtering_never_uses_the_future(make, regime_data) -> None:
    # Change every row after t0: the probabilities of rows up to t0 stay bit-identical.
    x, s, xt, _ = regime_data
    model = make().fit(x[:1200], s[:1200])
    t0 = 700
    future = xt.copy()
    future[t0 + 1 :] = np.random.default_rng(1).normal(0, 5 * xt.std(), xt[t0 + 1 :].shape)
    np.testing.assert_array_equal(
        model.predict_proba(xt)[: t0 + 1], model.predict_proba(future)[: t0 + 1]
    )


def test_ensemble_never_uses_the_future(ensemble, regime_data) -> None:
    _, _, xt, _ = regime_data
    t0 = 900
    future = xt.copy()
    future[t0 + 1 :] *= 4.0
    regime_a, probs_a = ensemble.predict(xt)
    regime_b, probs_b = ensemble.predict(future)
    np.testing.assert_array_equal(probs_a[: t0 + 1], probs_b[: t0 + 1])
    np.testing.assert_array_equal(regime_a[: t0 + 1], regime_b[: t0 + 1])


def test_local_level_filter_equals_statsmodels() -> None:
    # The smoother is the Kalman filter of a local-level model (Durbin & Koopman 2012,
    # §2.2); statsmodels' UnobservedComponents("llevel") with the same variances and a
    # diffuse start gives the same filtered level (to 1e-6 after the diffuse start).
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    y = np.random.default_rng(4).random(300)
    q, r = 0.02, 0.1
    res = UnobservedComponents(y, "llevel").filter([r, q])
    got = local_level_filter(y[:, None], q, r, np.array([0.0]), np.array([1e7]))[:, 0]
    np.testing.assert_allclose(got[1:], res.filtered_state[0, 1:], atol=1e-6)


@given(arrays(np.float64, (40, 3), elements=st.floats(0.0, 1.0)))
def test_smoothed_probabilities_stay_on_the_simplex(raw: np.ndarray) -> None:
    probs = (raw + 1e-9) / (raw + 1e-9).sum(axis=1, keepdims=True)
    out = local_level_filter(probs, 0.02, 0.1, np.full(3, 1 / 3), np.array([1e7]))
    assert (out >= -1e-12).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)


def test_smoothing_and_hysteresis_stop_flicker() -> None:
    # A noisy stream in one regime (p = 0.62 +- 0.15) flips its argmax at ~1 row in 3;
    # smoothed with hysteresis it switches a few times in 1000 rows.
    rng = np.random.default_rng(2)
    p0 = 0.62 + rng.normal(0, 0.15, 1000).clip(-0.6, 0.35)
    probs = np.column_stack([p0, 1 - p0])
    raw_switches = (np.diff(probs.argmax(1)) != 0).sum()
    smooth = local_level_filter(probs, 0.02, 0.1, np.full(2, 0.5), np.array([1e7]))
    switches = (np.diff(hysteresis_labels(smooth, 0.1, -1)) != 0).sum()
    assert raw_switches > 250
    assert switches <= 10, switches  # >25x fewer switches than the raw argmax
