"""Benchmark: hot standby of the runtime's risk and limits nodes — kill -9 of each primary
under load, the stages as processes over a real NATS JetStream server.

Processes (each a ``riskstream run --stage NAME`` of the runtime, as ``riskstream up
--standby`` starts them; nothing bench-specific runs in them):

* ``feed`` (the simulator, paced by the wall clock, for ``--seconds`` of market time:
  ``runtime.feed_seconds``), ``md``, ``positions`` (the keeper);
* ``risk-a`` and ``risk-b``: :class:`~riskstream.runtime.risk.RiskNode` with ``--replica``
  (lease in NATS KV, ``runtime.standby_ttl_s``); both compute, only the leader publishes;
* ``limits-a`` and ``limits-b``: :class:`~riskstream.runtime.limits.LimitsNode`, the same.
  A firm VaR limit stored below the book's VaR (``--limit-fraction`` of it) keeps the
  limits reducing, so reduction orders are in flight when the limits primary dies.

This process reads what a consumer reads (every snapshot, limit state and fill stored), and
after ``--kill-after`` s sends SIGKILL to whichever risk member leads, and ``--limits-kill-
after`` s to whichever limits member leads. Nothing restarts them (the survivor carries on).

Figures (last line, JSON):

* ``rto_s``: the last snapshot received before the kill → the first snapshot stored by the
  new primary (receipt times in this process). ``limits_rto_s``: the same for LimitState.
* ``lost_snapshots``: snapshot sequence numbers never received (holes), plus snapshots
  reflecting older input than the one before them (as-of time, largest market sequence
  number): a stale one would hide newer state. ``duplicated_snapshots``: lineage ids
  received twice.
* ``lost_events`` / ``duplicated_events``: events the feed published that md's books do not
  hold / hold twice (feed_events vs md_events from their last StageStats), with
  ``final_state_matches``: the last snapshot's ``market_seq_digest`` equals that of md's
  final market state (rebuilt here from every delta): the new primary's snapshot reflects
  every event once.
* ``duplicated_orders``: reduction order ids stored twice on the fills subject, plus fills
  the keeper applied more often than there are distinct order ids (its journal refuses a
  repeated id: ``keeper_refused_duplicates`` counts those it refused).

Run (starts its own nats-server unless ``--url`` is given)::

    PYTHONPATH=src python bench/failover.py --seconds 40 --kill-after 15 --limits-kill-after 25
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from nats_ingest import nats_server  # noqa: E402  (one throw-away server helper for benches)
from riskstream.bus import BusConfig, open_topics  # noqa: E402
from riskstream.core.messages import SUBJECTS  # noqa: E402

SRC = HERE.parent / "src"


def stage_env(data_dir: Path, url: str, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKSTREAM_")}
    env.update(
        RISKSTREAM_STORE__DATA_DIR=str(data_dir),
        RISKSTREAM_BUS__URL=url,
        RISKSTREAM_UNIVERSE__INSTRUMENTS=str(args.instruments),
        RISKSTREAM_RISK__N_SCENARIOS=str(args.scenarios),
        RISKSTREAM_RUNTIME__FEED_SECONDS=str(args.seconds),
        RISKSTREAM_RUNTIME__STANDBY_TTL_S=str(args.ttl),
        RISKSTREAM_RUNTIME__CHECKPOINT_S="5",
        RISKSTREAM_LIMITS__SCHEDULE_HORIZON_S="20",  # orders keep flowing through a kill
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    )
    return env


def prepare(env: dict[str, str], limit_fraction: float) -> float:
    """The universe (made once, before the stages race to), and a firm VaR limit stored at
    ``limit_fraction`` of the book's VaR; the VaR it was sized on."""
    old = dict(os.environ)
    os.environ.update(env)
    try:
        from riskstream.cli.engine import build_engine, load_history
        from riskstream.cli.universe import ensure_universe, open_refdb
        from riskstream.core.config import load_config
        from riskstream.limits.model import Actor, LimitDefinition, Role
        from riskstream.limits.registry import LimitRegistry
        from riskstream.settings import Settings
        from riskstream.store.limits_repo import LimitRepository

        cfg = load_config(Settings, None)
        universe = ensure_universe(cfg)
        var = build_engine(universe, cfg.risk, history=load_history(cfg)).refresh().headline.var
        limit = LimitDefinition(
            "firm", "firm", "var", 0.8 * limit_fraction * var, limit_fraction * var
        )
        LimitRegistry(LimitRepository(open_refdb(cfg))).set_limit(
            Actor("bench", Role.ADMIN), limit, "failover bench: keep the limits reducing"
        )
        return float(var)
    finally:
        os.environ.clear()
        os.environ.update(old)


def start(name: str, env: dict[str, str], logs: Path) -> subprocess.Popen:
    stage, _, replica = name.partition("-")
    argv = [sys.executable, "-m", "riskstream", "run", "--stage", stage]
    if replica:
        argv += ["--replica", name]
    out = (logs / f"{name}.log").open("wb")
    return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def _logged(logs: Path, name: str, text: str) -> bool:
    path = logs / f"{name}.log"
    return path.is_file() and text in path.read_text(errors="replace")


def _wait(what: str, ready, procs: dict[str, subprocess.Popen], logs: Path, s: float) -> None:
    deadline = time.monotonic() + s
    while not ready():
        for name, p in procs.items():
            if p.poll() is not None:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} died while waiting for {what}:\n{tail}")
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def leader(url: str, stream: str, role: str) -> str | None:
    from riskstream.bus.lease import Lease, NatsLeaseStore

    store = NatsLeaseStore(url, bucket=f"{stream}_LEASES")
    try:
        return Lease(store, role).holder_of()
    finally:
        store.close()


def drive(args: argparse.Namespace) -> dict[str, Any]:
    from riskstream.risk.positions_view import digest
    from riskstream.runtime.readers import DeltaReader

    work = Path(tempfile.mkdtemp(prefix="rs-failover-"))
    logs = work / "logs"
    logs.mkdir()
    env = stage_env(work / "data", args.url, args)
    started = time.monotonic()
    var = prepare(env, args.limit_fraction)
    bus = BusConfig(url=args.url)
    topics = open_topics(bus)
    subs = {
        k: topics.subscribe(SUBJECTS[k], start_after=0)
        for k in ("snapshot", "limits", "fills", "stats")
    }
    replica = DeltaReader(topics, args.instruments)  # md's market state, from every delta
    replica.sub.close()
    replica.sub = topics.subscribe(SUBJECTS["market"], start_after=0)
    procs: dict[str, subprocess.Popen] = {}
    stats: dict[str, Any] = {}

    def read_stats() -> None:
        for _, s in subs["stats"].fetch(1024, 0.0):
            stats[s.stage] = s

    try:
        for name in ("positions", "md", "risk-a", "limits-a"):
            procs[name] = start(name, env, logs)
        _wait(
            "the primaries",
            lambda: _logged(logs, "risk-a", "running as")
            and _logged(logs, "limits-a", "running as")
            and leader(args.url, bus.stream, "risk") == "risk-a"
            and leader(args.url, bus.stream, "limits") == "limits-a",
            procs, logs, 600,
        )  # fmt: skip
        for name in ("risk-b", "limits-b"):
            procs[name] = start(name, env, logs)
        _wait(
            "the standbys",
            lambda: all(_logged(logs, n, "running as") for n in ("risk-b", "limits-b")),
            procs, logs, 600,
        )  # fmt: skip
        build_s = time.monotonic() - started
        procs["feed"] = start("feed", env, logs)
        feed_started = time.monotonic()

        got: dict[str, list[tuple[float, int, Any]]] = {"snapshot": [], "limits": [], "fills": []}
        kills: dict[str, dict[str, Any]] = {}
        plan = {"risk": args.kill_after, "limits": args.limits_kill_after}
        done_at = None
        while True:
            for k in got:
                for seq, m in subs[k].fetch(256, 0.02):
                    got[k].append((time.monotonic(), seq, m))
            replica.read(0.0)
            read_stats()
            now = time.monotonic()
            for role, after in plan.items():
                if role not in kills and now - feed_started >= after:
                    victim = leader(args.url, bus.stream, role)
                    subject = "snapshot" if role == "risk" else "limits"
                    last_before = got[subject][-1][0] if got[subject] else None
                    procs[victim].send_signal(signal.SIGKILL)
                    procs[victim].wait()
                    kills[role] = {
                        "victim": victim,
                        "at": time.monotonic(),
                        "seq": topics.last_seq(SUBJECTS[subject]),
                        "last_before": last_before,
                    }
            feed = stats.get("feed")
            if done_at is None and feed is not None and feed.figures.get("feed_done"):
                done_at = now
            md = stats.get("md")
            md_done = (
                done_at is not None
                and md is not None
                and md.figures["md_events"] >= feed.figures["feed_events"]
            )
            if md_done and got["snapshot"]:
                final = digest(replica.state.seq)
                if got["snapshot"][-1][2].market_seq_digest == final and replica.caught_up():
                    break
                if now - done_at > args.catch_up_timeout:
                    break  # never caught up: final_state_matches says so
        time.sleep(2 * 1.0)  # the last StageStats of md and the keeper
        read_stats()
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(60)
            if p.poll() is None:
                p.kill()
        read_stats()
        topics.close()

    def rto(role: str, subject: str) -> float | None:
        kill = kills.get(role)
        if kill is None:
            return None
        after = [t for t, seq, _ in got[subject] if seq > kill["seq"]]
        start_s = kill["last_before"] or kill["at"]
        return round(after[0] - start_s, 3) if after else None

    snaps = got["snapshot"]
    seqs = [seq for _, seq, _ in snaps]
    holes = (seqs[-1] - seqs[0] + 1 - len(seqs)) + (seqs[0] - 1) if seqs else 0
    inputs = [(s.ts_ns, s.market_seq_max) for _, _, s in snaps]
    not_newer = sum(1 for a, b in itertools.pairwise(inputs) if b < a)
    lineages = [s.lineage_id for _, _, s in snaps]
    orders = Counter(f.order_id for _, _, f in got["fills"])
    md, feed, keeper = stats.get("md"), stats.get("feed"), stats.get("positions")
    fed = int(feed.figures["feed_events"]) if feed else 0
    held = int(md.figures.get("md_events", 0)) if md else 0
    applied = int(keeper.figures.get("position_fills_applied", 0)) if keeper else 0
    receipts = np.array([t for t, _, _ in snaps])
    shutil.rmtree(work, ignore_errors=True)
    return {
        "benchmark": "failover",
        "rto_s": rto("risk", "snapshot"),
        "lost_snapshots": int(holes + not_newer),
        "duplicated_snapshots": len(lineages) - len(set(lineages)),
        "lost_events": max(fed - held, 0),
        "duplicated_events": max(held - fed, 0),
        "final_state_matches": bool(snaps)
        and snaps[-1][2].market_seq_digest == digest(replica.state.seq),
        "limits_rto_s": rto("limits", "limits"),
        "lost_limit_states": int(
            sum(1 for a, b in itertools.pairwise([s for _, s, _ in got["limits"]]) if b != a + 1)
        ),
        "duplicated_orders": sum(n - 1 for n in orders.values()) + max(applied - len(orders), 0),
        "reduction_orders": len(orders),
        "keeper_fills_applied": applied,
        "keeper_refused_duplicates": int(keeper.figures.get("position_duplicates", 0))
        if keeper
        else None,
        "killed": {role: k["victim"] for role, k in kills.items()},
        "snapshots": len(snaps),
        "max_gap_s": round(float(np.diff(receipts).max()), 3) if receipts.size > 1 else None,
        "events": fed,
        "events_per_s": round(fed / max(args.seconds, 1e-9)),
        "instruments": args.instruments,
        "scenarios": args.scenarios,
        "firm_var_limit_fraction": args.limit_fraction,
        "var_at_start": round(var, 2),
        "lease_ttl_s": args.ttl,
        "seconds": args.seconds,
        "build_s": round(build_s, 1),
        "bus": "nats",
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--seconds", type=float, default=40.0, help="market = wall seconds fed")
    parser.add_argument("--kill-after", type=float, default=15.0, help="risk primary (s)")
    parser.add_argument("--limits-kill-after", type=float, default=25.0)
    parser.add_argument("--ttl", type=float, default=2.0, help="lease time to live (s)")
    parser.add_argument("--instruments", type=int, default=2_000)
    parser.add_argument("--scenarios", type=int, default=2_000)
    parser.add_argument("--limit-fraction", type=float, default=0.9)
    parser.add_argument("--catch-up-timeout", type=float, default=120.0)
    args = parser.parse_args()
    if args.url:
        print(json.dumps(drive(args)))
    else:
        with nats_server() as url:
            args.url = url
            print(json.dumps(drive(args)))


if __name__ == "__main__":
    main()
