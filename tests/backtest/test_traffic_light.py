"""The Basel traffic light against the Basel Committee's 1996 table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskstream.backtest.traffic_light import traffic_light, zone_boundaries
from riskstream.core.errors import InputError

# Basel Committee on Banking Supervision (1996), "Supervisory framework for the use of
# 'backtesting' in conjunction with the internal models approach to market risk capital
# requirements", Table 2 (250 observations, 99% VaR): zone, plus factor and cumulative
# probability (printed to two decimals of a percent, hence the 5e-5 tolerance).
BASEL_1996 = [
    (0, "green", 0.00, 0.0811),
    (1, "green", 0.00, 0.2858),
    (2, "green", 0.00, 0.5432),
    (3, "green", 0.00, 0.7581),
    (4, "green", 0.00, 0.8922),
    (5, "yellow", 0.40, 0.9588),
    (6, "yellow", 0.50, 0.9863),
    (7, "yellow", 0.65, 0.9960),
    (8, "yellow", 0.75, 0.9989),
    (9, "yellow", 0.85, 0.9997),
    (10, "red", 1.00, 0.9999),
]


@pytest.mark.parametrize(("exceptions", "zone", "plus", "cumulative"), BASEL_1996)
def test_basel_1996_table(exceptions: int, zone: str, plus: float, cumulative: float) -> None:
    light = traffic_light(exceptions, 250, 0.99)
    assert light.zone == zone
    assert light.plus_factor == pytest.approx(plus, abs=1e-12)
    assert light.cumulative_probability == pytest.approx(cumulative, abs=5e-5)


def test_zone_frequencies_under_a_correct_model() -> None:
    # By simulation: 250 days of a correct 99% VaR land outside green with probability
    # 1 - F(4) = 10.78% and in red with 1 - F(9) = 0.025% (Basel 1996, Table 1). Tolerance:
    # 4 binomial standard errors over 20,000 simulated years.
    rng = np.random.default_rng(0)
    counts = rng.binomial(250, 0.01, size=20_000)
    zone_of = {int(x): traffic_light(int(x), 250).zone for x in np.unique(counts)}
    zones = np.array([zone_of[int(x)] for x in counts])
    not_green = np.mean(zones != "green")
    assert abs(not_green - 0.1078) < 4 * np.sqrt(0.1078 * 0.8922 / 20_000)
    assert np.mean(zones == "red") < 0.001


def test_red_beyond_ten() -> None:
    assert traffic_light(25, 250).zone == "red"
    assert traffic_light(25, 250).plus_factor == 1.0


def test_zone_boundaries_general_n() -> None:
    assert zone_boundaries(250, 0.99) == (5, 10)  # Basel 1996
    # 500 days at 99%: expected 5 exceptions; boundaries move up with the sample.
    yellow, red = zone_boundaries(500, 0.99)
    assert traffic_light(yellow - 1, 500).zone == "green"
    assert traffic_light(yellow, 500).zone == "yellow"
    assert traffic_light(red, 500).zone == "red"
    assert yellow > 5 and red > 10


def test_plus_factor_interpolated_within_basel_range() -> None:
    yellow, red = zone_boundaries(1000, 0.975)
    factors = [traffic_light(x, 1000, 0.975).plus_factor for x in range(yellow, red)]
    assert all(0.40 <= f <= 0.85 for f in factors)
    assert factors == sorted(factors)


@given(n=st.integers(1, 2000), c=st.floats(0.5, 0.999), x=st.integers(0, 2000))
def test_monotone_in_exceptions(n: int, c: float, x: int) -> None:
    x = min(x, n - 1)
    a, b = traffic_light(x, n, c), traffic_light(x + 1, n, c)
    order = {"green": 0, "yellow": 1, "red": 2}
    assert order[b.zone] >= order[a.zone]
    assert b.plus_factor >= a.plus_factor
    assert b.cumulative_probability >= a.cumulative_probability


@pytest.mark.parametrize(
    ("exceptions", "observations", "confidence", "field"),
    [
        (-1, 250, 0.99, "exceptions"),
        (300, 250, 0.99, "exceptions"),
        (1, 0, 0.99, "observations"),
        (1, 250, 1.5, "confidence"),
    ],
)
def test_bad_input(exceptions, observations, confidence, field) -> None:
    with pytest.raises(InputError) as info:
        traffic_light(exceptions, observations, confidence)
    assert info.value.field == field
