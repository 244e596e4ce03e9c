"""The live market-abuse stage: the feed publishes the simulator's order audit trail beside
its events, the surveillance node raises alerts on it and publishes them, and they are the
alerts the batch detector raises on the same stream."""

from __future__ import annotations

import numpy as np

from riskstream.bus.config import BusConfig
from riskstream.bus.memory import MemoryBus
from riskstream.bus.topics import MemoryTopics
from riskstream.core.messages import SUBJECTS
from riskstream.feeds.config import ManipulationConfig, SimulatorConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.runtime.feed import FeedNode
from riskstream.runtime.surveillance import SurveillanceNode
from riskstream.surveillance.config import AbuseConfig
from riskstream.surveillance.market_abuse import AbuseDetector
from tests.feeds.universes import small_universe


def _sim(universe):
    config = SimulatorConfig(
        seed=4, events_per_s=800.0, session_s=60.0, manipulation=ManipulationConfig(max_days=2)
    )
    return MarketSimulator(universe, config)


def test_live_stage_publishes_the_alerts_the_batch_detector_raises():
    universe = small_universe()
    sim = _sim(universe)
    abuse = AbuseConfig(session_s=60.0, day0_ns=sim.start_ns)
    topics = MemoryTopics()
    node = SurveillanceNode(topics, len(universe), abuse)
    alerts_sub = topics.subscribe(SUBJECTS["abuse"])
    feed = FeedNode(sim.batches(120.0), MemoryBus(BusConfig(partitions=1)), speed=None,
                    audit=sim.audit, topics=topics)  # fmt: skip
    while feed.step():
        node.step()
    while not node.idle():
        node.step()
    node.close()
    live = np.concatenate([m.alerts for _, m in alerts_sub.fetch(10_000)])
    assert len(live) > 0

    # the same stream through the batch detector
    again = _sim(universe)
    det = AbuseDetector(len(universe), abuse)
    for events, _ in again.batches(120.0):
        det.update(events, again.audit(events))
    det.flush()
    batch = det.alerts()
    key = ("typology", "participant_id", "instrument_id", "ts_start", "ts_alert")
    assert sorted(live[list(key)].tolist()) == sorted(batch[list(key)].tolist())
