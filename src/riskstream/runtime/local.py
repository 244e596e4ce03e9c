"""Every node on a thread of one process (``riskstream demo``): the same node code as the
processes of ``riskstream up``, over the in-memory bus and :class:`MemoryTopics`.

Shutdown drains in data-flow order: the feed stops first; md and history consume what
was published; md's last delta reaches risk, regime and service; then each node closes
(md checkpoints, history flushes). So a stopped run's figures agree with each other:
every published event is in the books and in history.
"""

from __future__ import annotations

import time
from typing import Any

from riskstream.runtime.node import NodeHost
from riskstream.runtime.wiring import Wiring, build_node


class LocalRuntime:
    """Build ``stages`` over ``wiring`` and run each on its own thread.

    Parameters
    ----------
    wiring : Wiring
    stages : sequence of str
        In data-flow order (:data:`riskstream.runtime.wiring.STAGES`).
    """

    def __init__(self, wiring: Wiring, stages: list[str]):
        self.wiring = wiring
        self.nodes: dict[str, Any] = {}
        # consumers first, the feed last: nobody misses the first events or deltas
        for name in [s for s in stages if s != "feed"] + [s for s in stages if s == "feed"]:
            if name == "feed" and "md" in self.nodes and wiring.speed is None:
                wiring.backlog = self._md_backlog
            self.nodes[name] = build_node(name, wiring)
        self.hosts = {
            name: NodeHost(node, wiring.topics, wiring.cfg.runtime.stats_interval_s)
            for name, node in self.nodes.items()
        }
        self.order = [s for s in stages if s in self.nodes]
        self.started = time.perf_counter()
        self.stopped: float | None = None

    def _md_backlog(self) -> int:
        md = self.nodes["md"]
        bus = self.wiring.bus
        return sum(bus.last_seq(p) - md.consumer.positions[p] for p in md.consumer.partitions)

    def start(self) -> LocalRuntime:
        for name in reversed(self.order):  # downstream first
            self.hosts[name].start()
        self.started = time.perf_counter()
        return self

    def failed(self) -> dict[str, BaseException]:
        """Nodes whose thread died, with the error."""
        return {n: h.error for n, h in self.hosts.items() if h.error is not None}

    def stop(self, drain_timeout_s: float = 60.0) -> None:
        """Stop the feed, let the others drain what it published, then stop them all."""
        if self.stopped is not None:
            return
        deadline = time.monotonic() + drain_timeout_s
        for name in self.order:
            host = self.hosts[name]
            if name != "feed":
                while host.alive and not self.nodes[name].idle() and time.monotonic() < deadline:
                    time.sleep(0.01)
            host.stop()
            host.join(max(deadline - time.monotonic(), 1.0))
        self.stopped = time.perf_counter()

    @property
    def elapsed_s(self) -> float:
        end = self.stopped if self.stopped is not None else time.perf_counter()
        return end - self.started

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        feed = self.nodes.get("feed")
        md = self.nodes.get("md")
        events = feed.events if feed is not None else 0
        out["events"] = events
        out["events_per_s"] = round(events / self.elapsed_s, 1) if self.elapsed_s > 0 else 0.0
        if md is not None:
            out["instruments"] = int((md.stage.market_state.seq > 0).sum())
        out["duration_s"] = round(self.elapsed_s, 3)
        for name in self.order:
            out.update(self.nodes[name].summary())
        for name, error in self.failed().items():
            out.setdefault("stage_errors", {})[name] = repr(error)
        return out

    def view(self) -> list[tuple[str, str]]:
        elapsed = self.elapsed_s
        feed = self.nodes.get("feed")
        rows = []
        if feed is not None:
            rows.append(("events", f"{feed.events:,}"))
            rows.append(("events/s", f"{feed.events / elapsed if elapsed > 0 else 0:,.0f}"))
        for name in self.order:
            rows.extend(self.nodes[name].view())
        return rows
