"""Numba kernels of the engine's linear part: sweeps of the scenario matrix.

The scenario matrix is float32 and column-major (one factor's moves across scenarios are
contiguous); sums accumulate in float64. The two big sweeps split scenarios into blocks
shared among threads, and each scenario's sum runs in one thread in a fixed factor order,
so results are bit-for-bit independent of the thread count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba
import numpy as np
from numba import njit, prange


@contextlib.contextmanager
def thread_scope(threads: int) -> Iterator[None]:
    """numba's thread count set to ``threads`` (capped by its pool) for the block; the
    setting is per calling thread and restored after."""
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(before)


@njit(cache=True, nogil=True)
def _sweep_block(shocks, weights, factors, lo, hi, acc):  # pragma: no cover - numba
    """acc[s - lo] += sum over ``factors`` of shocks[s, f] * weights[f], s in [lo, hi).

    Four factor columns per pass, each a contiguous 1-d slice: the inner loop is then a
    plain SIMD stream over float32 columns (2-d ``shocks[s, f]`` indexing does not
    vectorise and ran ~3x slower). The fixed grouping of factors in fours, in ``factors``
    order, is the same for every scenario block, so the sum does not depend on threads.
    """
    n = factors.shape[0]
    m = hi - lo
    j = 0
    while j + 4 <= n:
        f0, f1, f2, f3 = factors[j], factors[j + 1], factors[j + 2], factors[j + 3]
        w0, w1, w2, w3 = weights[f0], weights[f1], weights[f2], weights[f3]
        c0 = shocks[lo:hi, f0]
        c1 = shocks[lo:hi, f1]
        c2 = shocks[lo:hi, f2]
        c3 = shocks[lo:hi, f3]
        for s in range(m):
            acc[s] += (
                np.float64(c0[s]) * w0
                + np.float64(c1[s]) * w1
                + np.float64(c2[s]) * w2
                + np.float64(c3[s]) * w3
            )
        j += 4
    while j < n:
        f = factors[j]
        w = weights[f]
        c = shocks[lo:hi, f]
        for s in range(m):
            acc[s] += np.float64(c[s]) * w
        j += 1


@njit(cache=True, parallel=True, nogil=True)
def scenario_dot(shocks, exposure, factors, out):  # pragma: no cover - numba
    """out[s] = sum over ``factors`` of shocks[s, f] * exposure[f] (float64 accumulation).

    ``shocks`` is column-major, so each factor's column is one contiguous sweep; factors
    without exposure are never read. Scenarios are split into blocks, one per thread.
    """
    n_s = shocks.shape[0]
    block = 2048
    n_blocks = (n_s + block - 1) // block
    for b in prange(n_blocks):
        lo = b * block
        hi = min(lo + block, n_s)
        acc = out[lo:hi]
        acc[:] = 0.0
        _sweep_block(shocks, exposure, factors, lo, hi, acc)


@njit(cache=True, parallel=True)
def scenario_axpy(shocks, delta, factors, out):  # pragma: no cover - numba
    """out[s] += sum over ``factors`` of shocks[s, f] * delta[f] (incremental update)."""
    n_s = shocks.shape[0]
    block = 2048
    n_blocks = (n_s + block - 1) // block
    for b in prange(n_blocks):
        lo = b * block
        hi = min(lo + block, n_s)
        _sweep_block(shocks, delta, factors, lo, hi, out[lo:hi])


@njit(cache=True)
def linear_unit_rows(shock_rows_t, inst, lin_f, lin_s, out):  # pragma: no cover - numba
    """Per-unit linear P&L of instruments ``inst`` in a few scenarios.

    ``shock_rows_t`` is (n_factors, n_rows): the tail scenarios' moves, factor-major, so one
    instrument reads each of its factors' rows contiguously. ``out`` is (n_rows, len(inst)).
    """
    n_r = shock_rows_t.shape[1]
    for j in range(inst.shape[0]):
        i = inst[j]
        for r in range(n_r):
            out[r, j] = 0.0
        for slot in range(lin_f.shape[1]):
            f = lin_f[i, slot]
            if f >= 0:
                w = lin_s[i, slot]
                for r in range(n_r):
                    out[r, j] += w * np.float64(shock_rows_t[f, r])


@njit(cache=True)
def weighted_rows(rows, weights, out):  # pragma: no cover - numba
    """out[k, f] = sum_r weights[k, r] * rows[r, f] (float64 accumulation, zero weights
    skipped): e.g. the tail scenarios' moves averaged with each Euler estimator's weights.

    ``rows`` is (n_rows, n_columns) row-major (float32 moves or float64 P&L), ``weights``
    (n_sets, n_rows), ``out`` (n_sets, n_columns).
    """
    n_k, n_r = weights.shape
    n_f = rows.shape[1]
    for k in range(n_k):
        acc = out[k]
        for f in range(n_f):
            acc[f] = 0.0
        for r in range(n_r):
            w = weights[k, r]
            if w != 0.0:
                row = rows[r]
                for f in range(n_f):
                    acc[f] += w * np.float64(row[f])


@njit(cache=True)
def linear_unit_weighted(moves, inst, lin_f, lin_s, out):  # pragma: no cover - numba
    """out[k, j] = sum over slots of lin_s[i, slot] * moves[k, lin_f[i, slot]], i = inst[j].

    The linear per-unit P&L is linear in the factor moves, so its weighted average over
    tail scenarios is the loadings applied to the weighted average move (``moves`` from
    :func:`weighted_rows`): one gather per instrument instead of one per tail scenario.
    """
    n_k = moves.shape[0]
    for j in range(inst.shape[0]):
        i = inst[j]
        for k in range(n_k):
            acc = 0.0
            for slot in range(lin_f.shape[1]):
                f = lin_f[i, slot]
                if f >= 0:
                    acc += lin_s[i, slot] * moves[k, f]
            out[k, j] = acc


@njit(cache=True)
def scenario_tdot(shocks, weights, out):  # pragma: no cover - numba
    """out[f] = sum_s shocks[s, f] * weights[s] (column sweeps, float64 accumulation)."""
    n_s, n_f = shocks.shape
    for f in range(n_f):
        acc = 0.0
        for s in range(n_s):
            acc += np.float64(shocks[s, f]) * weights[s]
        out[f] = acc
