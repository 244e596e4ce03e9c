"""Benchmark: in-process ingest — bus, validation, sequencing, L3/L2 books, features, state.

Events: ``MarketSimulator`` over ``generate_universe`` (10,000 instruments) when the
simulator is available, else a synthetic stream with a realistic mix: equities, futures and
options order-driven (L3 adds, cancels, modifies, trades against the best resting orders),
FX and bonds quote-driven (L1 quotes, off-book trade prints), activity Zipf-skewed across
instruments. Events are generated up front (deterministic, seed 7), then fed batch by batch
to :class:`riskstream.md.MdStage` — through a ``memory://`` bus (publish, consume, apply)
when ``riskstream.bus`` exists, and directly — after an untimed warm-up.

Prints one JSON object as its last line. Headline (through the memory bus, else direct):
``events_per_s`` (timed events / their processing wall time), ``p50/p99_latency_us`` (per
batch, wall clock from receipt — publish on the bus path — to features and market state
updated) and ``p99_cpu_us`` (thread CPU time per batch: the same without preemption by the
other processes of a shared machine) for ``batch_events`` (512 by default: keeps p99 well
under 1 ms while amortising the per-batch overhead), then ``direct`` and a ``sweep`` over
batch sizes. ``nats_events_per_s`` is measured by the bus integration, not here.
Run: ``PYTHONPATH=src python bench/ingest.py [--events N] [--batch B] [--sweep 256,1024]``.
"""

# numba kernels draw from numba's own generator, seeded by np.random.seed inside the kernel
# (deterministic per seed); numpy's Generator API is not available there.
# ruff: noqa: NPY002

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from numba import njit

from riskstream.core.events import EVENT_DTYPE, PRICE_SCALE
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.md import MdConfig, MdStage

T0 = 1_717_200_000 * 1_000_000_000  # 2024-06-01T00:00Z
CAP = 48  # synthetic orders kept per instrument by the generator


@njit(cache=True)
def _generate(n, quoted, mid, tick, cum_weight, sim_rate, seed, out):
    """Fill ``out`` with a valid L3/L1 event stream (numba, deterministic for ``seed``)."""
    np.random.seed(seed)
    n_inst = mid.shape[0]
    oid = np.zeros((n_inst, CAP), np.uint64)
    side = np.zeros((n_inst, CAP), np.int8)
    price = np.zeros((n_inst, CAP), np.int64)
    size = np.zeros((n_inst, CAP), np.float64)
    count = np.zeros(n_inst, np.int64)
    next_oid = np.ones(n_inst, np.uint64)
    seq = np.zeros(n_inst, np.uint64)
    dt = 1e9 / sim_rate
    total = cum_weight[-1]
    for i in range(n):
        inst = np.searchsorted(cum_weight, np.random.random() * total)
        if inst >= n_inst:
            inst = n_inst - 1
        e = out[i]
        ts = T0 + np.int64(i * dt)
        e.ts_event = ts
        e.ts_recv = ts
        seq[inst] += 1
        e.seq = seq[inst]
        e.instrument_id = inst
        e.source = 0
        e.flags = 0
        r = np.random.random()
        if quoted[inst]:
            if r < 0.1:  # an off-book trade print near the mid
                e.kind = 4
                e.side = 1
                e.price = mid[inst]
                e.size = float(np.random.randint(1, 50)) * 10_000
                e.order_id = 0
            else:
                s = 1 if np.random.random() < 0.5 else -1
                e.kind = 5
                e.side = s
                e.price = mid[inst] - s * tick[inst] * np.random.randint(1, 4)
                e.size = float(np.random.randint(1, 50)) * 100_000
                e.order_id = 0
            continue
        c = count[inst]
        if c < 8 or (r < 0.42 and c < CAP):  # add, 1-10 ticks from the mid
            s = 1 if np.random.random() < 0.5 else -1
            k = c
            oid[inst, k] = next_oid[inst]
            next_oid[inst] += 1
            side[inst, k] = s
            price[inst, k] = mid[inst] - s * tick[inst] * np.random.randint(1, 11)
            size[inst, k] = float(np.random.randint(1, 20)) * 100
            count[inst] = c + 1
            e.kind = 1
            e.side = s
            e.price = price[inst, k]
            e.size = size[inst, k]
            e.order_id = oid[inst, k]
        elif r < 0.78:  # cancel a random order
            k = np.random.randint(0, c)
            e.kind = 3
            e.side = side[inst, k]
            e.price = 0
            e.size = 0.0
            e.order_id = oid[inst, k]
            c -= 1
            oid[inst, k], side[inst, k] = oid[inst, c], side[inst, c]
            price[inst, k], size[inst, k] = price[inst, c], size[inst, c]
            count[inst] = c
        elif r < 0.88:  # modify: half shrink in place, half re-price
            k = np.random.randint(0, c)
            e.kind = 2
            e.side = side[inst, k]
            e.order_id = oid[inst, k]
            if np.random.random() < 0.5 and size[inst, k] > 100:
                size[inst, k] -= 100
            else:
                price[inst, k] = mid[inst] - side[inst, k] * tick[inst] * np.random.randint(1, 11)
            e.price = price[inst, k]
            e.size = size[inst, k]
        else:  # trade against the best order of a random side
            s = 1 if np.random.random() < 0.5 else -1
            best = -1
            for j in range(c):
                if side[inst, j] == s and (
                    best < 0 or (price[inst, j] - price[inst, best]) * s > 0
                ):
                    best = j
            if best < 0:
                best = 0
                s = side[inst, 0]
            q = min(size[inst, best], float(np.random.randint(1, 10)) * 100)
            e.kind = 4
            e.side = s
            e.price = price[inst, best]
            e.size = q
            e.order_id = oid[inst, best]
            size[inst, best] -= q
            if size[inst, best] <= 0:
                c -= 1
                oid[inst, best], side[inst, best] = oid[inst, c], side[inst, c]
                price[inst, best], size[inst, best] = price[inst, c], size[inst, c]
                count[inst] = c


def simulated_stream(n_instruments: int, n_events: int, seed: int = 7) -> np.ndarray | None:
    """Events from ``riskstream.feeds.simulator.MarketSimulator``, or None before it lands."""
    try:
        from riskstream.feeds.config import SimulatorConfig
        from riskstream.feeds.simulator import MarketSimulator
    except ImportError:
        return None
    universe = generate_universe(UniverseConfig(instruments=n_instruments, seed=seed))
    sim = MarketSimulator(universe, SimulatorConfig(seed=seed, batch_events=65_536))
    parts, n = [], 0
    while n < n_events:
        parts.append(sim.next_batch())
        n += len(parts[-1])
    return np.concatenate(parts)[:n_events]


def make_stream(n_instruments: int, n_events: int, seed: int = 7) -> np.ndarray:
    """A synthetic valid L3/L1 stream over the generated universe (see ``_generate``)."""
    universe = generate_universe(UniverseConfig(instruments=n_instruments, seed=seed))
    ins = universe.instruments
    quoted = ins["asset_class"].is_in(["fx", "bond"]).to_numpy()
    tick = np.maximum(np.round(ins["tick_size"].to_numpy() * PRICE_SCALE), 1).astype(np.int64)
    ref = ins["ref_price"].to_numpy()
    mid = (np.round(ref * PRICE_SCALE / tick) * tick).astype(np.int64)
    mid = np.maximum(mid, 20 * tick)  # room for 10 ticks either side above zero
    rng = np.random.default_rng(seed)
    weight = 1.0 / np.arange(1, n_instruments + 1) ** 0.8
    cum_weight = np.cumsum(rng.permutation(weight))
    out = np.zeros(n_events, dtype=EVENT_DTYPE)
    _generate(n_events, quoted, mid, tick, cum_weight, 200_000.0, seed, out)
    return out


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


def run_bus(events: np.ndarray, n_instruments: int, batch: int, warmup: int) -> dict | None:
    """As :func:`run`, but each batch is published to a ``memory://`` bus (one partition: a
    single in-process consumer) and the stage is fed what the consumer receives. Latency is
    publish → every message of the batch applied. None when the bus is not available."""
    try:
        from riskstream.bus import BusConfig, open_bus
    except ImportError:
        return None
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
    parser.add_argument(
        "--source",
        choices=["auto", "simulator", "synthetic"],
        default="auto",
        help="MarketSimulator when available (auto), else the synthetic generator",
    )
    args = parser.parse_args()
    t = time.perf_counter()
    events = None
    if args.source in ("auto", "simulator"):
        events = simulated_stream(args.instruments, args.events)
        if events is None and args.source == "simulator":
            raise SystemExit("riskstream.feeds.simulator is not available on this branch")
    source = "simulator" if events is not None else "synthetic"
    if events is None:
        events = make_stream(args.instruments, args.events)
    gen_s = time.perf_counter() - t
    kinds = np.bincount(events["kind"], minlength=8)
    bus_run = run_bus(events, args.instruments, args.batch, args.warmup)
    direct = run(events, args.instruments, args.batch, args.warmup)
    # the headline figures go through the in-process bus when it exists (issue 3)
    main_run = {**direct, **bus_run, "path": "memory bus"} if bus_run else direct
    sweep = []
    for b in (int(b) for b in args.sweep.split(",") if b):
        via_bus = run_bus(events, args.instruments, b, args.warmup)
        sweep.append({"direct": run(events, args.instruments, b, args.warmup), "bus": via_bus})
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "stages": "MdStage: validate, sequence, books, features, market state",
                "event_source": source,
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
                "nats_events_per_s": None,
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
