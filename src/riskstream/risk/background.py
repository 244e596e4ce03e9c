"""The engine's background worker: heavy recomputes off the hot path, swapped in atomically.

A regime switch (recolour every scenario, rebuild every option grid: 1-2 s at reference
size) and a SPAN recompute must not stop the refreshes. The engine hands each such job —
a pure function of inputs it copied on its own thread — to :class:`Recomputer`, one worker
thread, and goes on with the state in force; at the top of a later refresh it takes the
finished results (:meth:`Recomputer.take`) and swaps them in on its own thread, in one
step, before it reads anything. Nothing is ever half-applied, and a refresh never waits.

Jobs are keyed by kind (``"regime"``, ``"span"``). Submitting a kind again supersedes the
job before it: only the newest result of a kind is ever handed back (a regime switch to
"crisis" then back to "calm" adopts "calm"; the stale result is dropped).

The numba kernels the jobs spend their time in are compiled ``nogil``
(:mod:`riskstream.risk.conditioning`, the pricing grid kernels), so the worker computes
while the engine's thread runs Python. Concurrent numba parallel regions from two threads
need a thread-safe threading layer (``omp`` or ``tbb``; ``workqueue`` is not): checked
when the worker starts (:func:`check_threading_layer`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numba

from riskstream.core.errors import InputError
from riskstream.risk.kernels import thread_scope


def check_threading_layer() -> None:
    """Raise when numba's threading layer cannot run parallel regions from two threads.

    Raises
    ------
    InputError
        The layer in use is ``workqueue`` (it aborts the process on concurrent use).
    """
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run yet: the configured choice decides
        layer = numba.config.THREADING_LAYER
    if layer == "workqueue":
        raise InputError(
            "numba threading layer",
            layer,
            "omp or tbb for risk.background_recompute (workqueue is not thread-safe)",
        )


class Recomputer:
    """One worker thread computing the engine's heavy jobs (see the module doc).

    Parameters
    ----------
    threads : int
        numba threads for the worker's kernels (the engine's ``config.threads``).
    gate : callable, optional
        Called by the worker before each job (tests hold a job with a
        ``threading.Event.wait`` to prove that refreshes do not wait for it).
    """

    def __init__(self, threads: int = 1, gate: Callable[[], Any] | None = None) -> None:
        check_threading_layer()
        self.threads = threads
        self.gate = gate
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="risk-recompute")
        self._jobs: dict[str, tuple[int, Future]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def submit(self, kind: str, job: Callable[..., Any], *args: Any) -> int:
        """Queue ``job(*args)`` as the newest job of ``kind``; returns its ticket."""
        with self._lock:
            self._generation += 1
            ticket = self._generation
            old = self._jobs.get(kind)
            if old is not None:
                old[1].cancel()  # superseded: not run if it has not started
            self._jobs[kind] = (ticket, self._pool.submit(self._run, job, args))
        return ticket

    def _run(self, job: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if self.gate is not None:
            self.gate()
        with thread_scope(self.threads):
            return job(*args)

    def pending(self, kind: str) -> bool:
        """Whether a job of ``kind`` is queued or running (its result not taken yet)."""
        with self._lock:
            return kind in self._jobs

    def cancel(self, kind: str) -> None:
        """Forget the job of ``kind``: its result, when it comes, is dropped."""
        with self._lock:
            old = self._jobs.pop(kind, None)
            if old is not None:
                old[1].cancel()

    def take(self, kind: str) -> tuple[bool, Any]:
        """``(True, result)`` if the newest job of ``kind`` has finished (it is then
        forgotten), else ``(False, None)``; never waits. A job that raised re-raises here,
        on the engine's thread."""
        with self._lock:
            entry = self._jobs.get(kind)
            if entry is None or not entry[1].done():
                return False, None
            del self._jobs[kind]
        return True, entry[1].result()

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job queued so far has finished (tests and shutdown only;
        the engine never calls this on its hot path)."""
        with self._lock:
            futures = [f for _, f in self._jobs.values()]
        for f in futures:
            f.exception(timeout=timeout)

    def close(self) -> None:
        """Stop the worker after the running job (queued ones are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
