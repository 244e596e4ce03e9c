"""Profile: where md's thread spends its time over NATS (cProfile).

Publishes ``--events`` simulated events (the reference-sized generated universe,
``--instruments`` default 10,000; feed ticks of ``--tick-events`` events, as the e2e feed
makes them at 500,000 events/s and a 10 ms tick) to a nats-server started here (as
``tests/servers.py`` does; ``--url`` uses a running one), then runs :class:`MdNode` — the
code ``riskstream run --stage md`` runs: the durable checkpointed consumer of every
partition, deltas over JetStream topics, settings at their defaults — under cProfile until
it has applied them all (kernels compiled first, outside the profile). Prints the top
functions by own and cumulative time, then, as the last line, one JSON object: md's rate
while catching up and the share of its thread's time in each part (``kernel``: the numba
book and feature kernel; ``around_kernel``: the Python around it; ``fetch``: waiting for
the NATS fetch; ``publish_deltas``; ``latency_histogram``).

Run::

    PYTHONPATH=src python bench/md_profile.py
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from riskstream.bus import BusConfig, FileCheckpointStore, open_bus, open_topics
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md.config import MdConfig
from riskstream.runtime.config import RuntimeConfig
from riskstream.runtime.md import MdNode, warm_up

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nats_ingest import nats_server  # the bench folder's shared helper

PARTS = {  # (file suffix, function name) whose cumulative time makes each share
    "kernel": ("md/engine.py", "_process"),
    "md_process": ("md/engine.py", "process"),
    "fetch": ("bus/nats.py", "fetch"),
    "fetch_read_ahead": ("bus/nats.py", "result"),  # waiting for the fetch sent ahead
    "publish_deltas": ("runtime/md.py", "publish_delta"),
    "latency_histogram": ("runtime/latency.py", "add"),
}


def profile(url: str, args: argparse.Namespace) -> dict:
    cfg = BusConfig(url=url, stream="MDPROFILE")
    bus, topics = open_bus(cfg), open_topics(cfg)
    try:
        bus.delete_streams()  # a running server (--url) may hold an earlier run's events
        bus.close()
        bus = open_bus(cfg)
        universe = generate_universe(UniverseConfig(instruments=args.instruments))
        simulator = MarketSimulator(universe, SimulatorConfig(batch_events=args.tick_events))
        published = 0
        while published < args.events:
            batch = simulator.next_batch()
            batch["ts_recv"] = time.time_ns()
            bus.publish(batch)
            published += len(batch)
        warm_up(MdConfig())
        store = FileCheckpointStore(Path(tempfile.mkdtemp(prefix="rs-md-profile-")) / "md.npz")
        runtime = RuntimeConfig(md_read_ahead=args.read_ahead == "on")
        md = MdNode(len(universe), MdConfig(), runtime, bus, topics, store)
        profiler = cProfile.Profile()
        started, cpu0 = time.perf_counter(), time.process_time()
        profiler.enable()
        while md.stage.events < published:
            md.step()
        profiler.disable()
        took = time.perf_counter() - started
        process_cpu = time.process_time() - cpu0
        loop = md.profile.summary()
        md.close()
    finally:
        topics.close()
        bus.close()
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(key).print_stats(20)
        print(text.getvalue())
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cumulative = {}
    for name, (suffix, function) in PARTS.items():
        cumulative[name] = sum(
            row[3]
            for (path, _, func), row in stats.items()
            if path.endswith(suffix) and func == function
        )
    shares = {
        "kernel": cumulative["kernel"],
        "around_kernel": cumulative["md_process"] - cumulative["kernel"],
        "fetch": cumulative["fetch"] + cumulative["fetch_read_ahead"],
        "publish_deltas": cumulative["publish_deltas"],
        "latency_histogram": cumulative["latency_histogram"],
    }
    return {
        "bench": "md_profile",
        "instruments": args.instruments,
        "events": published,
        "md_events_per_s_catching_up": round(published / took),
        "md_read_ahead": args.read_ahead,
        "share_of_md_thread": {k: round(v / took, 3) for k, v in shares.items()},
        # md's own loop profile (wall and thread-CPU seconds per second, by phase; the
        # process's CPU includes the NATS client's thread)
        "md_loop_wall_per_s": {k: round(v / took, 3) for k, v in loop["wall_s"].items()},
        "md_loop_cpu_per_s": {k: round(v / took, 3) for k, v in loop["cpu_s"].items()},
        "md_process_cpu_per_s": round(process_cpu / took, 3),
        "md_process_cpu_us_per_event": round(process_cpu / published * 1e6, 3),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--tick-events", type=int, default=5_000)
    parser.add_argument("--url", default=None, help="a running nats-server (default: start one)")
    parser.add_argument(
        "--read-ahead", default="on", choices=("on", "off"), help="runtime.md_read_ahead"
    )
    args = parser.parse_args()
    if args.url:
        out = profile(args.url, args)
    else:
        with nats_server() as url:
            out = profile(url, args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
