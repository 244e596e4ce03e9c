"""Deterministic event streams for the store tests."""

from __future__ import annotations

import numpy as np

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.events import PRICE_SCALE, EventKind, empty_events

N_INSTRUMENTS = 6
DAY0 = 19_700 * NS_PER_DAY  # 2023-12-09 00:00 UTC
START = DAY0 + NS_PER_DAY - 90 * NS_PER_S  # 90 s before midnight: spans two date partitions


def make_events(n: int, seed: int, start: int = START) -> np.ndarray:
    """Trades and quotes on a few instruments over ~3 minutes, arrival-ordered by ts."""
    rng = np.random.default_rng(seed)
    ev = empty_events(n)
    ev["ts_event"] = start + np.sort(rng.integers(0, 180 * NS_PER_S, n))
    ev["ts_recv"] = ev["ts_event"] + rng.integers(1_000, 50_000, n)
    ev["instrument_id"] = rng.integers(0, N_INSTRUMENTS, n)
    ev["kind"] = rng.choice(np.array([EventKind.TRADE, EventKind.QUOTE], dtype=np.uint8), n)
    ev["side"] = rng.choice(np.array([-1, 1], dtype=np.int8), n)
    ev["price"] = rng.integers(90 * PRICE_SCALE, 110 * PRICE_SCALE, n)
    ev["size"] = rng.integers(1, 500, n).astype(np.float64)
    ev["source"] = 65_000  # > int16: survives the int32 column
    ev["flags"] = 200  # > int8: survives the int16 column
    ev["order_id"] = np.uint64(2**63 + 5)  # > int64: survives the bit cast
    seq = np.zeros(N_INSTRUMENTS, dtype=np.uint64)
    for i in range(n):
        seq[ev["instrument_id"][i]] += 1
        ev["seq"][i] = seq[ev["instrument_id"][i]]
    return ev
