"""Benchmark: market-simulator throughput on the reference universe, one core.

Builds the 10,000-instrument reference universe, constructs the simulator (numba kernels
compiled or loaded from cache, the opening snapshot built and drained), then times
``next_batch`` for ``--seconds`` of wall time. Generation includes the market model's steps
(factor moves, option and bond repricing) at the default event rate.

Prints one JSON object as its last line: ``events_per_s`` and ``batches_per_s`` generated per
wall-clock second, ``events_per_cpu_s`` per second of this process's CPU time (the figure to
read on a shared machine), ``instruments``, ``seconds`` (wall time measured), ``simulated_s``
(simulated time covered), the event mix and the machine.

Usage: ``python bench/simulate.py [--instruments 10000] [--seconds 5] [--scenario flash-crash]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numba
import numpy as np

from riskstream.core.events import EventKind
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenario", default=None)
    args = parser.parse_args()

    universe = generate_universe(UniverseConfig(instruments=args.instruments, seed=args.seed))
    config = SimulatorConfig(seed=args.seed)
    started = time.perf_counter()
    sim = MarketSimulator(universe, config, scenario=args.scenario)
    setup_s = time.perf_counter() - started
    while sim.now_ns == sim.start_ns:  # drain the opening snapshot; warm every code path
        sim.next_batch()
    for _ in range(20):
        sim.next_batch()

    kinds = np.zeros(256, dtype=np.int64)
    events = batches = 0
    sim_start = sim.now_ns
    started = time.perf_counter()
    cpu_started = time.process_time()
    deadline = started + args.seconds
    while time.perf_counter() < deadline:
        batch = sim.next_batch()
        events += len(batch)
        batches += 1
        kinds += np.bincount(batch["kind"], minlength=256)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(
        json.dumps(
            {
                "benchmark": "simulate",
                "events_per_s": round(events / elapsed),
                "batches_per_s": round(batches / elapsed, 1),
                "events_per_cpu_s": round(events / cpu),
                "events": events,
                "batch_events": config.batch_events,
                "instruments": len(universe),
                "seconds": round(elapsed, 3),
                "simulated_s": round((sim.now_ns - sim_start) / 1e9, 3),
                "simulated_events_per_s": config.events_per_s,
                "setup_s": round(setup_s, 3),
                "event_mix": {k.name.lower(): int(kinds[k]) for k in EventKind if kinds[k]},
                "scenario": args.scenario,
                "machine": {
                    "cpus": os.cpu_count(),
                    "threads_used": 1,
                    "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                    "numba": numba.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
