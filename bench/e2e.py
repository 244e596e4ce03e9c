"""Benchmark: end-to-end latency per event with the stages as processes over NATS JetStream.

The path users run with ``riskstream up``: three ``riskstream run --stage`` processes
over a real nats-server (started here on a free port with ``-js``, as ``tests/servers.py``
does, unless ``--url`` is given):

* ``feed``: the market simulator over the reference universe (``--instruments``, default
  10,000) at ``--rate`` events per second of market time, paced by the wall clock (market
  time = wall time), published to the partitioned event bus; each event's ``ts_recv`` is
  the wall-clock time the feed takes it;
* ``md``: the durable checkpointed consumer of every partition into books and features,
  publishing market-state deltas every ``runtime.delta_interval_ms``;
* ``risk``: its own market state from the deltas, a snapshot every
  ``risk.snapshot_interval_ms`` of wall time (with the limits it hosts).

Everything at the settings' defaults except the universe size and the event rate. The
figures come from the stages' own per-event histograms (:mod:`riskstream.runtime.latency`,
published in their ``StageStats`` every second): the counts at the end of the timed window
less those at its start (after ``--warmup`` seconds), so start-up and compilation are out.

* ``tick_to_book``: per event, md's wall clock when its book and features are updated −
  its ``ts_recv``;
* ``tick_to_risk``: per event, the wall clock when the first snapshot computed after md's
  delta carrying it was published − its ``ts_recv`` (receipts travel with the deltas as a
  uniform sample of ``runtime.recv_samples`` per delta, each weighted by the events it
  stands for);
* ``events_per_s``: events the feed published in the window / its length;
  ``md_events_per_s``: events md applied in the window / its length (md keeps up when the
  two agree); ``feed_lag_p99_ms``: how late the feed itself published (the simulator not
  keeping up with the wall clock shows here);
* ``cpu_cores``: the CPU each process used over the window (user + system seconds per
  second of wall: 1.0 is a whole core) — feed, md, risk, the nats-server — and the whole
  machine's busy CPUs, so the figures say where the two cores went.

Percentiles are read from log buckets (20 per decade): within ±6%.

Run::

    PYTHONPATH=src python bench/e2e.py --seconds 30

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nats_ingest import nats_server  # the bench folder's shared helper

STREAM = "RSE2E"


def stage_env(args: argparse.Namespace, url: str, data_dir: Path) -> dict[str, str]:
    """The stages' settings: defaults, plus the universe size, event rate and bus."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKSTREAM_")}
    env.update(
        RISKSTREAM_STORE__DATA_DIR=str(data_dir),
        RISKSTREAM_UNIVERSE__INSTRUMENTS=str(args.instruments),
        # the simulator's session average (bench/soak.py states the rate at its start)
        RISKSTREAM_SIMULATOR__EVENTS_PER_S=str(getattr(args, "simulator_rate", None) or args.rate),
        RISKSTREAM_BUS__URL=url,
        RISKSTREAM_BUS__STREAM=STREAM,
        RISKSTREAM_RUNTIME__CHECKPOINT_MODE=args.checkpoint_mode,
        RISKSTREAM_RUNTIME__MD_READ_AHEAD=str(args.md_read_ahead == "on").lower(),
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"),
                                                 os.environ.get("PYTHONPATH")])),
    )  # fmt: skip
    env.update(getattr(args, "extra_env", None) or {})
    return env


def prepare(env: dict[str, str]) -> str:
    """The reference universe and its daily history, made once (reused across runs); the
    universe's as-of date (ISO)."""
    done = subprocess.run(
        [sys.executable, "-c",
         "from riskstream.settings import Settings\n"
         "from riskstream.core.config import load_config\n"
         "from riskstream.cli.universe import ensure_universe\n"
         "print(ensure_universe(load_config(Settings, None)).as_of)"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def session_start(as_of: str, tau: float) -> str:
    """The simulator's start at fraction ``tau`` of the trading session of ``as_of``.

    The simulator's event rate is a session average shaped by the intraday U (busiest at
    the open: 2.2x the average, 0.85x at midday, ~1.0x at 90% of the session); starting
    at ``tau`` = 0.9 makes the measured rate the stated one.
    """
    from riskstream.feeds.config import SimulatorConfig

    cfg = SimulatorConfig()
    open_ = dt.datetime.combine(dt.date.fromisoformat(as_of), cfg.session_open_utc)
    return (open_ + dt.timedelta(seconds=tau * cfg.session_s)).isoformat()


class Stats:
    """Every stage's StageStats as they arrive, by stage, with their arrival order."""

    def __init__(self, url: str):
        from riskstream.bus import BusConfig, open_topics
        from riskstream.core.messages import SUBJECTS

        self.topics = open_topics(BusConfig(url=url, stream=STREAM))
        self.sub = self.topics.subscribe(SUBJECTS["stats"], start_after=0)
        self.by_stage: dict[str, list[Any]] = {}

    def poll(self, timeout_s: float = 0.5) -> None:
        for _, stats in self.sub.fetch(1024, timeout_s):
            self.by_stage.setdefault(stats.stage, []).append(stats)

    def latest(self, stage: str) -> Any | None:
        got = self.by_stage.get(stage)
        return got[-1] if got else None

    def wait_for(self, stage: str, timeout_s: float, procs: dict[str, subprocess.Popen]) -> Any:
        deadline = time.monotonic() + timeout_s
        while self.latest(stage) is None:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"stage {name} exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"stage {stage} reported nothing in {timeout_s} s")
            self.poll()
        return self.latest(stage)

    def close(self) -> None:
        self.sub.close()
        self.topics.close()


@contextmanager
def stages(
    names: list[str], env: dict[str, str], log_dir: Path
) -> Iterator[dict[str, subprocess.Popen]]:
    """``riskstream run --stage`` processes (SIGTERM, then SIGKILL, at the end)."""
    procs: dict[str, subprocess.Popen] = {}
    logs = []
    try:
        for name in names:
            out = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed below
            logs.append(out)
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "riskstream", "run", "--stage", name],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for out in logs:
            out.close()


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process, MB (``VmRSS`` of ``/proc/<pid>/status``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of a process and of its children it has reaped (md's
    forked checkpoint writers), from ``/proc/<pid>/stat``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every CPU; ``/proc/stat``: user, nice,
    system, irq and softirq — not idle, I/O wait, time stolen by the hypervisor, or the
    guest fields, which user already counts)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(ticks[i] for i in (0, 1, 2, 5, 6)) / os.sysconf("SC_CLK_TCK")


def server_pid(url: str) -> int | None:
    """The pid of the nats-server listening on ``url``'s port (the bench's own, or a running
    one), found by its command line."""
    port = url.rsplit(":", 1)[-1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"nats-server") and port.encode() in argv:
            return int(cmdline.parent.name)
    return None


def cpu_now(pids: dict[str, int | None]) -> dict[str, float | None]:
    """CPU seconds so far of each named process and of the machine."""
    out: dict[str, float | None] = {n: None if p is None else cpu_s(p) for n, p in pids.items()}
    out["machine"] = machine_busy_s()
    return out


def window(first: Any, last: Any, key: str) -> np.ndarray:
    """A histogram's counts between two reports of the same stage run."""
    if first.started_ns != last.started_ns:
        raise RuntimeError(f"stage {last.stage} restarted during the window")
    return np.asarray(last.histograms[key]) - np.asarray(first.histograms[key])


def measure(t0: dict[str, Any], t1: dict[str, Any]) -> dict[str, Any]:
    """The figures of the window between two sets of reports (by stage)."""
    from riskstream.runtime.latency import percentile_s

    def pct(counts: np.ndarray, q: float, scale: float) -> float | None:
        v = percentile_s(counts, q)
        return None if v is None else round(v * scale, 3)

    f0, f1 = t0["feed"], t1["feed"]
    span_s = (f1.ts_ns - f0.ts_ns) / 1e9
    m0, m1 = t0["md"], t1["md"]
    md_span_s = (m1.ts_ns - m0.ts_ns) / 1e9
    book = window(m0, m1, "tick_to_book")
    risk = window(t0["risk"], t1["risk"], "tick_to_risk")
    lag = window(f0, f1, "feed_lag")
    r1 = t1["risk"].figures
    return {
        "events_per_s": round((f1.figures["feed_events"] - f0.figures["feed_events"]) / span_s),
        "md_events_per_s": round((m1.figures["md_events"] - m0.figures["md_events"]) / md_span_s),
        "tick_to_book_p50_us": pct(book, 50, 1e6),
        "tick_to_book_p99_us": pct(book, 99, 1e6),
        "tick_to_risk_p50_ms": pct(risk, 50, 1e3),
        "tick_to_risk_p99_ms": pct(risk, 99, 1e3),
        "tick_to_risk_events": round(float(risk.sum())),
        "feed_lag_p99_ms": pct(lag, 99, 1e3),
        "risk_snapshots": r1.get("risk_snapshots", 0) - t0["risk"].figures.get("risk_snapshots", 0),
        "md_checkpoints": (m1.figures.get("md_checkpoints") or 0)
        - (m0.figures.get("md_checkpoints") or 0),
        "md_checkpoint_stall_max_ms": m1.figures.get("md_checkpoint_stall_max_ms"),
        "md_checkpoint_save_ms": m1.figures.get("md_checkpoint_save_ms"),
        "risk_refresh_p50_ms": r1.get("risk_refresh_p50_ms"),
        "risk_refresh_p99_ms": r1.get("risk_refresh_p99_ms"),
        "window_s": round(span_s, 3),
        "md_grows": m1.figures.get("md_grows"),
        "md_loop": loop_window(m0.figures.get("md_loop"), m1.figures.get("md_loop"), md_span_s),
        "risk_loop": loop_window(
            t0["risk"].figures.get("risk_loop"), t1["risk"].figures.get("risk_loop"), span_s
        ),
    }


def loop_window(first: Any, last: Any, span_s: float) -> dict[str, Any] | None:
    """A node's :class:`~riskstream.runtime.latency.LoopProfile` over the window: each
    phase's wall and thread-CPU seconds per second of the window, the slow iterations by
    phase, the garbage collector's collections and pauses, the last slow iterations."""
    if not first or not last:
        return None

    def per_s(key: str) -> dict[str, float]:
        return {
            p: round((last[key][p] - first[key].get(p, 0.0)) / span_s, 4)
            for p in last[key]
            if last[key][p] - first[key].get(p, 0.0) > 0
        }

    slow = {
        p: n - first["slow_by_phase"].get(p, 0)
        for p, n in last["slow_by_phase"].items()
        if n - first["slow_by_phase"].get(p, 0)
    }
    gc0, gc1 = first["gc"], last["gc"]
    return {
        "iterations": last["iterations"] - first["iterations"],
        "slow": last["slow"] - first["slow"],
        "slow_by_phase": slow,
        "wall_per_s": per_s("wall_s"),
        "cpu_per_s": per_s("cpu_s"),
        "process_cpu_per_s": round((last["process_cpu_s"] - first["process_cpu_s"]) / span_s, 3),
        "gc_collections": [
            b - a for a, b in zip(gc0["collections"], gc1["collections"], strict=True)
        ],
        "gc_s": [round(b - a, 4) for a, b in zip(gc0["seconds"], gc1["seconds"], strict=True)],
        "gc_max_ms_since_start": gc1["max_ms"],
        "recent_slow": last["recent_slow"][-8:],
    }


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    data_dir = Path(args.data_dir or Path(tempfile.gettempdir()) / f"rs-e2e-{args.instruments}")
    data_dir.mkdir(parents=True, exist_ok=True)
    env = stage_env(args, url, data_dir)
    env["RISKSTREAM_SIMULATOR__START"] = session_start(prepare(env), args.session_tau)
    # a fresh bus: md's checkpoint of an earlier run would point past its (empty)
    # partitions; a folder of this run's own, so that two benches sharing the data folder
    # do not delete each other's checkpoints
    env["RISKSTREAM_RUNTIME__CHECKPOINT_DIR"] = tempfile.mkdtemp(prefix="rs-e2e-ckpt-")
    log_dir = Path(tempfile.mkdtemp(prefix="rs-e2e-logs-"))
    stats = Stats(url)
    consumers = ["risk", "md"]
    try:
        with stages(consumers, env, log_dir) as procs:
            for name in consumers:  # the engine build and md's compile happen before the clock
                stats.wait_for(name, args.start_timeout, procs)
            with stages(["feed"], env, log_dir) as feed:
                procs.update(feed)
                stats.wait_for("feed", args.start_timeout, procs)
                # md's kernels compile on its first batches, risk's first refreshes fault in
                # its arrays: the warm-up starts once both have done real work
                deadline = time.monotonic() + args.start_timeout
                while not (
                    (stats.latest("md").figures.get("md_events") or 0) > 0
                    and (stats.latest("risk").figures.get("risk_snapshots") or 0) >= 2
                ):
                    if time.monotonic() > deadline:
                        raise TimeoutError("md and risk did not start working")
                    stats.poll(0.5)
                rss: dict[str, list[tuple[float, float]]] = {n: [] for n in procs}
                # the CPU each process used over the window, in cores: where two cores go
                pids = {name: proc.pid for name, proc in procs.items()}
                pids["nats-server"] = server_pid(url)
                cpu: list[tuple[float, dict[str, float | None]]] = []
                started = time.monotonic()
                marks: list[dict[str, Any]] = []
                next_mark = started + args.warmup
                end = next_mark + args.seconds
                while time.monotonic() < end:
                    stats.poll(0.2)
                    for name, proc in procs.items():
                        if proc.poll() is not None:
                            raise RuntimeError(f"stage {name} died (code {proc.returncode})")
                    now = time.monotonic()
                    if now >= next_mark:
                        marks.append({n: stats.latest(n) for n in ("feed", "md", "risk")})
                        cpu.append((now, cpu_now(pids)))
                        for name, proc in procs.items():
                            mb = rss_mb(proc.pid)
                            if mb is not None:
                                rss[name].append((now - started, mb))
                        next_mark += args.mark_every or args.seconds
                stats.poll(1.0)
                marks.append({n: stats.latest(n) for n in ("feed", "md", "risk")})
                cpu.append((time.monotonic(), cpu_now(pids)))
    finally:
        stats.close()
        shutil.rmtree(env["RISKSTREAM_RUNTIME__CHECKPOINT_DIR"], ignore_errors=True)
    out = measure(marks[0], marks[-1])
    (t_first, first), (t_last, last) = cpu[0], cpu[-1]
    out["cpu_cores"] = {
        name: None if first[name] is None or last[name] is None
        else round((last[name] - first[name]) / (t_last - t_first), 3)
        for name in first
    }  # fmt: skip
    out["marks"] = marks
    out["rss"] = rss
    out["logs"] = str(log_dir)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    parser.add_argument("--seconds", type=float, default=30.0, help="timed window")
    args = parser.parse_args()
    result = with_server(args, run)
    result.pop("marks")
    rss = result.pop("rss")
    result = {
        "benchmark": "e2e",
        "bus": "nats",
        "path": "feed process -> NATS JetStream -> md process -> deltas over JetStream -> "
        "risk process -> snapshot",
        "instruments": args.instruments,
        "rate_target_events_per_s": args.rate,
        "md_checkpoint_mode": args.checkpoint_mode,
        "md_read_ahead": args.md_read_ahead,
        **result,
        "rss_mb": {k: round(v[-1][1], 1) for k, v in rss.items() if v},
        "target": "events_per_s >= 500000 and tick_to_risk_p99_ms < 200",
        "target_met": bool(
            result["events_per_s"] >= 500_000
            and result["md_events_per_s"] >= 0.99 * result["events_per_s"]
            and (result["tick_to_risk_p99_ms"] or 1e9) < 200
        ),
        "machine": machine(),
    }
    print(json.dumps(result))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500_000.0, help="events/s (market time)")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before the window")
    parser.add_argument("--start-timeout", type=float, default=600.0)
    parser.add_argument("--data-dir", default=None, help="universe and history (reused)")
    parser.add_argument("--url", default=None, help="a running nats-server (default: start one)")
    parser.add_argument(
        "--session-tau", type=float, default=0.9, help="start at this fraction of the session"
    )
    parser.add_argument("--mark-every", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--checkpoint-mode",
        default="copy",
        choices=("fork", "copy", "inline"),
        help="md's runtime.checkpoint_mode (default: the setting's default)",
    )
    parser.add_argument(
        "--md-read-ahead",
        default="on",
        choices=("on", "off"),
        help="md's runtime.md_read_ahead (default: the setting's default, on)",
    )


def with_server(args: argparse.Namespace, fn: Any) -> dict[str, Any]:
    if args.url is not None:
        return fn(args, args.url)
    with nats_server() as url:
        return fn(args, url)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "load_avg_5m": round(os.getloadavg()[1], 2),
    }


if __name__ == "__main__":
    main()
