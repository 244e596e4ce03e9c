"""Hand-built event batches for the md tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskstream.core.clock import NS_PER_S
from riskstream.core.events import EventKind, empty_events, to_fixed
from riskstream.md import MarketDataEngine, MdConfig

T0 = 1_700_000_000 * NS_PER_S  # 2023-11-14T22:13:20Z
ADD, MODIFY, CANCEL, TRADE = EventKind.ADD, EventKind.MODIFY, EventKind.CANCEL, EventKind.TRADE
QUOTE, CLEAR, SNAPSHOT = EventKind.QUOTE, EventKind.CLEAR, EventKind.SNAPSHOT


def make_events(rows: list[dict[str, Any]], step_ns: int = 1_000_000) -> np.ndarray:
    """Events from dicts with keys kind, side, price (decimal), size, oid, inst, src, seq,
    ts, flags. Missing seq: contiguous per (src, inst) from 1; missing ts: T0 + i*step."""
    out = empty_events(len(rows))
    next_seq: dict[tuple[int, int], int] = {}
    for i, r in enumerate(rows):
        inst, src = r.get("inst", 0), r.get("src", 0)
        seq = r.get("seq")
        if seq is None:
            seq = next_seq.get((src, inst), 0) + 1
        next_seq[(src, inst)] = seq
        ts = r.get("ts", T0 + i * step_ns)
        out[i] = (
            ts,
            r.get("ts_recv", ts),
            seq,
            inst,
            src,
            int(r["kind"]),
            r.get("side", 0),
            to_fixed(r.get("price", 0.0)),
            r.get("size", 0.0),
            r.get("oid", 0),
            r.get("flags", 0),
        )
    return out


def engine(n: int = 4, **config: Any) -> MarketDataEngine:
    return MarketDataEngine(n, MdConfig(**config))
