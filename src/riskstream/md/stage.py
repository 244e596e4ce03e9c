"""The market-data pipeline stage: each batch through validation, books and features."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from riskstream.core.state import MarketState
from riskstream.md.config import MdConfig
from riskstream.md.engine import MarketDataEngine, Quarantine

_LATENCY_RING = 1 << 16  # per-batch latencies kept for the percentiles


class MdStage:
    """:class:`riskstream.pipeline.Stage` running :class:`MarketDataEngine` on every batch.

    Latency is measured per batch from receipt (the wall clock when ``on_batch`` is
    entered) to the end of the feature and market-state update, in nanoseconds.

    Parameters
    ----------
    n_instruments : int
    config : MdConfig, optional
    market_state : MarketState, optional
        Shared with the risk engine; written in place.
    """

    name = "md"

    def __init__(
        self,
        n_instruments: int,
        config: MdConfig | None = None,
        market_state: MarketState | None = None,
        **engine_options: Any,
    ):
        self.engine = MarketDataEngine(n_instruments, config, market_state, **engine_options)
        self.latency_ns = np.zeros(_LATENCY_RING, dtype=np.int64)
        self.batches = 0
        self.events = 0

    @property
    def market_state(self) -> MarketState:
        return self.engine.market_state

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        received = time.perf_counter_ns()
        self.engine.process(events, now_ns)
        self.latency_ns[self.batches % _LATENCY_RING] = time.perf_counter_ns() - received
        self.batches += 1
        self.events += len(events)

    def latencies_ns(self) -> np.ndarray:
        """Receipt → feature-update latency of the most recent batches (up to 65,536)."""
        return self.latency_ns[: min(self.batches, _LATENCY_RING)].copy()

    def state(self) -> dict[str, np.ndarray]:
        """A checkpoint of the engine (books, sequencer, features, market state): with
        :meth:`restore` this is a ``riskstream.bus.Checkpointable``."""
        out = self.engine.state()
        out["stage.counts"] = np.array([self.batches, self.events], dtype=np.int64)
        return out

    def state_views(self) -> dict[str, np.ndarray]:
        """:meth:`state` without copying the arrays (see
        :func:`riskstream.bus.checkpoint.state_views`): only for a process that holds a
        copy-on-write image of them."""
        out = self.engine.state(copy=False)
        out["stage.counts"] = np.array([self.batches, self.events], dtype=np.int64)
        return out

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore a :meth:`state` checkpoint bit for bit."""
        state = dict(state)
        self.batches, self.events = (int(x) for x in state.pop("stage.counts"))
        self.engine.restore(state)

    def drain_quarantine(self) -> Quarantine:
        return self.engine.drain_quarantine()

    def summary(self) -> dict[str, Any]:
        e = self.engine
        lat = self.latencies_ns()
        p50, p99 = (np.percentile(lat, [50, 99]) / 1e3) if len(lat) else (0.0, 0.0)
        return {
            "md_events": self.events,
            "books": e.n_books(),
            "books_stale": int(e.market_state.stale.sum()),
            "live_orders": e.live_orders(),
            "quarantined": e.quarantined,
            "quarantine_by_reason": e.quarantine_by_reason(),
            "quarantine_undrained_dropped": e.quarantine_overflow,
            "features_updated": int(e.features.counters[1]),
            **e.sequence_counts(),
            "md_latency_p50_us": round(float(p50), 1),
            "md_latency_p99_us": round(float(p99), 1),
        }

    def view(self) -> list[tuple[str, str]]:
        s = self.summary()
        return [
            ("books (stale)", f"{s['books']:,} ({s['books_stale']:,})"),
            ("live orders", f"{s['live_orders']:,}"),
            ("quarantined", f"{s['quarantined']:,}"),
            ("gaps / dups", f"{s['gaps']:,} / {s['duplicates']:,}"),
            ("md latency p99", f"{s['md_latency_p99_us']:,.0f} µs"),
        ]

    def close(self) -> None:
        """Nothing to release: the state is in memory (checkpoint with engine.state())."""
