"""Benchmark: events/s end to end through NATS JetStream (publish → store → consume → ack).

A publisher (this process) pushes event batches through the ``nats://`` bus (partitioned
subjects, message ids, confirmed publishes); a consumer in another process applies them
with :class:`riskstream.bus.CheckpointedConsumer` (checkpoint, then a confirmed
acknowledgement, per message). The figure is the number of events divided by the time
from the first publish to the consumer having applied and acknowledged the last one.

Run standalone (starts its own nats-server on a free port unless ``--url`` is given)::

    PYTHONPATH=src python bench/nats_ingest.py --events 2000000

The last line printed is one JSON object (``nats_events_per_s`` and the parameters).
``bench/ingest.py`` calls :func:`measure_nats_events_per_s` with its own event stream.
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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from riskstream.bus import BusConfig, CheckpointedConsumer, MemoryCheckpointStore, open_bus
from riskstream.core.events import EVENT_DTYPE, EventKind, empty_events


class _Counts:
    """The consumer's state: events and size applied per instrument (checkpointable)."""

    def __init__(self, n_instruments: int):
        self.events = np.zeros(n_instruments, dtype=np.int64)

    def apply(self, events: np.ndarray) -> None:
        self.events += np.bincount(events["instrument_id"], minlength=len(self.events))

    def state(self) -> dict[str, np.ndarray]:
        return {"events": self.events}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.events[:] = state["events"]


def _consume(config: dict, n_instruments: int, expected: int, ready, done) -> None:
    bus = open_bus(BusConfig(**config))
    counts = _Counts(n_instruments)
    consumer = CheckpointedConsumer(
        bus, "bench", counts, counts.apply, MemoryCheckpointStore(), max_messages=64
    )
    consumer.consumer  # create the durable consumers before the publisher starts  # noqa: B018
    ready.set()
    stats = consumer.run(until=lambda: counts.events.sum() >= expected, idle_timeout_s=60)
    done.put({"t_done": time.monotonic(), "applied": int(counts.events.sum()), **vars(stats)})
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


def measure_nats_events_per_s(
    events: np.ndarray,
    url: str | None = None,
    partitions: int = 4,
    batch_rows: int = 65_536,
    stream: str = "RSBENCH",
) -> dict:
    """Events/s from publish to acknowledged consumption through NATS JetStream.

    Parameters
    ----------
    events : ndarray of EVENT_DTYPE, shape (n,)
        The events to push (e.g. from the market simulator).
    url : str, optional
        A running nats-server with JetStream; by default one is started for the run.
    partitions : int
        Partitions (subjects/streams) of the bus.
    batch_rows : int
        Events per publish call.
    stream : str
        Stream name prefix (deleted before and after the run).

    Returns
    -------
    dict
        ``nats_events_per_s`` (end to end), ``nats_publish_events_per_s`` (publisher
        side alone), counts and parameters.
    """
    if events.dtype != EVENT_DTYPE:
        raise TypeError(f"expected EVENT_DTYPE events, got {events.dtype}")
    if url is None:
        with nats_server() as started:
            return measure_nats_events_per_s(events, started, partitions, batch_rows, stream)
    config = {"url": url, "stream": stream, "partitions": partitions}
    publisher = open_bus(BusConfig(**config))
    publisher.delete_streams()
    publisher.close()
    publisher = open_bus(BusConfig(**config))
    n_instruments = int(events["instrument_id"].max()) + 1
    ctx = mp.get_context("spawn")
    ready, done = ctx.Event(), ctx.Queue()
    worker = ctx.Process(target=_consume, args=(config, n_instruments, len(events), ready, done))
    worker.start()
    try:
        if not ready.wait(60):
            raise TimeoutError("the consumer process did not start")
        t0 = time.monotonic()
        messages = 0
        for start in range(0, len(events), batch_rows):
            messages += publisher.publish(events[start : start + batch_rows]).messages
        t_published = time.monotonic()
        result = done.get(timeout=600)
        worker.join(timeout=30)
    finally:
        if worker.is_alive():
            worker.kill()
        publisher.delete_streams()
        publisher.close()
    elapsed = result["t_done"] - t0
    return {
        "nats_events_per_s": round(len(events) / elapsed, 1),
        "nats_publish_events_per_s": round(len(events) / (t_published - t0), 1),
        "nats_events": len(events),
        "nats_applied": result["applied"],
        "nats_messages": messages,
        "nats_partitions": partitions,
        "nats_elapsed_s": round(elapsed, 3),
        "nats_checkpoints": result["checkpoints"],
    }


def synthetic_events(n: int, n_instruments: int = 10_000, seed: int = 7) -> np.ndarray:
    """A realistic-sized stream for standalone runs: random instruments, quotes and trades."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    events = synthetic_events(args.events, args.instruments)
    result = measure_nats_events_per_s(events, args.url, args.partitions, args.batch_rows)
    result.update(
        {
            "instruments": args.instruments,
            "batch_rows": args.batch_rows,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
