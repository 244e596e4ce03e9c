"""Benchmark: reference-universe generation and the SQLite reference DB round trip.

Prints one JSON object as its last line: seconds to generate 10,000 and 100,000 instruments
(best of a few runs) and to save / load the 10,000-instrument universe in a SQLite file.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time

from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.store.refdb import RefDB


def best_of(repeats: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    generate_universe(UniverseConfig(instruments=50))  # warm imports and caches
    t10k, universe = best_of(5, lambda: generate_universe(UniverseConfig(instruments=10_000)))
    t100k, _ = best_of(2, lambda: generate_universe(UniverseConfig(instruments=100_000)))
    with tempfile.TemporaryDirectory() as folder:
        db = RefDB(f"sqlite:///{folder}/refdata.db")
        db.migrate()
        t_save, _ = best_of(3, lambda: db.save_universe(universe))
        t_load, _ = best_of(3, db.load_universe)
        db.close()
    print(
        json.dumps(
            {
                "benchmark": "universe",
                "generate_10k_s": round(t10k, 4),
                "generate_100k_s": round(t100k, 4),
                "sqlite_save_10k_s": round(t_save, 4),
                "sqlite_load_10k_s": round(t_load, 4),
                "positions_10k": universe.positions.height,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            }
        )
    )


if __name__ == "__main__":
    main()
