"""Kelly sizing on known inputs and Euler risk budgets."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.limits.budget import RiskBudget
from riskstream.limits.sizing import kelly_binary, kelly_continuous, size_position

# ----------------------------------------------------------------------------- Kelly


def test_kelly_fractions_on_published_examples() -> None:
    # Even-money bet won 60% of the time: f* = 0.6 - 0.4 = 0.20 (Kelly 1956; the standard
    # example of the criterion, e.g. Thorp 2006 section 2).
    assert kelly_binary(0.6, 1.0) == pytest.approx(0.20)
    # 2-to-1 odds at 40%: f* = 0.4 - 0.6 / 2 = 0.10
    assert kelly_binary(0.4, 2.0) == pytest.approx(0.10)
    # Thorp 2006, section 7 (the stock market): m = 0.11, r = 0.06, s = 0.2 gives
    # f* = (m - r) / s^2 = 1.25 (leverage 1.25)
    assert kelly_continuous(0.11, 0.2, 0.06) == pytest.approx(1.25)


def test_fractional_kelly_capped_by_the_var_budget() -> None:
    # half Kelly of 1.25 on 10M capital is 6.25M; 99% 1-day VaR of that at 20% annual vol
    # is 2.326 * 0.2 / sqrt(252) * 6.25M = 183,166; a 100,000 budget caps the position.
    loose = size_position(1e7, 0.11, 0.2, var_budget=1e6, rate=0.06)
    assert loose.bound_by == "kelly" and loose.value == pytest.approx(6.25e6)
    tight = size_position(1e7, 0.11, 0.2, var_budget=1e5, rate=0.06)
    z = 2.3263478740408408
    assert tight.bound_by == "var"
    assert tight.value == pytest.approx(1e5 / (z * 0.2 / np.sqrt(252)), rel=1e-12)
    short = size_position(1e7, 0.01, 0.2, var_budget=1e6, rate=0.06)
    assert short.value < 0  # negative edge: Kelly says short
    with pytest.raises(InputError, match="kelly_multiplier"):
        size_position(1e7, 0.11, 0.2, 1e6, kelly_multiplier=1.5)
    with pytest.raises(InputError, match="sigma"):
        kelly_continuous(0.1, 0.0)


# ----------------------------------------------------------------------------- budgets


def test_euler_budget_allocation_consumption_and_flags() -> None:
    contrib = np.array([6.0, 2.0, 2.0, -1.0])
    labels = np.array(["macro", "macro", "rv", "hedge"])
    budget = RiskBudget(100.0).fit(contrib, labels)
    # Euler shares of the positive contributions: macro 8/10, rv 2/10, hedge 0
    assert budget.allocation_ == pytest.approx({"macro": 80.0, "rv": 20.0, "hedge": 0.0})
    lines = {x.label: x for x in budget.consumption(np.array([6, 3, 30, -2.0]), labels)}
    assert lines["rv"].over_budget and lines["rv"].consumption == pytest.approx(1.5)
    assert not lines["macro"].over_budget and lines["macro"].consumption == pytest.approx(9 / 80)
    assert not lines["hedge"].over_budget
    equal = RiskBudget(90.0, "equal").fit(contrib, labels)
    assert set(equal.allocation_.values()) == {30.0}
    with pytest.raises(InputError, match="total_budget"):
        RiskBudget(-1.0)
