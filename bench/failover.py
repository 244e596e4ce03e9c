"""Benchmark: hot standby of the risk stage — kill -9 of the primary under load.

Processes, all on one machine, talking only through a real NATS JetStream server:

* **feed** (a child process): the market simulator at its default event rate, paced by the
  wall clock, through the md stage (books, features, market state); every
  ``--delta-ms`` of wall time it publishes the rows md updated as a ``MarketStateDelta``
  (``md.delta``, one sequence number per delta, id ``md.<seq>``).
* **risk primary** and **risk standby** (two child processes of this script, identical):
  each builds a real :class:`~riskstream.risk.engine.RiskEngine` on a ``MarketState`` of
  its own, reads every delta from the first, applies it, refreshes every
  ``risk.snapshot_interval_ms`` of wall time and publishes the ``RiskSnapshot`` through
  :class:`riskstream.runtime.standby.LeaderTopics` (lease in NATS KV, ``--ttl`` s): both
  compute, only the leader's snapshots are stored.
* **this process**: reads every snapshot stored on ``risk.snapshot`` as a consumer would,
  and after ``--kill-after`` s sends SIGKILL to the primary.

The risk node is the bench's own (a delta reader + ``RiskEngine.refresh`` on wall time), as
the runtime's ``riskstream run --stage risk`` node was not on main when this was written;
the standby mechanism (lease, ``LeaderTopics``) is the one a stage runs.

Figures (last line, JSON):

* ``rto_s``: from the kill (after ``waitpid``: the primary can store nothing more) to the
  consumer's receipt of the first snapshot stored after it.
* ``lost_snapshots``: snapshot sequence numbers the consumer never received (holes), plus
  snapshots reflecting older input than the one before them (as-of time, then largest
  market sequence number read): a stale one published by the new leader hides newer state.
* ``duplicated_snapshots``: lineage ids received twice.
* ``lost_events`` / ``duplicated_events``: market events the feed published that the final
  leader's state did not fold in / folded twice (each delta counts its events; a delta
  applied twice or skipped changes the sums), and ``final_state_matches``: the last
  snapshot's ``market_seq_digest`` equals the digest of the feed's own market state.
* ``events_per_s``: market events md took in over the feed's wall time (``feed_wall_s``;
  paced by the wall clock, it stretches when the machine cannot keep up), and
  ``catch_up_s``: from the feed's end to the receipt of the snapshot of its final state
  (how far behind the new primary ran).
* ``max_gap_s``: the longest wall time between two consecutive snapshots received (the
  outage as a consumer lives it); ``max_asof_gap_s``: the longest market time between two
  consecutive snapshots' as-of times (the standby's backlog fills the outage: no stretch of
  market time goes unreported).

Run (starts its own nats-server unless ``--url`` is given)::

    PYTHONPATH=src python bench/failover.py --seconds 30 --kill-after 12
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from nats_ingest import nats_server  # noqa: E402  (one throw-away server helper for benches)
from riskstream.bus import BusConfig, open_topics  # noqa: E402
from riskstream.core.messages import SUBJECTS, MarketStateDelta  # noqa: E402

MARKET, SNAPSHOT = SUBJECTS["market"], SUBJECTS["snapshot"]
END = "bench.end"  # the feed's totals, published after its last delta


def _digest(*arrays: np.ndarray) -> str:
    """The engine's digest of the market state's sequence numbers (``market_seq_digest``)."""
    import hashlib

    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _universe(args: argparse.Namespace) -> Any:
    from riskstream.feeds.config import UniverseConfig
    from riskstream.feeds.universe import generate_universe

    return generate_universe(UniverseConfig(instruments=args.instruments, seed=args.seed))


# ------------------------------------------------------------------------------ feed


def run_feed(args: argparse.Namespace) -> None:
    """Simulator → md → one MarketStateDelta per ``delta_ms`` of wall time (see module doc)."""
    from riskstream.core.state import MarketState
    from riskstream.feeds.config import SimulatorConfig
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.md.config import MdConfig
    from riskstream.md.stage import MdStage

    universe = _universe(args)
    topics = open_topics(BusConfig(url=args.url))
    state = MarketState(len(universe))
    md = MdStage(len(universe), MdConfig(), state)
    simulator = MarketSimulator(universe, SimulatorConfig())
    columns = [n for n in state.arrays() if n != "updated"]
    seq, events, pending = 0, 0, 0
    print("ready", flush=True)
    start = time.monotonic()
    next_delta = start + args.delta_ms / 1e3
    for batch, now_ns in simulator.batches(args.seconds):
        md.on_batch(batch, now_ns)
        pending += len(batch)
        # pace by the wall clock: simulated time never runs ahead of it
        ahead = (now_ns - simulator.start_ns) / 1e9 - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
        if time.monotonic() >= next_delta:
            seq += 1
            ids = state.take_updated().astype(np.int64)
            delta = MarketStateDelta(
                seq, int(now_ns), ids, {c: getattr(state, c)[ids] for c in columns}, pending
            )
            topics.publish(MARKET, delta, f"md.{seq}")
            events, pending = events + pending, 0
            next_delta += args.delta_ms / 1e3
    seq += 1
    ids = state.take_updated().astype(np.int64)
    topics.publish(
        MARKET,
        MarketStateDelta(
            seq, int(now_ns), ids, {c: getattr(state, c)[ids] for c in columns}, pending
        ),
        f"md.{seq}",
    )
    events += pending
    totals = {"deltas": seq, "events": events, "digest": _digest(state.seq)}
    topics.publish(END, {**totals, "wall_s": time.monotonic() - start})
    topics.close()


# ------------------------------------------------------------------------------ risk


class MarketClock:
    """The engine's clock: the market time of the newest delta applied."""

    def __init__(self, start_ns: int):
        self.now = int(start_ns)

    def now_ns(self) -> int:
        return self.now


def run_risk(args: argparse.Namespace) -> None:
    """One member of the pair (see module doc); prints its counts as JSON at SIGTERM."""
    from riskstream.cli.engine import build_engine, simulated_history
    from riskstream.core.state import MarketState
    from riskstream.risk.config import RiskConfig
    from riskstream.runtime.standby import open_standby

    universe = _universe(args)
    config = RiskConfig(n_scenarios=args.scenarios)
    state = MarketState(len(universe))
    history = simulated_history(universe, config.window_days + max(config.horizons_days), args.seed)
    engine = build_engine(universe, config, history=history, market=state)
    clock = MarketClock(engine.clock.now_ns())
    engine.clock = clock
    engine.refresh()  # compile and build grids before joining the pair
    bus = BusConfig(url=args.url)
    topics = open_topics(bus)
    standby = open_standby(topics, bus, "risk", ttl_s=args.ttl, holder=args.name)
    reader = topics.subscribe(MARKET, start_after=0)
    interval_s = config.snapshot_interval_ms / 1e3
    counts = {"deltas": 0, "events": 0, "delta_gaps": 0, "delta_duplicates": 0, "refreshes": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    last, next_refresh, changed = 0, time.monotonic(), False
    while not stop:
        for _seq, delta in reader.fetch(256, timeout_s=min(interval_s, 0.02)):
            if delta.seq <= last:
                counts["delta_duplicates"] += 1
                continue
            if delta.seq != last + 1:
                counts["delta_gaps"] += 1
            last = delta.seq
            for name, values in delta.columns.items():
                getattr(state, name)[delta.instrument_id] = values
            state.updated[delta.instrument_id] = True
            clock.now = int(delta.ts_ns)  # market time of the newest delta
            counts["deltas"] += 1
            counts["events"] += delta.events
            changed = True
        if changed and time.monotonic() >= next_refresh:
            next_refresh = max(next_refresh + interval_s, time.monotonic())
            standby.topics.publish(SNAPSHOT, engine.refresh())
            counts["refreshes"] += 1
            changed = False
    lt = standby.topics
    counts.update(
        {
            "name": args.name,
            "published": lt.published,
            "suppressed": lt.suppressed,
            "stale": lt.stale,
            "took_over_at": lt.took_over_at,
            "takeovers": standby.lease.takeovers,
        }
    )
    print(json.dumps(counts), flush=True)
    standby.close()
    topics.close()


# ------------------------------------------------------------------------------ driver


def _child(role: str, args: argparse.Namespace, name: str = "") -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--role", role, "--url", args.url]
    cmd += ["--name", name, "--seconds", str(args.seconds), "--ttl", str(args.ttl)]
    cmd += ["--instruments", str(args.instruments), "--scenarios", str(args.scenarios)]
    cmd += ["--seed", str(args.seed), "--delta-ms", str(args.delta_ms)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ))


def _ready(proc: subprocess.Popen, what: str) -> None:
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"{what} did not start (said {line!r})")


def drive(args: argparse.Namespace) -> dict[str, Any]:
    from riskstream.bus.lease import Lease, NatsLeaseStore

    bus = BusConfig(url=args.url)
    topics = open_topics(bus)
    reader = topics.subscribe(SNAPSHOT, start_after=0)
    started = time.monotonic()
    primary = _child("risk", args, "primary")
    _ready(primary, "the primary")
    watcher = Lease(NatsLeaseStore(args.url, bucket=f"{bus.stream}_LEASES"), "risk")
    while watcher.holder_of() != "primary":
        time.sleep(0.05)
    watcher.store.close()
    standby = _child("risk", args, "standby")
    _ready(standby, "the standby")
    build_s = time.monotonic() - started
    feed = _child("feed", args)
    _ready(feed, "the feed")

    got: list[tuple[float, int, Any]] = []  # (receipt, seq, snapshot)
    kill_at = time.monotonic() + args.kill_after
    killed_at, seq_at_kill = None, None
    end, end_at = None, 0.0
    end_reader = topics.subscribe(END, start_after=0)
    while True:
        for seq, snap in reader.fetch(64, timeout_s=0.05):
            got.append((time.monotonic(), seq, snap))
        if killed_at is None and time.monotonic() >= kill_at:
            primary.send_signal(signal.SIGKILL)
            primary.wait()
            killed_at = time.monotonic()
            seq_at_kill = topics.last_seq(SNAPSHOT)
        if end is None:
            done = end_reader.fetch(1)
            end = done[0][1] if done else None
            end_at = time.monotonic()
        elif got and got[-1][2].market_seq_digest == end["digest"]:
            break  # the standby has published the final state
        elif time.monotonic() - end_at > 300:
            break  # the standby never caught up: final_state_matches says so
    feed.wait(30)
    standby.send_signal(signal.SIGTERM)
    out, _ = standby.communicate(timeout=60)
    counts = json.loads(out.strip().splitlines()[-1])
    topics.close()

    seqs = [seq for _, seq, _ in got]
    holes = (seqs[-1] - seqs[0] + 1 - len(seqs)) + (seqs[0] - 1) if seqs else 0
    ts = [snap.ts_ns for _, _, snap in got]
    # a snapshot reflects older input than its predecessor when its (as-of time, largest
    # market sequence number read) is smaller; equal as-of times are legitimate (several
    # deltas can carry the same newest event time, e.g. the opening snapshot's batches)
    inputs = [(snap.ts_ns, snap.market_seq_max) for _, _, snap in got]
    not_newer = sum(1 for a, b in itertools.pairwise(inputs) if b < a)
    anomalies = [
        {"seq": (s0, s1), "inputs": (i0, i1)}
        for (_, s0, _), (_, s1, _), i0, i1 in zip(got, got[1:], inputs, inputs[1:], strict=False)
        if s1 != s0 + 1 or i1 < i0
    ]
    lineages = [snap.lineage_id for _, _, snap in got]
    after = [t for t, seq, _ in got if seq_at_kill is not None and seq > seq_at_kill]
    receipts = np.array([t for t, _, _ in got])
    return {
        "benchmark": "failover",
        "rto_s": round(after[0] - killed_at, 3) if after and killed_at else None,
        "lost_snapshots": int(holes + not_newer),
        "duplicated_snapshots": len(lineages) - len(set(lineages)),
        "snapshot_holes": int(holes),
        "snapshots_not_newer": int(not_newer),
        "anomalies": anomalies[:5],
        "lost_events": int(end["events"] - counts["events"]),
        "duplicated_events": int(counts["delta_duplicates"]),
        "final_state_matches": bool(got) and got[-1][2].market_seq_digest == end["digest"],
        "snapshots": len(got),
        "snapshots_before_kill": sum(1 for _, seq, _ in got if seq <= (seq_at_kill or 0)),
        "snapshots_by_standby": counts["published"],
        "standby_stale_dropped": counts["stale"],
        "max_gap_s": round(float(np.diff(receipts).max()), 3) if receipts.size > 1 else None,
        "max_asof_gap_s": round(float(np.diff(ts).max()) / 1e9, 3) if len(ts) > 1 else None,
        "events": int(end["events"]),
        "events_per_s": round(end["events"] / end["wall_s"]),
        "feed_wall_s": round(end["wall_s"], 1),
        "catch_up_s": round(max(got[-1][0] - end_at, 0.0), 2) if got else None,
        "deltas": int(end["deltas"]),
        "instruments": args.instruments,
        "scenarios": args.scenarios,
        "lease_ttl_s": args.ttl,
        "kill_after_s": args.kill_after,
        "seconds": args.seconds,
        "build_s": round(build_s, 1),
        "bus": "nats",
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=["drive", "feed", "risk"], default="drive")
    parser.add_argument("--url", default=None)
    parser.add_argument("--name", default="")
    parser.add_argument("--seconds", type=float, default=30.0, help="simulated = wall seconds")
    parser.add_argument("--kill-after", type=float, default=12.0)
    parser.add_argument("--ttl", type=float, default=2.0, help="lease time to live (s)")
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--delta-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.role == "feed":
        run_feed(args)
    elif args.role == "risk":
        run_risk(args)
    elif args.url:
        print(json.dumps(drive(args)))
    else:
        with nats_server() as url:
            args.url = url
            print(json.dumps(drive(args)))


if __name__ == "__main__":
    main()
