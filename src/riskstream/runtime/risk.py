"""The risk node: its own market state from md's deltas, a snapshot every interval of wall time.

The node keeps a :class:`~riskstream.core.state.MarketState` of its own, written only by
the :class:`~riskstream.core.messages.MarketStateDelta` messages it reads (no object is
shared with md), and a :class:`~riskstream.risk.engine.RiskEngine` over it. Its loop:

* apply every delta that has arrived (a few vectorised row writes each: applying never
  falls behind, so the engine always refreshes on the newest state — updates are
  conflated, never queued);
* hand the position keeper's :class:`PositionsChanged` and the regime node's
  :class:`RegimeChanged` to ``engine.send`` (drained at the top of the next refresh);
* every ``risk.snapshot_interval_ms`` of wall time, refresh and publish the
  :class:`~riskstream.risk.snapshot.RiskSnapshot` on ``SUBJECTS["snapshot"]``. A refresh
  longer than the interval delays the next one, never queues a second.
* a due refresh starts on md's next delta (waiting at most ``delta_wait_ns``): md sends
  what it applied every ``runtime.delta_interval_ms``, so the newest delta held when the
  refresh falls due is up to one interval old, and every event in it waited that long
  for nothing. Started on a delta just received, the refresh reflects what md had
  applied a transit time (~1-3 ms) before it starts: on a 20 ms delta interval that
  takes 10 ms off every event's tick-to-risk latency on average, and up to 20 ms.

Latency: when a snapshot is published, every event whose receipt time came with a delta
applied before the refresh gets ``published_wall - ts_recv`` counted in ``tick_to_risk``
(receipt → the first snapshot that reflects it).

The limits stage checks each snapshot in a node of its own (:mod:`riskstream.runtime.limits`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from riskstream.bus.topics import Topics
from riskstream.core.messages import SUBJECTS, MarketStateDelta
from riskstream.risk.stage import RiskStage
from riskstream.runtime.latency import LatencyHistogram, LoopProfile, summary
from riskstream.runtime.md import DeltaSequence, apply_delta


def subscribe_latest(topics: Topics, subject: str) -> Any:
    """A reader of ``subject`` positioned before its newest message (the state in force —
    positions, regime — is the newest one)."""
    return topics.subscribe(subject, start_after=max(topics.last_seq(subject) - 1, 0))


class MarketClock:
    """The risk node's clock: the market time of the newest delta applied (set by the node;
    it may start before the engine's default as-of time, so unlike ``ManualClock`` it
    accepts any value)."""

    def __init__(self, start_ns: int):
        self._now = int(start_ns)

    def now_ns(self) -> int:
        return self._now

    def set(self, ts_ns: int) -> None:
        self._now = int(ts_ns)


def warm_up(risk_config: Any, refreshes: int = 3) -> None:
    """Compile the risk engine's kernels before the node consumes, as md's warm-up does for
    md: a throw-away engine over a small generated universe, with this node's settings,
    refreshed ``refreshes`` times while simulated batches move its market. The first
    refresh runs the full path, the later ones the incremental sweeps and grid scaling;
    a node that compiles them live stalls its second refresh (0.5 s on a cold cache,
    measured) — and the compiled code is shared by the process."""
    from riskstream.cli.engine import build_engine, simulated_history
    from riskstream.md.config import MdConfig
    from riskstream.runtime.md import practice_market

    universe, simulator, md = practice_market(MdConfig())
    # the shortest history the settings accept: the kernels' types do not depend on it
    config = risk_config.model_copy(update={"window_days": 30})
    days = config.window_days + max(config.horizons_days) + 5  # a few days to spare
    history = simulated_history(universe, days, seed=1)
    engine = build_engine(universe, config, history=history, market=md.market_state)
    try:
        for _ in range(refreshes):
            for _ in range(2):
                events = simulator.next_batch()
                md.on_batch(events, int(events["ts_event"][-1]))
            engine.refresh()
    finally:
        engine.close()
        md.close()


class RiskNode:
    """:class:`~riskstream.runtime.node.Node` running the risk engine on the wall clock.

    Parameters
    ----------
    stage : RiskStage
        Over an engine built on this node's own ``MarketState`` and ``clock``.
    clock : MarketClock
        The engine's clock; set to the market time of the newest delta.
    topics : Topics
    regime_conditional : bool
        Pass RegimeChanged messages to the engine (``risk.regime_conditional``).
    clock_ns : callable
        The wall clock.
    delta_wait_ns : int
        How long a due refresh waits for md's next delta (0: it starts at once). The
        wiring gives md's delta interval and a quarter (deltas run a little late under
        load; a refresh waits no longer when md is stalled or the market quiet).
    """

    name = "risk"

    def __init__(
        self,
        stage: RiskStage,
        clock: MarketClock,
        topics: Topics,
        regime_conditional: bool = False,
        clock_ns: Callable[[], int] = time.time_ns,
        delta_wait_ns: int = 0,
    ):
        self.stage = stage
        self.engine = stage.engine
        self.state = stage.engine.market
        self.clock = clock
        self.topics = topics
        self.regime_conditional = regime_conditional
        self.clock_ns = clock_ns
        self.interval_ns = stage.interval_ns
        self.delta_wait_ns = int(delta_wait_ns)
        self._market_seq = topics.last_seq(SUBJECTS["market"])
        self.market = topics.subscribe(SUBJECTS["market"], start_after=self._market_seq)
        self.positions = subscribe_latest(topics, SUBJECTS["positions"])
        self.regime = subscribe_latest(topics, SUBJECTS["regime"])
        self.fx = subscribe_latest(topics, SUBJECTS["fx"])  # `riskstream fx poll --bus`
        self.tick_to_risk = LatencyHistogram()
        self.deltas = 0
        self.delta_sequence = DeltaSequence()
        self.messages_sent = 0
        self.published = 0
        self.state_lag_ms: list[float] = []
        self._ts_ns = 0
        self._newest_wall = 0
        self._pending: list[tuple[np.ndarray, float]] = []  # (receipts, events per receipt)
        self._changed = True  # refresh at the first chance
        self._next_refresh = 0
        self._fresh_ns = 0  # wall time the node took the newest delta carrying events
        # wait: for deltas (and for the next refresh); apply: the deltas; refresh: the
        # engine (with the messages drained before it); publish: the snapshot
        self.profile = LoopProfile(("wait", "apply", "refresh", "publish"))

    def _apply(self, delta: MarketStateDelta) -> None:
        if not self.delta_sequence.accept(delta):
            return  # a duplicate, a replaced md's, or a restarted md's before its keyframe
        apply_delta(self.state, delta)
        self.deltas += 1
        if self.delta_sequence.reset:  # md restarted: its state, and market time, rule
            self._ts_ns = delta.ts_ns
        self._ts_ns = max(self._ts_ns, delta.ts_ns)
        self._newest_wall = max(self._newest_wall, delta.wall_ns)
        if delta.recv_ns.size and delta.events:
            self._pending.append((delta.recv_ns, delta.events / delta.recv_ns.size))
        if delta.events:  # the last part of one of md's sends (the receipts ride on it)
            self._fresh_ns = self.clock_ns()
        self._changed = True

    def _drain_messages(self) -> None:
        for _, message in self.positions.fetch(64):
            self.engine.send(message)
            self.messages_sent += 1
            self._changed = True
        for _, message in self.regime.fetch(64):
            if self.regime_conditional:
                self.engine.send(message)
                self.messages_sent += 1
                self._changed = True
        for _, message in self.fx.fetch(64):
            self.engine.send(message)
            self.messages_sent += 1
            self._changed = True

    def step(self) -> bool:
        self.profile.begin()
        now = self.clock_ns()
        due = self._next_refresh
        # before the due time, wait for it; after it, for md's next delta (module docstring)
        until = due if now < due else due + self.delta_wait_ns
        got = self.market.fetch(4096, timeout_s=min(max(until - now, 0) / 1e9, 0.02))
        self.profile.mark("wait")
        for seq, delta in got:
            self._apply(delta)
            self._market_seq = seq
        self.profile.mark("apply")
        now = self.clock_ns()
        if now >= due and (self._fresh_ns >= due or now >= due + self.delta_wait_ns):
            # positions and regime are read when a refresh is due (the engine applies them
            # at its top anyway): between refreshes the loop only waits on deltas
            self._drain_messages()
            if self._changed and self._ts_ns:
                self.refresh(now)
            else:
                self._next_refresh = now + min(self.interval_ns, 20_000_000)
            self.profile.mark("refresh")
        self.profile.end(deltas=len(got))
        return bool(got)

    def refresh(self, now: int) -> None:
        self._next_refresh = max(self._next_refresh + self.interval_ns, now)
        self.clock.set(self._ts_ns)
        pending, self._pending, self._changed = self._pending, [], False
        if self._newest_wall:
            self.state_lag_ms.append((now - self._newest_wall) / 1e6)
            if len(self.state_lag_ms) > 100_000:
                del self.state_lag_ms[:50_000]
        snap = self.stage.refresh(self._ts_ns)
        self.profile.mark("refresh")
        self.topics.publish(SUBJECTS["snapshot"], snap, msg_id=f"snapshot:{snap.lineage_id}")
        published = self.clock_ns()
        self.published += 1
        for recv, weight in pending:
            self.tick_to_risk.add(published - recv, weight)
        self.profile.mark("publish")

    def idle(self) -> bool:
        read_all = self._market_seq >= self.topics.last_seq(SUBJECTS["market"])
        return read_all and not self._changed

    def summary(self) -> dict[str, Any]:
        out = self.stage.summary()
        risk = summary(self.tick_to_risk.counts, "ms")
        lag = np.asarray(self.state_lag_ms)
        out.update(
            {
                "risk_deltas": self.deltas,
                **self.delta_sequence.summary("risk"),
                "risk_messages_sent": self.messages_sent,
                "tick_to_risk_p50_ms": risk["p50_ms"],
                "tick_to_risk_p99_ms": risk["p99_ms"],
                "tick_to_risk_sum_s": self.tick_to_risk.sum_s,
                "risk_state_lag_p99_ms": round(float(np.percentile(lag, 99)), 3)
                if lag.size
                else None,
                "risk_loop": self.profile.summary(),
            }
        )
        return out

    def histograms(self) -> dict[str, np.ndarray]:
        return {"tick_to_risk": self.tick_to_risk.counts}

    def view(self) -> list[tuple[str, str]]:
        rows = self.stage.view()
        p99 = summary(self.tick_to_risk.counts, "ms")["p99_ms"]
        rows.append(("tick → risk p99", "-" if p99 is None else f"{p99:,.1f} ms"))
        return rows

    def close(self) -> None:
        for sub in (self.market, self.positions, self.regime, self.fx):
            sub.close()
        self.stage.close()
