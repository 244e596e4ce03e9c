"""The limits stage behind a real risk engine: a breach on the first snapshot engages the
kill switch and reduces the engine's own positions; the summary carries the demo's keys."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.cli.risk import build_engine
from riskstream.core.events import empty_events
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.limits.config import LimitsConfig
from riskstream.limits.model import LimitDefinition
from riskstream.limits.stage import build_limits_stage
from riskstream.risk.config import RiskConfig
from riskstream.risk.stage import RiskStage


@pytest.fixture(scope="module")
def risk_stage() -> RiskStage:
    universe = generate_universe(UniverseConfig(instruments=300, seed=3))
    config = RiskConfig(n_scenarios=500, horizons_days=(1,), confidence_levels=(0.99,))
    stage = RiskStage(build_engine(universe, config))
    stage.last = stage.engine.refresh(0)
    return stage


def test_stage_reduces_the_engines_positions_on_a_breach(risk_stage: RiskStage) -> None:
    engine = risk_stage.engine
    var = risk_stage.last.headline.var
    before = engine.pos_qty.copy()
    limit = LimitDefinition("firm", "firm", "var", 0.5 * var, 0.8 * var)  # breached now
    stage = build_limits_stage(
        risk_stage, None, [limit], LimitsConfig(schedule_periods=2, schedule_horizon_s=2.0)
    )
    stage.on_batch(empty_events(0), 1)
    assert stage.controller.board.state("firm").value == "reducing"
    for t in (10**9, 3 * 10**9):
        stage.on_batch(empty_events(0), t)
    after = engine.pos_qty
    assert np.all(np.abs(after) <= np.abs(before) + 1e-9)  # only ever reduces
    assert np.abs(after).sum() < np.abs(before).sum()
    risk_stage.last = engine.refresh(4 * 10**9)
    assert risk_stage.last.headline.var < var  # VaR came down with the cuts
    summary = stage.summary()
    for key in ("loss_avoided_usd", "reduction_trades", "reduction_cost_usd",
                "breach_to_action_ms", "kill_switches"):  # fmt: skip
        assert key in summary
    assert summary["reduction_trades"] == len(stage.controller.actions) > 0
    assert summary["kill_switches"] == {"firm:firm": "reducing"}
    # prices did not move: what the actions changed is minus what the fills cost
    assert summary["loss_avoided_usd"] == pytest.approx(-summary["reduction_cost_usd"], abs=1)
    assert summary["breach_to_action_ms"] is not None and summary["breach_to_action_ms"] > 0
