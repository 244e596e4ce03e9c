"""Per-event latency histograms: fixed logarithmic buckets, filled in bulk, merged by adding.

A latency figure is measured for *every event* (tick receipt → book update, tick receipt →
the first risk snapshot reflecting it), hundreds of thousands a second, so it cannot go
through one ``Histogram.observe`` call per event. Instead each node counts a whole batch at
once into fixed buckets (a ``searchsorted`` and a ``bincount``), publishes the cumulative
counts in its :class:`~riskstream.core.messages.StageStats`, and readers (the service's
Prometheus exporter, the benches) difference, merge and read percentiles from them.

Buckets: :data:`PER_DECADE` per factor of ten from 1 µs to 100 s (upper edges
``10**(k/20)`` µs), plus one overflow bucket. A percentile is interpolated geometrically
within its bucket, so it is known to within half a bucket's width: ±6%.
"""

from __future__ import annotations

import gc
import resource
import time
from collections import deque
from typing import Any

import numpy as np

_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)  # Linux: this thread

PER_DECADE = 20
_DECADES = 8  # 1 µs .. 100 s
EDGES_S: np.ndarray = 1e-6 * 10.0 ** (np.arange(1, PER_DECADE * _DECADES + 1) / PER_DECADE)
"""Upper bucket edges in seconds (the last bucket, beyond ``EDGES_S[-1]``, is overflow)."""
N_BUCKETS = len(EDGES_S) + 1
_EDGES_NS = EDGES_S * 1e9
PROMETHEUS_EDGES: tuple[int, ...] = tuple(
    k for k in range(len(EDGES_S)) if k % PER_DECADE in (PER_DECADE - 1, 5, 13)
)
"""Indices of the edges exported to Prometheus (about 1, 2 and 5 per decade: 2.0, 5.0 and
10.0 × 10^k µs), each a cumulative count exact at that edge."""


class LatencyHistogram:
    """Counts of latencies (ns) per bucket, cumulative since creation.

    Attributes
    ----------
    counts : ndarray of float64, shape (N_BUCKETS,)
        Events per bucket (float: a sampled event stands for a fractional weight).
    sum_s : float
        Sum of the latencies counted, seconds (for Prometheus' ``_sum``).
    """

    def __init__(self) -> None:
        self.counts = np.zeros(N_BUCKETS)
        self.sum_s = 0.0

    def add(self, latency_ns: np.ndarray, weight: float | np.ndarray = 1.0) -> None:
        """Count latencies ``latency_ns`` (any shape), each standing for ``weight`` events.

        A negative latency (the clocks of two processes on one machine are the same clock,
        so only rounding can make one) counts in the first bucket.
        """
        lat = np.asarray(latency_ns, dtype=np.float64).ravel()
        if lat.size == 0:
            return
        idx = np.searchsorted(_EDGES_NS, lat, side="left")
        w = np.broadcast_to(np.asarray(weight, dtype=np.float64), lat.shape)
        self.counts += np.bincount(idx, weights=w, minlength=N_BUCKETS)
        self.sum_s += float(np.dot(np.maximum(lat, 0.0), w)) / 1e9

    @property
    def total(self) -> float:
        return float(self.counts.sum())


def percentile_s(counts: np.ndarray, q: float) -> float | None:
    """The ``q``-th percentile (0–100), seconds, of bucket ``counts`` (None when empty).

    Interpolated geometrically inside the bucket that holds it (uniform in log latency); in
    the overflow bucket the answer is its lower edge (a lower bound).
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return None
    cum = np.cumsum(counts)
    target = q / 100.0 * total
    k = int(np.searchsorted(cum, target, side="left"))
    k = min(k, N_BUCKETS - 1)
    if k >= len(EDGES_S):
        return float(EDGES_S[-1])
    hi = EDGES_S[k]
    lo = EDGES_S[k - 1] if k > 0 else hi / 10 ** (1 / PER_DECADE)
    before = cum[k - 1] if k > 0 else 0.0
    frac = 0.0 if counts[k] <= 0 else (target - before) / counts[k]
    return float(lo * (hi / lo) ** min(max(frac, 0.0), 1.0))


def summary(counts: np.ndarray, unit: str = "ms") -> dict[str, float | None]:
    """p50, p99, p99.9 and the count of ``counts`` in ``unit`` (``us`` or ``ms``)."""
    scale = {"us": 1e6, "ms": 1e3}[unit]
    out: dict[str, float | None] = {}
    for name, q in (("p50", 50.0), ("p99", 99.0), ("p999", 99.9)):
        v = percentile_s(counts, q)
        out[f"{name}_{unit}"] = None if v is None else round(v * scale, 3)
    out["events"] = round(float(np.sum(counts)))
    return out


class GcPauses:
    """Python's garbage-collector pauses in this process, timed by ``gc.callbacks``.

    A collection stops the thread that triggered it (and, holding the GIL, every other
    Python thread): a full (generation 2) collection walks every tracked object, tens of
    milliseconds in a process holding a few hundred thousand of them. Cumulative figures:
    ``collections``/``seconds`` by generation, the longest pause.
    """

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.max_s = 0.0
        self.total_ns = 0
        self.frozen = 0  # objects settle_gc froze (gc.get_freeze_count walks them all: not
        # for a once-a-second report)
        self._started = 0
        self._installed = False

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        took = time.perf_counter_ns() - self._started
        gen = int(info.get("generation", 2))
        self.collections[gen] += 1
        self.seconds[gen] += took / 1e9
        self.max_s = max(self.max_s, took / 1e9)
        self.total_ns += took

    def install(self) -> GcPauses:
        if not self._installed:
            gc.callbacks.append(self._callback)
            self._installed = True
        return self

    def summary(self) -> dict[str, Any]:
        return {
            "collections": list(self.collections),
            "seconds": [round(s, 4) for s in self.seconds],
            "max_ms": round(self.max_s * 1e3, 3),
            "frozen": self.frozen,
        }


GC_PAUSES = GcPauses()
"""The process's one :class:`GcPauses` (install it with ``GC_PAUSES.install()``)."""


def settle_gc() -> None:
    """After a node is built, before its loop: collect once, then move every object that
    survived into the permanent generation (``gc.freeze``).

    What a node builds before its loop (modules, compiled kernels, the engine, settings)
    lives as long as the process, and every full (generation 2) collection walks it again:
    in an md process that is ~200,000 objects and a full collection took 130 ms (load
    average 4), a pause of the whole loop. Frozen objects are neither walked nor collected
    (they are not garbage: their owners hold them for the process's life); the loop's own
    objects are collected as before. The collector's thresholds stay at Python's defaults:
    md's loop allocates a few objects per bus message, not per event, and its young
    collections took under 3 ms in 30 s at 500,000 events/s (``LoopProfile``'s ``gc``).
    Freezing also spares a forked checkpoint writer the copy-on-write of the pages a
    collection would have touched.
    """
    gc.collect()
    gc.freeze()
    GC_PAUSES.frozen = gc.get_freeze_count()


class LoopProfile:
    """Where a node's loop spends its time: wall and thread-CPU time per phase, and the
    slow iterations with what they were doing.

    The loop calls :meth:`begin` at the top of each iteration and :meth:`mark` after each
    phase (the time since the previous mark goes to that phase; the time between the end
    of one iteration and the next :meth:`begin` — the host's own work — to ``"host"``),
    then :meth:`end`. An iteration longer than ``slow_ms`` of wall time is counted under
    its longest phase and kept (the last ``keep``) with its breakdown, its thread's CPU
    time, minor page faults (copy-on-write after a fork shows here), involuntary context
    switches (the OS gave the core to another process: contention, not work), voluntary
    ones (``waited``: the thread blocked — on the bus, a lock, or taking the GIL back
    from another of the process's threads) and the garbage collector's pauses inside it.

    Wall time far above CPU time in a phase that computes (not one that waits on a socket)
    is time the thread was runnable but not running: the machine was busy elsewhere.
    """

    def __init__(self, phases: tuple[str, ...], slow_ms: float = 50.0, keep: int = 16):
        self.phases = ("host", *phases)
        self.slow_ns = int(slow_ms * 1e6)
        self.wall_ns = dict.fromkeys(self.phases, 0)
        self.cpu_ns = dict.fromkeys(self.phases, 0)
        self.iterations = 0
        self.slow = 0
        self.slow_by_phase = dict.fromkeys(self.phases, 0)
        self.recent_slow: deque[dict[str, Any]] = deque(maxlen=keep)
        self.iteration = LatencyHistogram()
        self.gc = GC_PAUSES.install()
        self._t = self._c = 0
        self._cur_wall = dict.fromkeys(self.phases, 0)
        self._cur_cpu = dict.fromkeys(self.phases, 0)
        self._t0 = self._c0 = self._gc0 = 0
        self._ru0: Any = None

    def begin(self) -> None:
        now, cpu = time.perf_counter_ns(), time.thread_time_ns()
        for p in self.phases:
            self._cur_wall[p] = self._cur_cpu[p] = 0
        if self._t:  # the host's work since the last iteration ended
            self._cur_wall["host"] = now - self._t
            self._cur_cpu["host"] = cpu - self._c
            self._t0, self._c0 = self._t, self._c
        else:
            self._t0, self._c0 = now, cpu
        self._t, self._c = now, cpu
        self._gc0 = self.gc.total_ns
        self._ru0 = resource.getrusage(_RUSAGE_THREAD)

    def mark(self, phase: str) -> None:
        now, cpu = time.perf_counter_ns(), time.thread_time_ns()
        self._cur_wall[phase] += now - self._t
        self._cur_cpu[phase] += cpu - self._c
        self._t, self._c = now, cpu

    def move(self, src: str, dst: str, wall_ns: int) -> None:
        """Re-attribute ``wall_ns`` measured inside phase ``src`` to ``dst`` (CPU time in
        the same proportion as ``src``'s)."""
        have = self._cur_wall[src]
        wall_ns = min(int(wall_ns), have)
        cpu = self._cur_cpu[src] * wall_ns // have if have else 0
        self._cur_wall[src] -= wall_ns
        self._cur_cpu[src] -= cpu
        self._cur_wall[dst] += wall_ns
        self._cur_cpu[dst] += cpu

    def end(self, **context: Any) -> None:
        wall = self._t - self._t0
        cpu = self._c - self._c0
        for p in self.phases:
            self.wall_ns[p] += self._cur_wall[p]
            self.cpu_ns[p] += self._cur_cpu[p]
        self.iterations += 1
        self.iteration.add(np.array([wall]))
        if wall < self.slow_ns:
            return
        ru = resource.getrusage(_RUSAGE_THREAD)
        top = max(self.phases, key=lambda p: self._cur_wall[p])
        self.slow += 1
        self.slow_by_phase[top] += 1
        self.recent_slow.append(
            {
                "wall_ms": round(wall / 1e6, 1),
                "cpu_ms": round(cpu / 1e6, 1),
                "phase": top,
                "phases_ms": {
                    p: [round(self._cur_wall[p] / 1e6, 1), round(self._cur_cpu[p] / 1e6, 1)]
                    for p in self.phases
                    if self._cur_wall[p] >= 1_000_000
                },
                "minor_faults": ru.ru_minflt - self._ru0.ru_minflt,
                "preempted": ru.ru_nivcsw - self._ru0.ru_nivcsw,
                # voluntary switches: the thread blocked — on the bus, a lock, or the GIL
                # (md's kernel releases it; taking it back may wait for another thread)
                "waited": ru.ru_nvcsw - self._ru0.ru_nvcsw,
                "gc_ms": round((self.gc.total_ns - self._gc0) / 1e6, 1),
                **context,
            }
        )

    def summary(self) -> dict[str, Any]:
        """Cumulative figures (a reader differences two reports for a window)."""
        it = summary(self.iteration.counts, "ms")
        return {
            "iterations": self.iterations,
            "iteration_p50_ms": it["p50_ms"],
            "iteration_p99_ms": it["p99_ms"],
            "slow": self.slow,
            "slow_ms": self.slow_ns / 1e6,
            "slow_by_phase": {p: n for p, n in self.slow_by_phase.items() if n},
            "wall_s": {p: round(v / 1e9, 4) for p, v in self.wall_ns.items()},
            "cpu_s": {p: round(v / 1e9, 4) for p, v in self.cpu_ns.items()},
            "process_cpu_s": round(time.process_time(), 3),
            "gc": self.gc.summary(),
            "recent_slow": list(self.recent_slow),
        }
