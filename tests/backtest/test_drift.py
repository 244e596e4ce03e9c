"""Drift monitors: PSI, KS and rolling exception clustering."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.backtest.drift import (
    monitor_model,
    population_stability_index,
    psi_alert,
    rolling_exception_alerts,
)
from riskstream.core.errors import InputError


def test_psi_hand_computed() -> None:
    # Reference 0..9 splits into two bins at its median (n_bins=2): shares (0.5, 0.5).
    # Recent sample with shares (0.8, 0.2):
    # PSI = (0.8-0.5) ln(0.8/0.5) + (0.2-0.5) ln(0.2/0.5) = 0.1410 + 0.2749 = 0.4159.
    reference = np.arange(10.0)
    recent = np.array([0, 1, 2, 3, 1, 2, 0, 1, 8, 9.0])
    expected = 0.3 * np.log(0.8 / 0.5) - 0.3 * np.log(0.2 / 0.5)
    assert population_stability_index(reference, recent, n_bins=2) == pytest.approx(expected)


def test_psi_bands() -> None:
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(5000)
    assert psi_alert(ref, rng.standard_normal(5000)).severity == "ok"
    assert psi_alert(ref, 1.5 * rng.standard_normal(5000)).severity in ("warning", "alert")
    assert psi_alert(ref, 3 + rng.standard_normal(5000)).severity == "alert"


def test_rolling_exceptions_alert_on_cluster() -> None:
    hits = np.zeros(1000, dtype=int)
    hits[::100] = 1  # 1 per 100 days: green at 99%
    assert rolling_exception_alerts(hits, 0.99, window=250) == []
    hits[850:862] = 1  # a burst of 12 exceptions in the latest window: red, clustered
    alerts = rolling_exception_alerts(hits, 0.99, window=250)
    severities = {a.severity for a in alerts}
    assert "alert" in severities
    red = next(a for a in alerts if a.severity == "alert")
    assert 850 <= red.index <= 862
    assert any(a.monitor == "independence" for a in alerts)


def test_monitor_model_flags_degraded_model() -> None:
    rng = np.random.default_rng(3)
    calm = rng.standard_normal(1000)
    stable = monitor_model(calm, calm, (calm < -2.33).astype(int), 0.99)
    assert stable.severity in ("ok", "warning")
    storm = np.concatenate([calm[:750], 3 * rng.standard_normal(250)])
    degraded = monitor_model(storm, storm, (storm < -2.33).astype(int), 0.99)
    assert degraded.severity == "alert"
    assert {"psi_input", "ks_residual", "exceptions"} <= {a.monitor for a in degraded.alerts}


def test_bad_input() -> None:
    with pytest.raises(InputError):
        population_stability_index([], [1.0])
    with pytest.raises(InputError) as info:
        rolling_exception_alerts([0, 1, 0], 0.99, window=10)
    assert info.value.field == "window"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=10, max_size=200),
    st.lists(st.floats(-1e6, 1e6), min_size=10, max_size=200),
)
def test_psi_properties(reference: list[float], recent: list[float]) -> None:
    assert population_stability_index(reference, recent) >= 0.0
    assert population_stability_index(reference, reference) == pytest.approx(0.0, abs=1e-12)
