"""Benchmark: in-process ingest — bus, validation, sequencing, L3/L2 books, features, state.

Events: ``MarketSimulator`` over ``generate_universe`` (10,000 instruments): equities,
futures and options order-driven (L3 adds, cancels, modifies, trades against the best
resting orders), FX and bonds quote-driven (L1 quotes), activity by liquidity. Events are
generated up front (deterministic, seed 7), then fed batch by batch
to :class:`riskstream.md.MdStage` — through a ``memory://`` bus (publish, consume, apply)
when ``riskstream.bus`` exists, and directly — after an untimed warm-up.

Prints one JSON object as its last line. Headline (through the memory bus, else direct):
``events_per_s`` (timed events / their processing wall time), ``p50/p99_latency_us`` (per
batch, wall clock from receipt — publish on the bus path — to features and market state
updated) and ``p99_cpu_us`` (thread CPU time per batch: the same without preemption by the
other processes of a shared machine) for ``batch_events`` (512 by default: keeps p99 well
under 1 ms while amortising the per-batch overhead), then ``direct`` and a ``sweep`` over
batch sizes, and ``nats_events_per_s``: the same events through NATS JetStream end to end
(``bench/nats_ingest.py``: publisher here, consumer in another process acknowledging each
batch after checkpointing).
Run: ``PYTHONPATH=src python bench/ingest.py [--events N] [--batch B] [--sweep 256,1024]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from nats_ingest import measure_nats_events_per_s  # bench/nats_ingest.py
from riskstream.bus import BusConfig, open_bus
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md import MdConfig, MdStage

T0 = 1_717_200_000 * 1_000_000_000  # 2024-06-01T00:00Z
CAP = 48  # synthetic orders kept per instrument by the generator


def simulated_stream(n_instruments: int, n_events: int, seed: int = 7) -> np.ndarray:
    """The first ``n_events`` events of :class:`MarketSimulator` over the reference universe."""
    universe = generate_universe(UniverseConfig(instruments=n_instruments, seed=seed))
    sim = MarketSimulator(universe, SimulatorConfig(seed=seed, batch_events=65_536))
    parts, n = [], 0
    while n < n_events:
        parts.append(sim.next_batch())
        n += len(parts[-1])
    return np.concatenate(parts)[:n_events]


def run(events: np.ndarray, n_instruments: int, batch: int, warmup: int) -> dict:
    """Feed ``events`` to a fresh MdStage in batches; time all but the first ``warmup``."""
    stage = MdStage(n_instruments, MdConfig(order_capacity=1 << 18))
    # warm-up (not timed): compiles/loads the kernels and faults in the state's pages, as
    # in a long-running service
    for a in range(0, warmup, batch):
        chunk = events[a : min(a + batch, warmup)]
        stage.on_batch(chunk, int(chunk["ts_recv"][-1]))
    timed = events[warmup:]
    n_batches = -(-len(timed) // batch)
    wall = np.zeros(n_batches, dtype=np.int64)
    cpu = np.zeros(n_batches, dtype=np.int64)
    start = time.perf_counter()
    for k in range(n_batches):
        chunk = timed[k * batch : (k + 1) * batch]
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        stage.on_batch(chunk, int(chunk["ts_recv"][-1]))
        wall[k] = time.perf_counter_ns() - w0
        cpu[k] = time.thread_time_ns() - c0
    elapsed = time.perf_counter() - start
    s = stage.summary()
    return {
        "batch_events": batch,
        "events_per_s": round(len(timed) / elapsed),
        "p50_latency_us": round(float(np.percentile(wall, 50)) / 1e3, 1),
        "p99_latency_us": round(float(np.percentile(wall, 99)) / 1e3, 1),
        "max_latency_us": round(float(wall.max()) / 1e3, 1),
        # CPU time of the batch on this thread: the latency without the scheduler's
        # preemptions (the machine is shared)
        "p99_cpu_us": round(float(np.percentile(cpu, 99)) / 1e3, 1),
        "quarantined": s["quarantined"],
        "books": s["books"],
        "live_orders": s["live_orders"],
    }


def run_bus(events: np.ndarray, n_instruments: int, batch: int, warmup: int) -> dict:
    """As :func:`run`, but each batch is published to a ``memory://`` bus (one partition: a
    single in-process consumer) and the stage is fed what the consumer receives. Latency is
    publish → every message of the batch applied."""
    stage = MdStage(n_instruments, MdConfig(order_capacity=1 << 18))
    bus = open_bus(BusConfig(url="memory://", partitions=1, memory_retain_messages=4096))
    consumer = bus.consumer("bench", start_after={0: bus.last_seq(0)})

    def feed(chunk: np.ndarray) -> None:
        bus.publish(chunk)
        messages = consumer.fetch(1024, 1.0)
        for m in messages:
            stage.on_batch(m.events, int(chunk["ts_recv"][-1]))
        consumer.commit({m.partition: m.seq for m in messages})

    for a in range(0, warmup, batch):
        feed(events[a : min(a + batch, warmup)])
    timed = events[warmup:]
    n_batches = -(-len(timed) // batch)
    wall = np.zeros(n_batches, dtype=np.int64)
    cpu = np.zeros(n_batches, dtype=np.int64)
    start = time.perf_counter()
    for k in range(n_batches):
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        feed(timed[k * batch : (k + 1) * batch])
        wall[k] = time.perf_counter_ns() - w0
        cpu[k] = time.thread_time_ns() - c0
    elapsed = time.perf_counter() - start
    consumer.close()
    bus.close()
    return {
        "batch_events": batch,
        "events_per_s": round(len(timed) / elapsed),
        "p50_latency_us": round(float(np.percentile(wall, 50)) / 1e3, 1),
        "p99_latency_us": round(float(np.percentile(wall, 99)) / 1e3, 1),
        "max_latency_us": round(float(wall.max()) / 1e3, 1),
        "p99_cpu_us": round(float(np.percentile(cpu, 99)) / 1e3, 1),
        "quarantined": stage.summary()["quarantined"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=512, help="events per batch (reported)")
    parser.add_argument("--sweep", default="256,1024,4096", help="other batch sizes to report")
    parser.add_argument("--warmup", type=int, default=200_000, help="untimed first events")
    parser.add_argument("--nats-events", type=int, default=2_000_000, help="0: skip NATS")
    args = parser.parse_args()
    t = time.perf_counter()
    events = simulated_stream(args.instruments, args.events)
    gen_s = time.perf_counter() - t
    kinds = np.bincount(events["kind"], minlength=8)
    bus_run = run_bus(events, args.instruments, args.batch, args.warmup)
    direct = run(events, args.instruments, args.batch, args.warmup)
    # the headline figures go through the in-process bus
    main_run = {**direct, **bus_run, "path": "memory bus"}
    sweep = []
    for b in (int(b) for b in args.sweep.split(",") if b):
        via_bus = run_bus(events, args.instruments, b, args.warmup)
        sweep.append({"direct": run(events, args.instruments, b, args.warmup), "bus": via_bus})
    # NATS JetStream end to end: publish, consume in another process, checkpoint, ack
    nats = (
        measure_nats_events_per_s(events[: args.nats_events])
        if args.nats_events
        else {"nats_events_per_s": None}
    )
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "stages": "MdStage: validate, sequence, books, features, market state",
                "event_source": "simulator",
                "instruments": args.instruments,
                "events": args.events - args.warmup,
                "warmup_events": args.warmup,
                "path": "direct",
                **main_run,
                "direct": direct,
                "sweep": sweep,
                "message_mix": {
                    name: round(float(kinds[k]) / args.events, 3)
                    for k, name in enumerate(
                        ["", "add", "modify", "cancel", "trade", "quote", "clear", "snapshot"]
                    )
                    if k and kinds[k]
                },
                "generate_s": round(gen_s, 2),
                **nats,
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
