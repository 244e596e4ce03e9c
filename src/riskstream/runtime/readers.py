"""The downstream nodes that read md's deltas: regime, history and service.

Each keeps its own :class:`~riskstream.core.state.MarketState` replica, written only by the
deltas it reads (:func:`riskstream.runtime.md.apply_delta`), and its market time is the
newest delta's event time.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from riskstream.bus.base import Bus
from riskstream.bus.topics import Topics
from riskstream.core.messages import SUBJECTS, MarketStateDelta
from riskstream.core.state import MarketState
from riskstream.runtime.md import DeltaSequence, apply_delta
from riskstream.runtime.risk import subscribe_latest
from riskstream.surveillance.market_abuse import alerts_frame


class DeltaReader:
    """A subscription to md's deltas feeding a private market state (md's restarts, lost
    and doubled deltas sorted out by :class:`~riskstream.runtime.md.DeltaSequence`)."""

    def __init__(self, topics: Topics, n_instruments: int):
        self.topics = topics
        self.state = MarketState(n_instruments)
        self.seq = topics.last_seq(SUBJECTS["market"])
        self.sub = topics.subscribe(SUBJECTS["market"], start_after=self.seq)
        self.sequence = DeltaSequence()
        self.ts_ns = 0
        self.deltas = 0

    def read(self, timeout_s: float) -> list[MarketStateDelta]:
        """Apply the deltas that arrived (those :class:`DeltaSequence` accepts); the
        applied ones."""
        applied = []
        for seq, delta in self.sub.fetch(4096, timeout_s):
            self.seq = seq
            if not self.sequence.accept(delta):
                continue
            apply_delta(self.state, delta)
            if self.sequence.reset:  # a restarted md: market time is its state's again
                self.ts_ns = delta.ts_ns
            self.ts_ns = max(self.ts_ns, delta.ts_ns)
            self.deltas += 1
            applied.append(delta)
        return applied

    def caught_up(self) -> bool:
        return self.seq >= self.topics.last_seq(SUBJECTS["market"])

    def close(self) -> None:
        self.sub.close()


class RegimeNode:
    """Regime detection on the observed mids: a :class:`~riskstream.regime.RegimeStage` on
    the node's own market state, stepped at each delta's market time; with
    ``risk.regime_conditional`` its switches go out as :class:`RegimeChanged` (through
    :class:`riskstream.cli.regime.RegimeSwitch`) on ``SUBJECTS["regime"]``."""

    name = "regime"

    def __init__(self, topics: Topics, n_instruments: int, build_stage: Any, switch: Any = None):
        self.topics = topics
        self.reader = DeltaReader(topics, n_instruments)
        self.stage = build_stage(self.reader.state)  # RegimeStage over the replica's mids
        self.switch = switch
        if switch is not None:
            self.stage.publish = switch

    def step(self) -> bool:
        got = self.reader.read(0.02)
        if got:
            self.stage.on_batch(np.empty(0), self.reader.ts_ns)
        return bool(got)

    def idle(self) -> bool:
        return self.reader.caught_up()

    def summary(self) -> dict[str, Any]:
        out = self.stage.summary()
        if self.stage.regime >= 0:
            out["regime_probabilities"] = [float(p) for p in self.stage.probabilities]
        if self.switch is not None:
            out.update(self.switch.summary())
        return out

    def histograms(self) -> dict[str, np.ndarray]:
        return {}

    def view(self) -> list[tuple[str, str]]:
        rows = self.stage.view()
        if self.switch is not None:
            rows.extend(self.switch.view())
        return rows

    def close(self) -> None:
        self.reader.close()
        self.stage.close()


class HistoryNode:
    """History: every event of the bus into the tick tables (its own durable consumer,
    acknowledged after each append), and feature snapshots and closes from its market-state
    replica (:class:`~riskstream.store.stage.HistoryStage`)."""

    name = "history"

    def __init__(self, bus: Bus, topics: Topics, n_instruments: int, build_stage: Any):
        self.bus = bus
        self.reader = DeltaReader(topics, n_instruments)
        self.stage = build_stage(self.reader.state)
        self.consumer = bus.consumer("history")
        self.topics = topics
        self._quarantine_seq = topics.last_seq(SUBJECTS["quarantine"])
        self.quarantine = topics.subscribe(SUBJECTS["quarantine"], self._quarantine_seq)
        self.positions: dict[int, int] = {}

    def step(self) -> bool:
        self.reader.read(0.0)
        for seq, q in self.quarantine.fetch(64):
            self.stage.add_quarantine(q.events, q.reason, list(q.reasons))
            self._quarantine_seq = seq
        messages = self.consumer.fetch(64, 0.05)
        for m in messages:
            self.stage.on_batch(m.events, max(self.reader.ts_ns, int(m.events["ts_event"].max())))
            self.positions[m.partition] = m.seq
        if messages:
            self.consumer.commit({m.partition: m.seq for m in messages})
        return bool(messages)

    def recover(self) -> None:
        """After the bus failed: redeliver from just after what was appended (a batch
        appended but not acknowledged is not appended twice)."""
        if self.positions:
            self.consumer.seek(self.positions)

    def idle(self) -> bool:
        return self._quarantine_seq >= self.topics.last_seq(SUBJECTS["quarantine"]) and all(
            self.positions.get(p, 0) >= self.bus.last_seq(p) for p in range(self.bus.partitions)
        )

    def summary(self) -> dict[str, Any]:
        return self.stage.summary()

    def histograms(self) -> dict[str, np.ndarray]:
        return {}

    def view(self) -> list[tuple[str, str]]:
        return self.stage.view()

    def close(self) -> None:
        try:
            self.stage.close()
        finally:
            self.consumer.close()
            self.quarantine.close()
            self.reader.close()


class ServiceNode:
    """Feeds the service (dashboard, REST, metrics): the newest risk snapshot with the
    newest limit state and regime probabilities, at most every ``min_interval_s``; every
    stage's :class:`StageStats` (latency histograms, counters) into the metrics.

    Parameters
    ----------
    feed : SnapshotFeed
        The running service's feed.
    topics : Topics
    n_instruments : int
    min_interval_s : float
        The dashboard needs a few updates a second, not every snapshot.
    abuse_alerts_kept : int
        The newest market-abuse alerts (``SUBJECTS["abuse"]``) the service keeps.
    """

    name = "service"

    def __init__(
        self,
        feed: Any,
        topics: Topics,
        n_instruments: int,
        min_interval_s: float = 0.2,
        abuse_alerts_kept: int = 1000,
    ):
        self.feed = feed
        feed.abuse_alerts = deque(feed.abuse_alerts, maxlen=abuse_alerts_kept)
        self.topics = topics
        self.reader = DeltaReader(topics, n_instruments)
        self.snapshots = topics.subscribe(SUBJECTS["snapshot"])
        self.limits = subscribe_latest(topics, SUBJECTS["limits"])
        self.stats = topics.subscribe(SUBJECTS["stats"])
        self.abuse = topics.subscribe(SUBJECTS["abuse"])
        self.min_interval_s = min_interval_s
        self.pushed = 0
        self.stage_stats: dict[str, Any] = {}
        self._limit_state: dict[str, Any] | None = None
        self._limit_seq = 0
        self._limit_unpushed = False  # a limit state newer than the last push
        self._snapshot: Any = None  # the newest snapshot pushed
        self._snapshot_seq = 0
        self._last_push = 0.0
        self.running: Any = None  # the RunningService this node started (stopped on close)

    def step(self) -> bool:
        self.reader.read(0.0)
        for _, stats in self.stats.fetch(256):
            self.stage_stats[stats.stage] = stats
            self.feed.metrics.observe_stage(stats)
        for seq, limit_state in self.limits.fetch(256):
            self._limit_state = limit_state.state
            self._limit_seq = seq
            self._limit_unpushed = True
        for _, abuse in self.abuse.fetch(256):
            self.feed.push_abuse(alerts_frame(abuse.alerts).to_dicts())
        now = time.monotonic()
        wait = self.min_interval_s - (now - self._last_push)
        got = self.snapshots.latest(timeout_s=min(max(wait, 0.0), 0.05) if wait > 0 else 0.02)
        if got is None:
            # The limits node publishes each state after the snapshot it checked, so the
            # newest state may come when no new snapshot follows (at a stop, or a stalled
            # risk node): push it with the snapshot it belongs to.
            due = now - self._last_push >= self.min_interval_s
            if not (self._limit_unpushed and self._snapshot is not None and due):
                return False
            got = (None, self._snapshot)
        elif now - self._last_push < self.min_interval_s:
            time.sleep(max(self.min_interval_s - (time.monotonic() - self._last_push), 0))
            newer = self.snapshots.latest(0.0)
            got = newer or got
        seq, snapshot = got
        self._snapshot = snapshot
        self._snapshot_seq = seq if seq is not None else self._snapshot_seq
        self._limit_unpushed = False
        regime = self.stage_stats.get("regime")
        probabilities = None
        if regime is not None and regime.figures.get("regime_probabilities"):
            from riskstream.regime.stage import REGIME_NAMES

            probabilities = {
                REGIME_NAMES.get(k, str(k)): float(p)
                for k, p in enumerate(regime.figures["regime_probabilities"])
            }
        risk = self.stage_stats.get("risk")
        refresh = risk.figures.get("risk_refresh_p50_ms") if risk is not None else None
        self.feed.push(
            snapshot,
            prices=self.reader.state.mid,
            regime_probabilities=probabilities,
            cycle_s=None if refresh is None else refresh / 1e3,
            limits=self._limit_state,
            pipeline=self.pipeline_figures(),
        )
        self._last_push = time.monotonic()
        self.pushed += 1
        return True

    def pipeline_figures(self) -> dict[str, Any]:
        """End-to-end latency percentiles (all stages' counts so far) and lags."""
        out: dict[str, Any] = dict(self.feed.metrics.pipeline_latency())
        feed = self.stage_stats.get("feed")
        if feed is not None:
            out["events_per_s"] = feed.figures.get("feed_events_per_s")
            out["feed_lag_p99_ms"] = feed.figures.get("feed_lag_p99_ms")
        risk = self.stage_stats.get("risk")
        if risk is not None:
            out["risk_state_lag_p99_ms"] = risk.figures.get("risk_state_lag_p99_ms")
        return out

    def idle(self) -> bool:
        """Every published limit state is shown (pushed with a snapshot)."""
        published = self.topics.last_seq(SUBJECTS["limits"])
        return self._snapshot is None or (self._limit_seq >= published and not self._limit_unpushed)

    def summary(self) -> dict[str, Any]:
        return {
            "service_snapshots_pushed": self.pushed,
            "service_limit_rows": len(self.feed.limits.utilisation()),
            "service_limits_available": self.feed.limits.available(),
        }

    def histograms(self) -> dict[str, np.ndarray]:
        return {}

    def view(self) -> list[tuple[str, str]]:
        return [("snapshots to service", f"{self.pushed:,}")]

    def close(self) -> None:
        for sub in (self.snapshots, self.limits, self.stats, self.abuse):
            sub.close()
        self.reader.close()
        if self.running is not None:
            self.running.stop()


class KeeperNode:
    """The position keeper (:class:`~riskstream.positions.PositionKeeper`), the one writer
    of positions: it takes the API's requests and the limits stage's fills from their
    subjects, persists and audits each change, and publishes ``PositionsChanged``."""

    name = "positions"

    def __init__(self, keeper: Any):
        self.keeper = keeper
        self._handled = 0

    def step(self) -> bool:
        self._handled = self.keeper.poll(0.05)
        return self._handled > 0

    def idle(self) -> bool:
        return self._handled == 0

    def summary(self) -> dict[str, Any]:
        return self.keeper.summary()

    def histograms(self) -> dict[str, np.ndarray]:
        return {}

    def view(self) -> list[tuple[str, str]]:
        return self.keeper.view()

    def close(self) -> None:
        self.keeper.close()
