"""Quantile and FZ0 losses, and the model confidence set."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from riskstream.backtest.losses import fz0_loss, model_confidence_set, quantile_loss
from riskstream.core.errors import InputError


def test_quantile_loss_hand_computed() -> None:
    # alpha = 1%: a loss of 3 beyond a VaR of 2 costs (0.01 - 1)(-3 + 2) = 0.99;
    # a gain of 1 costs 0.01 (1 + 2) = 0.03.
    out = quantile_loss([-3.0, 1.0], [2.0, 2.0], 0.99)
    np.testing.assert_allclose(out, [0.99, 0.03], rtol=1e-12)


def test_fz0_loss_hand_computed() -> None:
    # Patton, Ziegel & Chen (2019), eq. (6): with v = -2, e = -2.5, y = -3, alpha = 1%:
    # -1/(alpha e) (v - y) + v/e + ln(-e) - 1 = 40 + 0.8 + ln 2.5 - 1.
    out = fz0_loss([-3.0], [2.0], [2.5], 0.99)
    assert out[0] == pytest.approx(40.0 + 0.8 + np.log(2.5) - 1.0, rel=1e-12)


def test_losses_are_minimised_by_the_truth() -> None:
    # Strict consistency (Gneiting 2011; Fissler & Ziegel 2016): on a large normal sample
    # the average loss is smallest at the true VaR/ES among scaled alternatives.
    x = np.random.default_rng(0).standard_normal(200_000)
    c = 0.975
    var = stats.norm.ppf(c)
    es = stats.norm.pdf(var) / (1 - c)
    scales = np.array([0.8, 0.9, 1.0, 1.1, 1.2])
    n = x.size
    tick = [quantile_loss(x, np.full(n, s * var), c).mean() for s in scales]
    fz0 = [fz0_loss(x, np.full(n, s * var), np.full(n, s * es), c).mean() for s in scales]
    assert int(np.argmin(tick)) == 2
    assert int(np.argmin(fz0)) == 2


def test_model_confidence_set_keeps_the_true_model() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(2000)
    c = 0.99
    var = stats.norm.ppf(c)
    es = stats.norm.pdf(var) / (1 - c)
    n = x.size
    losses = {
        "true": fz0_loss(x, np.full(n, var), np.full(n, es), c),
        "too_low": fz0_loss(x, np.full(n, 0.6 * var), np.full(n, 0.6 * es), c),
        "too_high": fz0_loss(x, np.full(n, 1.6 * var), np.full(n, 1.6 * es), c),
    }
    mcs = model_confidence_set(losses, reps=300, seed=2)
    assert "true" in mcs.included
    assert "too_low" in mcs.excluded
    assert mcs.p_values["true"] == pytest.approx(1.0)
    again = model_confidence_set(losses, reps=300, seed=2)
    assert again == mcs  # same seed, same set and p-values


def test_bad_input() -> None:
    with pytest.raises(InputError, match="at least two models"):
        model_confidence_set({"one": np.zeros(10)})
    with pytest.raises(InputError, match="as many observations"):
        model_confidence_set({"a": np.zeros(10), "b": np.zeros(9)})
    with pytest.raises(InputError) as info:
        fz0_loss([0.0], [1.0], [0.0], 0.99)
    assert info.value.field == "es"
