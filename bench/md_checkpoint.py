"""Benchmark: md's checkpoint — how long it stalls md's consuming thread, three ways.

md checkpoints its whole state (books with the order table, sequencers, features, market
state) every ``runtime.checkpoint_s``. This bench builds that state as md holds it after
``--events`` simulated events over the reference-sized universe (``--instruments``,
default 10,000; ``MdConfig()`` defaults), then checkpoints it ``--rounds`` times each way:

* ``sync``: ``MdStage.state()`` (copies) and ``FileCheckpointStore.save`` on the consuming
  thread — what md did before (the bus is acknowledged after it);
* ``copy``: ``FileCheckpointStore(snapshot="copy").begin_save`` (md's default): the
  arrays copied on the thread (as bytes, into the buffers of the previous save), written
  by a thread;
* ``fork``: ``FileCheckpointStore(snapshot="fork").begin_save``: a forked child writes its
  copy-on-write image.

For each: ``stall_ms`` (the consuming thread's time in the checkpoint call: what delays
every event arriving meanwhile), ``save_s`` (until the file is in place, i.e. until md may
acknowledge the bus), and what the save costs the thread while it runs in the
background: md keeps applying simulated batches of ``--batch`` events (the size of one bus
message at 500,000 events/s and a 10 ms feed tick is ~1,250) and the bench reports its
rate against the rate with no save running (``apply_rate_during_save``, a ratio) and the
slowest batch (``worst_batch_ms``: copy-on-write page faults land there). Files are
written with ``fsync`` to ``--dir`` (default a temporary folder).

Run::

    PYTHONPATH=src python bench/md_checkpoint.py

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from riskstream.bus.checkpoint import Checkpoint, FileCheckpointStore
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md.config import MdConfig
from riskstream.md.stage import MdStage


class Batches:
    """The simulated market's next events (after those the state was built from) in
    batches of ``size``, generated ahead so the timed loops only apply."""

    def __init__(self, simulator: MarketSimulator, size: int, blocks: int):
        self.simulator, self.size, self.blocks = simulator, size, blocks
        self.items: list[np.ndarray] = []
        self.i = 0
        self._generate()

    def _generate(self) -> None:
        events = np.concatenate([self.simulator.next_batch() for _ in range(self.blocks)])
        self.items = [events[i : i + self.size] for i in range(0, len(events), self.size)]
        self.i = 0

    def apply(self, stage: MdStage) -> float:
        """Apply the next batch; its wall time (s)."""
        if self.i == len(self.items):  # run out: more, generated outside the timing
            self._generate()
        events = self.items[self.i]
        self.i += 1
        started = time.perf_counter()
        stage.on_batch(events, int(events["ts_event"][-1]))
        return time.perf_counter() - started


def baseline_rate(stage: MdStage, batches: Batches, n: int) -> tuple[float, float]:
    times = [batches.apply(stage) for _ in range(n)]
    return n * batches.size / sum(times), max(times)


def one_round(
    way: str, stage: MdStage, batches: Batches, store: FileCheckpointStore
) -> dict[str, Any]:
    positions = {0: stage.batches}
    started = time.perf_counter()
    cpu = time.thread_time()
    if way == "sync":
        store.save(Checkpoint(positions, stage.state()))
        stall = time.perf_counter() - started
        return {"stall_ms": stall * 1e3, "stall_cpu_ms": (time.thread_time() - cpu) * 1e3,
                "save_s": stall}  # fmt: skip
    pending = store.begin_save(positions, stage)
    stall = time.perf_counter() - started
    stall_cpu = time.thread_time() - cpu
    times = []
    while not pending.done():
        times.append(batches.apply(stage))
    save = time.perf_counter() - started
    return {
        "stall_ms": stall * 1e3,
        "stall_cpu_ms": stall_cpu * 1e3,
        "save_s": save,
        "rate": len(times) * batches.size / sum(times) if times else float("nan"),
        "worst_batch_s": max(times, default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--batch", type=int, default=1_250)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    universe = generate_universe(UniverseConfig(instruments=args.instruments))
    build = MarketSimulator(universe, SimulatorConfig(batch_events=65_536))
    stage = MdStage(len(universe), MdConfig())
    t0 = time.perf_counter()
    while stage.events < args.events:
        events = build.next_batch()
        stage.on_batch(events, int(events["ts_event"][-1]))
    print(f"state built: {stage.events:,} events in {time.perf_counter() - t0:.1f} s")
    batches = Batches(build, args.batch, 6)
    state_mb = sum(a.nbytes for a in stage.state_views().values()) / 1e6
    rate0, worst0 = baseline_rate(stage, batches, 200)
    print(
        f"state {state_mb:.0f} MB; apply {rate0:,.0f} events/s, worst batch {worst0 * 1e3:.1f} ms"
    )

    folder = Path(args.dir or tempfile.mkdtemp(prefix="rs-md-ckpt-"))
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "bench": "md_checkpoint",
        "instruments": args.instruments,
        "events": stage.events,
        "state_mb": round(state_mb, 1),
        "apply_events_per_s": round(rate0),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    for way in ("sync", "copy", "fork"):
        # one store per way across the rounds, as md holds one for its life (copy mode
        # copies into the previous save's arrays: the first round faults its memory in)
        store = FileCheckpointStore(
            folder / f"{way}.npz",
            snapshot=None if way == "sync" else way,  # type: ignore[arg-type]
        )
        rounds = [one_round(way, stage, batches, store) for _ in range(args.rounds)]
        stall = [r["stall_ms"] for r in rounds]
        out[f"{way}_stall_ms"] = round(float(np.median(stall)), 1)
        out[f"{way}_stall_max_ms"] = round(max(stall), 1)
        out[f"{way}_stall_cpu_ms"] = round(float(np.median([r["stall_cpu_ms"] for r in rounds])), 1)
        out[f"{way}_save_s"] = round(float(np.median([r["save_s"] for r in rounds])), 3)
        if way != "sync":
            rates = [r["rate"] for r in rounds if np.isfinite(r["rate"])]
            out[f"{way}_apply_rate_during_save"] = (
                round(float(np.median(rates)) / rate0, 3) if rates else None
            )
            out[f"{way}_worst_batch_ms"] = round(max(r["worst_batch_s"] for r in rounds) * 1e3, 1)
        print(way, {k: v for k, v in out.items() if k.startswith(way)}, flush=True)
    for leftover in folder.glob("*.npz"):
        leftover.unlink()
    out["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
