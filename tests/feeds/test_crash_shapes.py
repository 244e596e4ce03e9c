"""The historical crash shapes: prices start falling when the crash starts, whatever the
regime chain does — a detector can only learn of the crash from the prices.

The crash scenarios force no regime, and the scenario's path enters the market factor
deterministically, so the same seed run with and without a crash draws the same random
numbers for the market: the regime chains are identical, and the ratio of the two runs'
fair values isolates the scripted path.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskstream.core.clock import NS_PER_S
from riskstream.feeds.config import SimulatorConfig
from riskstream.feeds.scenarios import CRASH_SHAPES, build_scenario
from riskstream.feeds.simulator import MarketSimulator


def _stepped(universe, scenario: str | None, seconds: float) -> MarketSimulator:
    """A simulator whose market model (no order flow) is stepped ``seconds`` from the start."""
    sim = MarketSimulator(universe, SimulatorConfig(seed=11, events_per_s=1000), scenario)
    step = int(sim.config.step_ms * 1e6)
    for k in range(1, int(seconds * NS_PER_S / step) + 1):
        sim.model.step(sim.start_ns + k * step)
    return sim


@pytest.mark.parametrize("name", sorted(CRASH_SHAPES))
def test_a_crash_forces_no_regime_and_starts_falling_at_once(universe, name: str) -> None:
    shape = build_scenario(name, SimulatorConfig())
    assert all(phase.regime is None for phase in shape.phases)
    start = shape.start_s
    # the scripted market factor: flat before the start, down from the first instant on,
    # and falling through the first phase (the S-shaped path is monotone)
    assert shape.state(start - 1.0).market_offset == 0.0
    first = shape.phases[0]
    offsets = [shape.state(start + f * first.duration_s).market_offset for f in (0.01, 0.3, 1.0)]
    assert offsets[0] < 0.0
    assert offsets[0] > offsets[1] > offsets[2]
    assert offsets[2] == pytest.approx(first.market_move)


@pytest.mark.parametrize("name", sorted(CRASH_SHAPES))
def test_prices_are_down_right_after_the_start_with_the_same_regime_path(
    universe, name: str
) -> None:
    start = build_scenario(name, SimulatorConfig()).start_s
    after = start + 20.0  # twenty market seconds in: before any 1-minute detector's first bar
    calm = _stepped(universe, None, after)
    crash = _stepped(universe, name, after)
    # the regime chain did not see the crash: the same draws, the same regimes
    assert crash.model.regime_changes == calm.model.regime_changes
    future = int(np.flatnonzero(universe.instruments["symbol"].to_numpy() == "ESU24")[0])
    ratio = crash.model.fair[future] / calm.model.fair[future]
    offset = crash.model.scenario.state(after).market_offset
    # the index future loads on the market factor with beta ~1: it is already lower by the
    # scripted path's amount (to 1e-9: the same draws, only the path differs)
    assert ratio < 1.0
    loading = crash.model.factors.loadings[crash.model.driver_of[future], crash.model.market]
    assert math.log(ratio) == pytest.approx(loading * offset, rel=1e-6)


def test_the_august_2015_dislocation_hits_the_least_traded_equities_only(universe) -> None:
    shape = build_scenario("aug-2015", SimulatorConfig())
    end_of_fall = shape.start_s + shape.phases[0].duration_s
    calm = _stepped(universe, None, end_of_fall)
    crash = _stepped(universe, "aug-2015", end_of_fall)
    m = crash.model
    equities = np.flatnonzero(universe.instruments["asset_class"].to_numpy() == "equity")
    moved = np.log(m.fair[equities] / calm.model.fair[equities])
    loading = m.factors.loadings[m.driver_of[equities], m.market]
    extra = moved - loading * math.log(0.947)  # what the market path does not explain
    dislocated = np.isin(m.driver_of[equities], m.dislocated_drivers)
    assert dislocated.sum() == round(0.2 * len(equities))
    adv = universe.instruments["adv"].to_numpy()[equities]
    assert adv[dislocated].max() <= adv[~dislocated].min()  # the least traded
    np.testing.assert_allclose(extra[dislocated], math.log(0.80), atol=1e-9)
    np.testing.assert_allclose(extra[~dislocated], 0.0, atol=1e-9)
