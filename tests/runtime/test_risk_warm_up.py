"""The risk node's warm-up compiles what its live refreshes run, full and incremental."""

from __future__ import annotations

from tests.kernels import compiled_in_fresh_process

PROBE = """
import json, sys
from riskstream.cli.engine import build_engine, simulated_history
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md.config import MdConfig
from riskstream.md.stage import MdStage
from riskstream.risk.config import RiskConfig
from riskstream.runtime.risk import warm_up
from tests.kernels import compiled_signatures, compiled_since

config = RiskConfig().model_copy(update={"background_recompute": True})  # as the node's
warm_up(config, refreshes=int(sys.argv[1]))
before = compiled_signatures()
# another book, as the node's own engine: its live refreshes must compile nothing
universe = generate_universe(UniverseConfig(instruments=80, seed=3))
simulator = MarketSimulator(universe, SimulatorConfig(batch_events=4096, seed=5))
md = MdStage(len(universe), MdConfig().model_copy(update={"order_capacity": 1 << 13}))
history = simulated_history(universe, 60, seed=2)
engine = build_engine(
    universe, config.model_copy(update={"window_days": 40}), history=history,
    market=md.market_state,
)
for _ in range(4):
    for _ in range(2):
        events = simulator.next_batch()
        md.on_batch(events, int(events["ts_event"][-1]))
    engine.refresh()
engine.close()
print(json.dumps(compiled_since(before)))
"""


def test_warm_up_compiles_the_full_and_the_incremental_refresh() -> None:
    """In a fresh process (so no other test's compilation counts): after the warm-up, a
    different book's engine refreshes four times, market moving between, and no numba
    kernel of riskstream gains a compiled signature. With a single warm-up refresh the
    incremental kernels (first called on the second refresh) compile live — the stall the
    warm-up removes (0.5 s on a cold cache), and the proof that this probe sees it."""
    assert compiled_in_fresh_process(PROBE, "3") == {}
    assert compiled_in_fresh_process(PROBE, "1") != {}
