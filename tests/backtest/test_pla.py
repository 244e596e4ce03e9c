"""FRTB P&L attribution test zones (MAR32.44-45)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from riskstream.backtest.pla import KS_GREEN, KS_RED, pla_test
from riskstream.core.errors import InputError


def test_ks_thresholds_match_stated_p_values() -> None:
    # MAR32.45 states the KS thresholds with their p-values for 250 + 250 observations:
    # 0.09 (p = 0.264) and 0.12 (p = 0.055). The asymptotic two-sample KS distribution with
    # effective size 250 * 250 / 500 = 125 reproduces them (tolerance: 3 printed digits).
    assert stats.kstwobign.sf(KS_GREEN * np.sqrt(125)) == pytest.approx(0.264, abs=1e-3)
    assert stats.kstwobign.sf(KS_RED * np.sqrt(125)) == pytest.approx(0.055, abs=1e-3)


def test_zones() -> None:
    rng = np.random.default_rng(0)
    hpl = rng.standard_normal(250)
    close = pla_test(hpl + 0.2 * rng.standard_normal(250), hpl)
    assert close.zone == "green" and close.spearman > 0.8 and close.ks < 0.09
    # Correlation 0.75 (amber) with matched distributions.
    mid = 0.75 * hpl + np.sqrt(1 - 0.75**2) * rng.standard_normal(250)
    amber = pla_test(mid, hpl)
    assert amber.spearman_zone == "amber" and amber.zone in ("amber", "red")
    # Uncorrelated: red whatever the KS statistic says.
    assert pla_test(rng.standard_normal(250), hpl).zone == "red"
    # Perfect ranks but a scaled distribution: the KS metric alone turns it red.
    scaled = pla_test(3 * hpl, hpl)
    assert scaled.spearman == pytest.approx(1.0)
    assert scaled.ks_zone == "red" and scaled.zone == "red"


def test_bad_input() -> None:
    with pytest.raises(InputError, match="as many observations"):
        pla_test(np.zeros(250), np.zeros(249))
    with pytest.raises(InputError):
        pla_test([], [])
