"""Benchmark: in-process ingest on the demo's path — simulator → bus → md (books, features).

What is timed is what ``riskstream demo`` runs: :class:`MarketSimulator` over
``generate_universe`` (10,000 instruments) producing batches of the demo's
``SimulatorConfig().batch_events`` events *inside the timed loop*, each batch published to a
``memory://`` bus with the demo's ``BusConfig().partitions`` partitions and consumed through
:func:`riskstream.bus.relay.through_bus` (as the demo does), each received message applied by
:class:`riskstream.md.MdStage` at ``MdConfig()`` defaults (validation, sequencing, L3/L2
books, features, market state). Risk, limits and history are out (``bench/risk.py`` times
the risk engine).

Pacing: the simulator's batches are offered at ``--rate`` events/s of wall-clock time (the
design target, 1,000,000, by default; 0: as fast as possible). Batch ``k`` is *received*
when its last event has arrived at that rate, ``t0 + (events up to and including batch k) /
rate``, or when the simulator hands it over, if later. Per-event latency: every event of a
batch carries ``(md finished the batch's last message) − (batch received)``; when the loop
is still busy with earlier batches, that includes the batch's wait in the queue (the time
from its receipt to the loop picking it up), so a pipeline slower than the offered rate
shows a growing latency rather than a hidden backlog. The time an event waits for its batch
to fill is not counted (it is ``batch_events / rate`` at most). Generation runs in the same
thread: when the loop falls behind, the simulator's time counts against the latency too
(reported separately as ``generate_share``).

Prints one JSON object as its last line: ``events_per_s`` (events applied / wall time of
the timed loop, generation included), ``pipeline_events_per_s`` (the same without the
simulator's time), ``p50/p99/p999_latency_us`` per event, ``partitions``, ``batch_events``,
``offered_rate``, and as extras the per-batch processing time (``batch_p99_us``) and its
thread CPU time (``batch_p99_cpu_us``: without preemption by other processes).
Run: ``PYTHONPATH=src python bench/ingest.py [--seconds 20] [--rate 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Iterator

import numpy as np

from riskstream.bus import BusConfig, open_bus
from riskstream.bus.relay import through_bus
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md import MdConfig, MdStage


def weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs: list[float]) -> list[float]:
    """Percentiles of ``values`` where value ``i`` stands for ``weights[i]`` events (the
    inverted CDF, as ``np.percentile(..., method="inverted_cdf")`` on the expanded sample)."""
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return [float(values[order][np.searchsorted(cum, q / 100 * cum[-1])]) for q in qs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=UniverseConfig().instruments)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed wall-clock seconds")
    parser.add_argument(
        "--rate", type=float, default=1_000_000.0, help="offered events/s (0: unpaced)"
    )
    parser.add_argument("--warmup-batches", type=int, default=30, help="untimed first batches")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--batch-events",
        type=int,
        default=SimulatorConfig().batch_events,
        help="events per simulator batch (default: the demo's)",
    )
    args = parser.parse_args()

    # the demo's market model; its batch size unless --batch-events says otherwise
    sim_config = SimulatorConfig(seed=args.seed, batch_events=args.batch_events)
    bus_config = BusConfig(url="memory://")  # the demo's partitions
    md_config = MdConfig()
    t = time.perf_counter()
    universe = generate_universe(UniverseConfig(instruments=args.instruments, seed=args.seed))
    simulator = MarketSimulator(universe, sim_config)
    stage = MdStage(len(universe), md_config)
    bus = open_bus(bus_config)
    setup_s = time.perf_counter() - t

    n_max = int(args.seconds * max(args.rate, 3e6) / sim_config.batch_events) + 16
    received = np.zeros(n_max, dtype=np.float64)  # batch receipt (perf_counter s)
    done = np.zeros(n_max, dtype=np.float64)  # md finished the batch's last message
    sizes = np.zeros(n_max, dtype=np.int64)
    gen_s = np.zeros(n_max, dtype=np.float64)
    work_s = np.zeros(n_max, dtype=np.float64)  # bus + md wall time of the batch
    work_cpu = np.zeros(n_max, dtype=np.int64)
    state = {"k": -1, "timed": False, "t0": 0.0, "offered": 0, "c0": 0, "w0": 0.0}

    def close_batch() -> None:
        k = state["k"]
        if state["timed"] and k >= 0:
            done[k] = time.perf_counter()
            work_s[k] = done[k] - state["w0"]
            work_cpu[k] = time.thread_time_ns() - state["c0"]

    def source() -> Iterator[tuple[np.ndarray, int]]:
        """The simulator's batches, stamped with their receipt time at the offered rate."""
        for _ in range(args.warmup_batches):  # untimed: compiles kernels, faults in pages
            yield simulator.next_batch(), simulator.now_ns
        state["timed"], state["t0"] = True, time.perf_counter()
        while True:
            close_batch()
            k = state["k"] = state["k"] + 1
            if time.perf_counter() - state["t0"] >= args.seconds or k >= n_max:
                return
            g0 = time.perf_counter()
            batch = simulator.next_batch()
            now = time.perf_counter()
            gen_s[k] = now - g0
            state["offered"] += len(batch)
            sizes[k] = len(batch)
            if args.rate > 0:
                due = state["t0"] + state["offered"] / args.rate
                if due > now:  # ahead of the feed: wait for the batch to arrive
                    time.sleep(due - now)
                    now = time.perf_counter()
                    while now < due:
                        now = time.perf_counter()
                received[k] = due  # later if behind: the wait is queueing
            else:
                received[k] = now
            state["w0"], state["c0"] = time.perf_counter(), time.thread_time_ns()
            yield batch, simulator.now_ns

    for events, now_ns in through_bus(source(), bus, name="bench"):
        stage.on_batch(events, now_ns)
    elapsed = time.perf_counter() - state["t0"]
    bus.close()
    n = state["k"]  # batches timed (the last opened one was not yielded)
    latency_us = (done[:n] - received[:n]) * 1e6
    p50, p99, p999 = weighted_percentiles(latency_us, sizes[:n], [50, 99, 99.9])
    events = int(sizes[:n].sum())
    s = stage.summary()
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "path": "simulator -> memory bus (through_bus) -> MdStage",
                "stages": "MdStage: validate, sequence, L3/L2 books, features, market state",
                "instruments": len(universe),
                "partitions": bus_config.partitions,
                "batch_events": sim_config.batch_events,
                "offered_rate": args.rate or None,
                "events": events,
                "batches": n,
                "wall_s": round(elapsed, 3),
                "events_per_s": round(events / elapsed),
                "pipeline_events_per_s": round(events / float(work_s[:n].sum())),
                "generate_share": round(float(gen_s[:n].sum()) / elapsed, 3),
                "p50_latency_us": round(p50, 1),
                "p99_latency_us": round(p99, 1),
                "p999_latency_us": round(p999, 1),
                "max_latency_us": round(float(latency_us.max()), 1),
                "latency": "per event: md finished its batch - batch received (incl. queueing)",
                # extras: the old per-batch figures (processing time of one batch, no queue)
                "batch_p50_us": round(float(np.percentile(work_s[:n], 50)) * 1e6, 1),
                "batch_p99_us": round(float(np.percentile(work_s[:n], 99)) * 1e6, 1),
                "batch_p99_cpu_us": round(float(np.percentile(work_cpu[:n], 99)) / 1e3, 1),
                "batch_max_us": round(float(work_s[:n].max()) * 1e6, 1),
                "batches_over_10ms": int((work_s[:n] > 0.01).sum()),
                # the simulator's time per batch: its periodic market-model steps stall the loop
                "generate_p99_us": round(float(np.percentile(gen_s[:n], 99)) * 1e6, 1),
                "generate_max_us": round(float(gen_s[:n].max()) * 1e6, 1),
                "target": "events_per_s >= 1e6 and p99_latency_us < 1000",
                "target_met": bool(events / elapsed >= 1e6 and p99 < 1000),
                "quarantined": s["quarantined"],
                "books": s["books"],
                "setup_s": round(setup_s, 2),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
