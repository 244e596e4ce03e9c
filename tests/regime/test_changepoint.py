"""CUSUM and MOSUM: run lengths against Montgomery's table, change points against the
offline peer (ruptures), regimes on simulated data, online equal to batch."""

from __future__ import annotations

import numpy as np
import pytest
import ruptures

from riskstream.regime import CusumDetector, MosumDetector
from riskstream.regime.changepoint import BUFFER, cusum_kernel


def _first_alarm_kernel(y: np.ndarray, k: float, h: float) -> int:
    x = np.column_stack([y, np.zeros_like(y)])  # second column never alarms
    state = np.zeros(12)
    state[10] = 1.0  # reference level 0 from a pseudo-count of one
    alarms = np.zeros(len(y), dtype=np.bool_)
    cusum_kernel(x, np.array([1.0, 1.0]), k, h, state, np.zeros((BUFFER, 2)), alarms,
                 np.empty((len(y), 2)), np.empty(len(y)), False)  # fmt: skip
    hits = np.flatnonzero(alarms)
    return int(hits[0]) + 1 if len(hits) else -1


def _first_alarm_python(y: np.ndarray, k: float, h: float) -> int:
    """Plain-Python twin: Page's tabular two-sided CUSUM (Montgomery §9.1.2, eq. 9.2-9.3)."""
    cp = cm = 0.0
    for t, v in enumerate(y):
        cp, cm = max(0.0, cp + v - k), max(0.0, cm - v - k)
        if cp > h or cm > h:
            return t + 1
    return -1


def test_cusum_kernel_matches_python_twin() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        y = rng.normal(0.5, 1.0, 400)
        assert _first_alarm_kernel(y, 0.5, 5.0) == _first_alarm_python(y, 0.5, 5.0)


@pytest.mark.parametrize(("shift", "arl", "rtol"), [(0.0, 465.0, 0.08), (1.0, 10.4, 0.05)])
def test_cusum_average_run_length(shift: float, arl: float, rtol: float) -> None:
    # Montgomery, Introduction to Statistical Quality Control (7th ed.), Table 9.3: two-sided
    # tabular CUSUM with k = 1/2, h = 5 has ARL 465 in control and 10.4 after a one-sigma
    # shift. Monte Carlo over 3000 runs: tolerance ~3 standard errors.
    rng = np.random.default_rng(9)
    lengths = [_first_alarm_kernel(rng.normal(shift, 1.0, 6000), 0.5, 5.0) for _ in range(3000)]
    assert min(lengths) > 0
    assert np.mean(lengths) == pytest.approx(arl, rel=rtol)


def _piecewise(rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    sig = [1.0, 3.0, 1.0, 5.0]
    lengths = [400, 300, 300, 300]
    x = np.vstack([rng.normal(0, s, (n, 3)) + rng.normal(0, s, (n, 1)) for s, n in
                   zip(sig, lengths, strict=True)])  # fmt: skip
    return x, list(np.cumsum(lengths)[:-1])


@pytest.mark.parametrize("detector", [CusumDetector, MosumDetector])
def test_change_points_agree_with_ruptures(detector) -> None:
    # Online detections against the offline optimum (PELT, Killick et al. 2012, via
    # ruptures on the same log-variance feature): every true change found by both, the
    # online alarm within 40 rows after it (detection delay, never before).
    rng = np.random.default_rng(3)
    train, _ = _piecewise(rng)
    test, truth = _piecewise(rng)
    model = detector(n_regimes=3).fit(train)
    alarms = model.change_points(test)
    log_var = np.log((test / model.scale_) ** 2).mean(axis=1)
    offline = ruptures.Pelt(model="l2", min_size=30).fit(log_var).predict(pen=60)[:-1]
    for change in truth:
        assert any(abs(b - change) <= 25 for b in offline), (change, offline)
        assert any(0 <= a - change <= 40 for a in alarms), (change, alarms)


@pytest.mark.parametrize(("detector", "floor"), [(CusumDetector, 0.75), (MosumDetector, 0.7)])
def test_regimes_on_simulated_data(detector, floor, regime_data) -> None:
    x, s, xt, st = regime_data
    model = detector(n_regimes=3).fit(x, s)
    probs = model.predict_proba(xt)
    assert (probs.argmax(axis=1) == st).mean() > floor
    model.reset()
    online = np.array([model.filter(row) for row in xt[:300]])
    np.testing.assert_allclose(online, probs[:300], atol=1e-12)
