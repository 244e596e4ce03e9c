"""Benchmark: events/s through NATS JetStream into the md stage (books and features).

The demo's bus path with ``--bus nats://``, split over two processes: a publisher (this
process) runs :class:`MarketSimulator` over the reference universe and publishes each batch
(the demo's ``SimulatorConfig().batch_events`` events) through the ``nats://`` bus at the
demo's ``BusConfig().partitions`` partitions (partitioned subjects, message ids, confirmed
publishes); a consumer in another process fetches the messages with a durable consumer and
applies each to :class:`riskstream.md.MdStage` at ``MdConfig()`` defaults (validation,
sequencing, L3/L2 books, features, market state), acknowledging after each fetch. Both
ends run as fast as they can (no pacing); the simulator runs in the publisher's timed loop.
An untimed warm-up (``--warmup-batches``) compiles the kernels on both sides first.

``nats_events_per_s``: timed events / (consumer applied the last one − first timed publish).
Per-event latency: every event of batch ``k`` carries (consumer's count of applied events
first reached the events published up to and including batch ``k``) − (batch ``k``'s publish
started); both ends read ``CLOCK_MONOTONIC``, one clock on one machine. It includes the
backlog when the consumer is slower than the publisher.

Run (starts its own nats-server on a free port, as ``tests/servers.py`` does, unless
``--url`` is given)::

    PYTHONPATH=src python bench/nats_ingest.py --seconds 20

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from riskstream.bus import BusConfig, open_bus
from riskstream.core.events import EventKind, empty_events
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md import MdConfig, MdStage


def _consume(
    config: dict, n_instruments: int, warmup_events: int, ready, warmed, total_q, out
) -> None:
    """The consumer process: NATS → MdStage until the publisher's total arrives."""
    bus = open_bus(BusConfig(**config))
    stage = MdStage(n_instruments, MdConfig())
    consumer = bus.consumer("bench", start_after={p: 0 for p in range(bus.partitions)})
    ready.set()
    applied = 0
    total = None  # the publisher's total, once it is known
    times, counts = [], []
    idle_since = time.monotonic()
    while total is None or applied < total:
        if total is None and not total_q.empty():
            total = total_q.get()
            continue
        messages = consumer.fetch(64, 0.5)
        if not messages:
            if time.monotonic() - idle_since > 60:
                break
            continue
        for m in messages:
            stage.on_batch(m.events, int(m.events["ts_recv"].max()))
            applied += len(m.events)
            if applied > warmup_events:
                times.append(time.monotonic())
                counts.append(applied)
        consumer.commit({m.partition: m.seq for m in messages})
        idle_since = time.monotonic()
        if applied >= warmup_events and not warmed.is_set():
            warmed.set()
    summary = stage.summary()
    out.put(
        {
            "times": np.array(times),
            "counts": np.array(counts, dtype=np.int64),
            "applied": applied,
            "quarantined": summary["quarantined"],
            "books": summary["books"],
        }
    )
    consumer.close()
    bus.close()


@contextmanager
def nats_server() -> Iterator[str]:
    """A throw-away nats-server with JetStream on a free loopback port."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="rs-bench-nats-")
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("nats-server did not start")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(store, ignore_errors=True)


def synthetic_events(n: int, n_instruments: int = 10_000, seed: int = 7) -> np.ndarray:
    """Random instruments, quotes and trades (for ``bench/history_write.py``)."""
    rng = np.random.default_rng(seed)
    events = empty_events(n)
    events["ts_event"] = 1_700_000_000_000_000_000 + np.arange(n) * 2_000
    events["ts_recv"] = events["ts_event"] + 5_000
    ids = rng.integers(0, n_instruments, n).astype(np.int32)
    events["instrument_id"] = ids
    order = np.argsort(ids, kind="stable")
    seq = np.empty(n, dtype=np.uint64)
    counts = np.bincount(ids, minlength=n_instruments)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    seq[order] = np.arange(n) - starts + 1
    events["seq"] = seq
    events["kind"] = rng.choice(np.array([EventKind.QUOTE, EventKind.TRADE], np.uint8), n)
    events["side"] = rng.choice(np.array([-1, 1], np.int8), n)
    events["price"] = rng.integers(10**9, 10**12, n)
    events["size"] = rng.integers(1, 1_000, n).astype(np.float64)
    return events


def weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs: list[float]) -> list[float]:
    """Percentiles of ``values`` where value ``i`` stands for ``weights[i]`` events."""
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return [float(values[order][np.searchsorted(cum, q / 100 * cum[-1])]) for q in qs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instruments", type=int, default=UniverseConfig().instruments)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed publishing seconds")
    parser.add_argument("--warmup-batches", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--url", default=None, help="a running nats-server (default: start one)")
    args = parser.parse_args()
    if args.url is None:
        with nats_server() as url:
            result = run(args, url)
    else:
        result = run(args, args.url)
    print(json.dumps(result))


def run(args: argparse.Namespace, url: str) -> dict:
    sim_config = SimulatorConfig(seed=args.seed)
    bus_config = BusConfig(url=url, stream="RSBENCH")  # the demo's partitions
    universe = generate_universe(UniverseConfig(instruments=args.instruments, seed=args.seed))
    simulator = MarketSimulator(universe, sim_config)
    publisher = open_bus(bus_config)
    publisher.delete_streams()
    publisher.close()
    publisher = open_bus(bus_config)
    config = {"url": url, "stream": "RSBENCH", "partitions": bus_config.partitions}
    ctx = mp.get_context("spawn")
    ready, warmed, total_q, out = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    warm = [simulator.next_batch() for _ in range(args.warmup_batches)]
    warmup_events = sum(len(b) for b in warm)
    worker = ctx.Process(
        target=_consume, args=(config, len(universe), warmup_events, ready, warmed, total_q, out)
    )
    worker.start()
    try:
        if not ready.wait(120):
            raise TimeoutError("the consumer process did not start")
        for batch in warm:  # untimed: both ends compile and fault in their pages
            publisher.publish(batch)
        if not warmed.wait(300):
            raise TimeoutError("the consumer did not finish the warm-up")
        starts, cums = [], []
        published = warmup_events
        gen_s = 0.0
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            g0 = time.monotonic()
            batch = simulator.next_batch()
            t_pub = time.monotonic()
            gen_s += t_pub - g0
            publisher.publish(batch)
            published += len(batch)
            starts.append(t_pub)
            cums.append(published)
        t_published = time.monotonic()
        total_q.put(published)
        result = out.get(timeout=600)
        worker.join(timeout=30)
    finally:
        if worker.is_alive():
            worker.kill()
        publisher.delete_streams()
        publisher.close()
    times, counts = result["times"], result["counts"]
    cums_a, starts_a = np.array(cums), np.array(starts)
    idx = np.searchsorted(counts, cums_a)  # first moment the count reached each batch's end
    ok = idx < len(counts)
    done = times[np.minimum(idx, len(counts) - 1)]
    latency_us = (done - starts_a)[ok] * 1e6
    sizes = np.diff(np.concatenate([[warmup_events], cums_a]))[ok]
    p50, p99, p999 = weighted_percentiles(latency_us, sizes, [50, 99, 99.9])
    events = published - warmup_events
    elapsed = float(times[-1]) - t0
    return {
        "benchmark": "nats_ingest",
        "path": "simulator -> NATS JetStream (nats-server, loopback) -> other process -> MdStage",
        "instruments": len(universe),
        "partitions": bus_config.partitions,
        "batch_events": sim_config.batch_events,
        "events": events,
        "applied": result["applied"] - warmup_events,
        "nats_events_per_s": round(events / elapsed),
        "publish_events_per_s": round(events / (t_published - t0)),
        "publisher_generate_share": round(gen_s / (t_published - t0), 3),
        "elapsed_s": round(elapsed, 3),
        "p50_latency_us": round(p50, 1),
        "p99_latency_us": round(p99, 1),
        "p999_latency_us": round(p999, 1),
        "latency": "per event: consumer applied its batch - batch publish started (incl. backlog)",
        "target": "nats_events_per_s >= 500000",
        "target_met": bool(events / elapsed >= 500_000),
        "quarantined": result["quarantined"],
        "books": result["books"],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
    }


if __name__ == "__main__":
    main()
