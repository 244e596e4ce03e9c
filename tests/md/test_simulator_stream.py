"""The market simulator's streams go through md cleanly: nothing quarantined, every book
sound, no gap."""

from __future__ import annotations

import numpy as np

from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md import MdStage


def test_simulated_events_apply_without_quarantine():
    universe = generate_universe(UniverseConfig(instruments=200, seed=3))
    sim = MarketSimulator(universe, SimulatorConfig(seed=3, batch_events=4096))
    stage = MdStage(len(universe))
    for _ in range(10):
        batch = sim.next_batch()
        stage.on_batch(batch, int(batch["ts_recv"].max()))
    s = stage.summary()
    assert s["md_events"] == 40_960
    assert s["quarantined"] == 0, s["quarantine_by_reason"]
    assert s["gaps"] == 0 and s["books_stale"] == 0
    assert s["books"] == len(universe)
    assert stage.engine.check_integrity() == []
    ms = stage.market_state
    both = ~np.isnan(ms.bid) & ~np.isnan(ms.ask)
    assert both.sum() > 0 and (ms.bid[both] < ms.ask[both]).all()
