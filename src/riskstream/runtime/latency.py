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

import numpy as np

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
