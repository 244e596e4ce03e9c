"""Benchmark: events/s recorded into the Delta Lake history store (ticks + 1 s / 1 min bars).

Appends a synthetic stream in pipeline-sized batches through ``HistoryStore`` (buffered,
background writer thread), then flushes; the figure is events over the whole time, flush
included. Also reports a full-range read and a bar query. The last line printed is one JSON
object.

    PYTHONPATH=src python bench/history_write.py --events 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time

from nats_ingest import synthetic_events
from riskstream.store.history import HistoryStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--batch-rows", type=int, default=16_384)
    parser.add_argument("--flush-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    events = synthetic_events(args.events, args.instruments)
    root = tempfile.mkdtemp(prefix="rs-bench-history-")
    try:
        store = HistoryStore(root, flush_rows=args.flush_rows)
        store.append_events(events[:1])  # first write: table creation, library imports
        store.flush()
        events = events[1:]
        t0 = time.perf_counter()
        for start in range(0, len(events), args.batch_rows):
            store.append_events(events[start : start + args.batch_rows])
        appended = time.perf_counter()
        store.close()
        written = time.perf_counter()
        read = store.events()
        t_read = time.perf_counter() - written
        t1 = time.perf_counter()
        bars = store.bars("1m")
        t_bars = time.perf_counter() - t1
        result = {
            "history_events_per_s": round(len(events) / (written - t0), 1),
            "history_append_s": round(appended - t0, 3),
            "history_flush_s": round(written - appended, 3),
            "history_read_events_per_s": round(len(read) / t_read, 1),
            "history_bars_1m_query_s": round(t_bars, 3),
            "bars_1m": bars.height,
            "events": len(events),
            "batch_rows": args.batch_rows,
            "flush_rows": args.flush_rows,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
