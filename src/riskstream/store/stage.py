"""``HistoryStage``: the pipeline stage that records the stream in the history store.

Each batch of received events is buffered into ``ticks`` (and so the bars); feature
snapshots are taken from the market state every ``features_every_ns`` of event time, for
the instruments updated since the last snapshot; quarantined events arrive through
:meth:`HistoryStage.add_quarantine` (or a ``quarantine_source`` polled after each batch).
It satisfies :class:`riskstream.pipeline.Stage` structurally (``store`` cannot import the
pipeline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from riskstream.core.clock import NS_PER_S
from riskstream.core.state import MarketState
from riskstream.store.history import HistoryStore

QuarantineBatch = tuple[np.ndarray, np.ndarray | int, Sequence[str] | str]

_NOT_FEATURES = {"ts_ns", "seq", "stale", "updated"}  # bookkeeping arrays of MarketState


class HistoryStage:
    """Record events, feature snapshots and quarantine into a :class:`HistoryStore`.

    Parameters
    ----------
    store : HistoryStore
        Where to write (buffered; :meth:`close` flushes).
    state : MarketState, optional
        The market state whose per-instrument float arrays are snapshotted as features.
    features_every_ns : int
        Event-time interval between feature snapshots (default 1 s).
    quarantine_source : callable, optional
        Called after each batch; returns ``(events, reason_codes, reasons)`` of newly
        quarantined events, or None.
    """

    name = "history"

    def __init__(
        self,
        store: HistoryStore,
        state: MarketState | None = None,
        features_every_ns: int = NS_PER_S,
        quarantine_source: Callable[[], QuarantineBatch | None] | None = None,
    ):
        self.store = store
        self.state = state
        self.features_every_ns = features_every_ns
        self.quarantine_source = quarantine_source
        self.events = 0
        self.quarantined = 0
        self.snapshots = 0
        self._last_snapshot_ns: int | None = None
        self._snapshot_seen_ts = (
            np.zeros(state.n_instruments, dtype=np.int64) if state is not None else None
        )

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        self.store.append_events(events)
        self.events += len(events)
        if self.quarantine_source is not None:
            batch = self.quarantine_source()
            if batch is not None:
                self.add_quarantine(*batch)
        if self.state is not None:
            if self._last_snapshot_ns is None:
                self._last_snapshot_ns = now_ns
            elif now_ns - self._last_snapshot_ns >= self.features_every_ns:
                self.snapshot_features(now_ns)

    def add_quarantine(
        self, events: np.ndarray, reason_codes: np.ndarray | int, reasons: Sequence[str] | str
    ) -> None:
        """Record rejected events with their reasons."""
        self.store.append_quarantine(events, reason_codes, reasons)
        self.quarantined += len(events)

    def snapshot_features(self, now_ns: int) -> int:
        """Write the features of instruments updated since the last snapshot, as known at
        ``now_ns``; returns how many instruments were written."""
        assert self.state is not None and self._snapshot_seen_ts is not None
        changed = np.flatnonzero(self.state.ts_ns > self._snapshot_seen_ts)
        self._last_snapshot_ns = now_ns
        if len(changed) == 0:
            return 0
        self._snapshot_seen_ts[changed] = self.state.ts_ns[changed]
        values = {
            name: array[changed]
            for name, array in self.state.arrays().items()
            if name not in _NOT_FEATURES and array.dtype.kind == "f"
        }
        self.store.append_features(now_ns, changed, values)
        self.snapshots += 1
        return len(changed)

    def summary(self) -> dict[str, Any]:
        return {
            "history_events": self.events,
            "history_quarantined": self.quarantined,
            "history_feature_snapshots": self.snapshots,
            "history_flushes": self.store.flushes,
        }

    def view(self) -> list[tuple[str, str]]:
        return [
            ("history rows", f"{self.events:,}"),
            ("history flushes", f"{self.store.flushes:,}"),
        ]

    def close(self) -> None:
        self.store.close()
