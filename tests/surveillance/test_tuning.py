"""Tuning formulas against published numbers and peer libraries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import fbeta_score, precision_score, recall_score

from riskstream.core.errors import InputError
from riskstream.surveillance.tuning import (
    TuningConfig,
    atl_btl,
    binomial_sample_size,
    confusion,
    hypergeometric_sample_size,
    recommend,
)

# AICPA Audit Guide "Audit Sampling" (2019), Table A-1 "Statistical Sample Sizes for Tests
# of Controls — 5 Percent Risk of Overreliance" (95 % confidence), expected deviation rate
# 0 %: tolerable rate → sample size; and Table A-2 (10 % risk, 90 % confidence).
AICPA_A1 = {
    0.02: 149,
    0.03: 99,
    0.04: 74,
    0.05: 59,
    0.06: 49,
    0.07: 42,
    0.08: 36,
    0.09: 32,
    0.10: 29,
    0.15: 19,
    0.20: 14,
}
AICPA_A2 = {0.05: 45, 0.10: 22}


@pytest.mark.parametrize(("rate", "n"), sorted(AICPA_A1.items()))
def test_binomial_sample_size_matches_aicpa_table_a1(rate: float, n: int) -> None:
    assert binomial_sample_size(rate, 0.95) == n


@pytest.mark.parametrize(("rate", "n"), sorted(AICPA_A2.items()))
def test_binomial_sample_size_matches_aicpa_table_a2(rate: float, n: int) -> None:
    assert binomial_sample_size(rate, 0.90) == n


def test_hypergeometric_size_tends_to_binomial_and_is_smaller_for_small_bands() -> None:
    assert hypergeometric_sample_size(1_000_000, 0.05, 0.95) == 59
    assert hypergeometric_sample_size(100, 0.05, 0.95) < 59
    # a band of 100 alerts with 5 productive: drawing n with no productive one has
    # probability C(95, n) / C(100, n); the chosen n is the first with ≤ 5 %.
    n = hypergeometric_sample_size(100, 0.05, 0.95)
    p = math.comb(95, n) / math.comb(100, n)
    p_prev = math.comb(95, n - 1) / math.comb(100, n - 1)
    assert p <= 0.05 < p_prev


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.floats(0.01, 0.3), st.floats(0.5, 0.99))
def test_hypergeometric_size_is_sufficient_and_never_above_binomial(
    population: int, rate: float, confidence: float
) -> None:
    n = hypergeometric_sample_size(population, rate, confidence)
    assert 0 < n <= min(population, binomial_sample_size(rate, confidence))
    bad = max(1, math.ceil(rate * population))
    assert stats.hypergeom.pmf(0, population, bad, n) <= 1 - confidence + 1e-9


def test_bad_rates_are_refused() -> None:
    with pytest.raises(InputError, match="tolerable_rate"):
        binomial_sample_size(0.0, 0.95)


def test_confusion_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.2
    alert = rng.random(500) < np.where(y, 0.7, 0.1)
    m = confusion(y, alert, beta=2.0)
    assert m["precision"] == pytest.approx(precision_score(y, alert))
    assert m["recall"] == pytest.approx(recall_score(y, alert))
    assert m["f1"] == pytest.approx(fbeta_score(y, alert, beta=1.0))
    assert m["f_beta"] == pytest.approx(fbeta_score(y, alert, beta=2.0))


def test_recommend_is_the_brute_force_f_beta_argmax_and_atl_counts_lost_alerts() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(400) < 0.15
    score = np.clip(rng.normal(np.where(y, 0.7, 0.35), 0.15), 0, 1)
    cfg = TuningConfig(beta=2.0)
    best = recommend(y, score, cfg)
    brute = max(np.unique(score), key=lambda t: (fbeta_score(y, score >= t, beta=2.0), -t))
    assert fbeta_score(y, score >= best, beta=2.0) == pytest.approx(
        fbeta_score(y, score >= brute, beta=2.0)
    )
    rows = atl_btl(y, score, current=0.5, config=cfg)
    for row in rows:
        t = row["threshold"]
        if row["side"] == "ATL":
            assert row["lost_true_alerts"] == int((y & (score >= 0.5) & (score < t)).sum())
        if row["side"] == "BTL":
            band = (score >= t) & (score < 0.5)
            assert row["band_alerts"] == int(band.sum())
            assert row["review_sample"] == hypergeometric_sample_size(int(band.sum()), 0.05, 0.95)
