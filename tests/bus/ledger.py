"""A deterministic, checkpointable state that detects lost, doubled or reordered events.

Per instrument: the number of events, the sum of sizes, the last sequence number, the
number of sequence breaks (an event whose seq is not last + 1) and an order-sensitive
checksum (FNV-1a over ``seq`` and ``price``). Any loss, duplicate or reordering changes the
counts or the checksum. It has the same ``state()``/``restore()`` shape as the books of
``riskstream.md``, beside which it runs in the exactly-once test (``tests/bus/books.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from riskstream.core.events import EVENT_DTYPE, empty_events

FNV_OFFSET = np.uint64(14695981039346656037)
FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True)
def _apply(instrument, seq, price, size, count, size_sum, last_seq, breaks, checksum):
    for i in range(instrument.shape[0]):
        k = instrument[i]
        count[k] += 1
        size_sum[k] += size[i]
        if seq[i] != last_seq[k] + 1:
            breaks[k] += 1
        last_seq[k] = seq[i]
        h = checksum[k]
        h = (h ^ seq[i]) * np.uint64(1099511628211)
        h = (h ^ np.uint64(price[i])) * np.uint64(1099511628211)
        checksum[k] = h


class Ledger:
    """Dense per-instrument counters (see the module docstring)."""

    def __init__(self, n_instruments: int):
        self.count = np.zeros(n_instruments, dtype=np.int64)
        self.size_sum = np.zeros(n_instruments, dtype=np.float64)
        self.last_seq = np.zeros(n_instruments, dtype=np.uint64)
        self.breaks = np.zeros(n_instruments, dtype=np.int64)
        self.checksum = np.full(n_instruments, FNV_OFFSET, dtype=np.uint64)

    def apply(self, events: np.ndarray) -> None:
        _apply(
            events["instrument_id"],
            events["seq"],
            events["price"],
            events["size"],
            self.count,
            self.size_sum,
            self.last_seq,
            self.breaks,
            self.checksum,
        )

    def state(self) -> dict[str, np.ndarray]:
        return {
            "count": self.count,
            "size_sum": self.size_sum,
            "last_seq": self.last_seq,
            "breaks": self.breaks,
            "checksum": self.checksum,
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        for name, array in state.items():
            getattr(self, name)[:] = array


def event_stream(n_batches: int, batch: int, n_instruments: int, seed: int) -> list[np.ndarray]:
    """Deterministic event batches: random instruments, contiguous seq per instrument."""
    rng = np.random.default_rng(seed)
    next_seq = np.ones(n_instruments, dtype=np.uint64)
    out = []
    ts = 1_700_000_000_000_000_000
    for _ in range(n_batches):
        ev = empty_events(batch)
        ids = rng.integers(0, n_instruments, batch).astype(np.int32)
        ev["instrument_id"] = ids
        for k in range(batch):  # small test streams: a Python loop is fine here
            ev["seq"][k] = next_seq[ids[k]]
            next_seq[ids[k]] += 1
        ev["ts_event"] = ts + np.arange(batch) * 1000
        ev["ts_recv"] = ev["ts_event"] + 500
        ev["kind"] = 5
        ev["side"] = rng.choice(np.array([-1, 1], dtype=np.int8), batch)
        ev["price"] = rng.integers(1, 10**12, batch)
        ev["size"] = rng.integers(1, 1000, batch).astype(np.float64)
        ev["source"] = 3
        ts += batch * 1000
        out.append(ev)
    assert out[0].dtype == EVENT_DTYPE
    return out
