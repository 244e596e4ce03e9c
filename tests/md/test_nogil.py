"""md's batch kernel releases the GIL while it runs (:mod:`riskstream.md._jit`).

md reads the next batch from the bus on the NATS client's thread while its loop applies the
current one in the kernel; if the kernel held the GIL, that thread (Python) would wait for
the whole batch and the overlap would be lost. The check is behavioural, because numba's
on-disk cache does not key its entries by the ``nogil`` flag: a stale cache compiled with
the old flags passes any look at the decorator but fails here.
"""

from __future__ import annotations

import itertools
import threading
import time

from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md import MdStage


def test_batch_kernel_lets_another_thread_run() -> None:
    universe = generate_universe(UniverseConfig(instruments=500, seed=5))
    sim = MarketSimulator(universe, SimulatorConfig(seed=5, batch_events=1 << 18))
    stage = MdStage(len(universe))
    warm = sim.next_batch()[:2048]  # compile first: the timed call must be the kernel only
    stage.on_batch(warm, int(warm["ts_recv"].max()))
    batch = sim.next_batch()
    window: list[float] = []
    done = threading.Event()

    def apply() -> None:
        window.append(time.perf_counter())
        stage.on_batch(batch, int(batch["ts_recv"].max()))
        window.append(time.perf_counter())
        done.set()

    worker = threading.Thread(target=apply)
    ticks: list[float] = []  # this thread's progress while the other one is in the kernel
    worker.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
    worker.join()
    start, end = window
    duration = end - start
    assert duration > 0.05, "batch too small to tell (the check needs a long kernel call)"
    inside = [start] + [t for t in ticks if start < t < end] + [end]
    longest_gap = max(b - a for a, b in itertools.pairwise(inside))
    # holding the GIL, this thread would not run at all during the call (one gap of about
    # the whole call); released, it only waits for the switch interval and the scheduler
    assert longest_gap < 0.5 * duration, (longest_gap, duration)
