"""Batch work over independent tasks, in this process or on a Dask distributed cluster.

Batch jobs (a backtest's windows, a Monte Carlo run's scenario chunks, a stress grid's
revaluations) are lists of independent tasks. :func:`task_map` gives the one way to run
them: ``task_map(None)`` runs them here, one after another; ``task_map("tcp://host:8786")``
sends them to the workers of a Dask scheduler (``dask scheduler`` / ``dask worker``, see
the README) and gathers the results. Either way the caller gets the results **in task
order**, so what it builds from them does not depend on where, or in which order, the
tasks ran.

**Identical results, local or distributed.** A distributed run equals the local one bit for
bit because both run the *same* tasks: the caller cuts the work into fixed pieces whatever
the backend (a backtest into refit-aligned blocks of days, a Monte Carlo run into chunks of
``chunk`` scenarios, :func:`chunks`), every random draw takes a seed fixed by the piece
(:func:`chunk_seeds`: one child of a ``numpy.random.SeedSequence`` per chunk, so chunks are
statistically independent streams, not ``seed + i``), and every reduction runs in the
caller over the gathered results in task order. Nothing is summed in the order tasks
finish.

**One BLAS thread per task.** A multithreaded BLAS splits some reductions across its
threads, so a GARCH fit (``arch`` through scipy's optimiser) gives different last digits
with 1 or 2 BLAS threads. Dask's worker processes start with one (the nanny sets
``OMP_NUM_THREADS=1`` and the like); this process may have more. Every task therefore runs
under ``threadpoolctl.threadpool_limits(1)``, here and on the workers (:class:`OneThread`),
and its figures do not depend on the machine's core count. (Bit-for-bit equality across
machines also needs the same library versions and CPU instruction set: BLAS kernels are
chosen per CPU.) Parallelism comes from running tasks side by side, not threads within one.

**Shared inputs.** Large inputs every task needs (a return series, a market history, a
fitted model) travel as ``shared``: on a cluster they are scattered to every worker once
(``Client.scatter(broadcast=True)``), not pickled into each task. A worker holds one copy
for all its tasks, so a task must not modify ``shared`` (copy what it changes); the local
run passes the same object to every task and holds the tasks to the same rule.

This is wiring, like :mod:`riskstream.pipeline`: the batch packages (``backtest``, ...)
take any ``map`` callable of the :class:`TaskMap` shape and never import Dask; the CLI
builds one from ``--cluster`` here.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from riskstream.core.errors import InputError

T = TypeVar("T")
R = TypeVar("R")

CLUSTER_OPTION = "--cluster"
CONNECT_TIMEOUT_S = 10.0
_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
_EXPECTED = "a Dask scheduler address tcp://HOST:PORT (as `dask scheduler` prints it)"
CLUSTER_HELP = (
    "Run the batch's tasks on the Dask scheduler at tcp://HOST:PORT (`dask scheduler`, "
    "`dask worker`; see the README); results equal the local run's."
)


class TaskMap(Protocol):
    """Run ``fn(shared, item)`` for every item and return the results in item order."""

    def __call__(
        self, fn: Callable[[Any, T], R], items: Sequence[T], shared: Any = None
    ) -> list[R]: ...


class OneThread:
    """``fn(shared, item)`` run with the BLAS and OpenMP pools limited to one thread (see
    the module notes); picklable when ``fn`` is (a module-level function)."""

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn
        # Dask names a task after its function: keep the wrapped function's name.
        self.__name__ = getattr(fn, "__name__", "task")

    def __call__(self, shared: Any, item: Any) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return self.fn(shared, item)


def local_map(fn: Callable[[Any, T], R], items: Sequence[T], shared: Any = None) -> list[R]:
    """:class:`TaskMap` in this process: the tasks one after another, in order."""
    task = OneThread(fn)
    return [task(shared, item) for item in items]


class DaskMap:
    """:class:`TaskMap` on a Dask distributed cluster: one Dask task per item.

    Parameters
    ----------
    client : distributed.Client
        Connected to the scheduler whose workers run the tasks. The workers need the same
        ``riskstream`` (and numpy, numba ...) versions as this process: a task is the
        pickled function and its item, run by the worker's own installation.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._shared: tuple[Any, Any] | None = None  # (object, its future on the workers)

    def __call__(
        self, fn: Callable[[Any, T], R], items: Sequence[T], shared: Any = None
    ) -> list[R]:
        if not items:
            return []
        # Scattered once to every worker (in a list: a dict would be scattered key by key,
        # under its own keys as Dask keys); a later call with the same object reuses the
        # copy the workers hold (kept alive by holding its future here). Not by content hash:
        # re-scattering a key whose release is still in flight cancels the new future.
        if self._shared is None or self._shared[0] is not shared:
            [future] = self.client.scatter([shared], broadcast=True, hash=False)
            self._shared = (shared, future)
        data = self._shared[1]
        # pure=False: each task runs (no dedup by argument hash), keys carry the name.
        futures = self.client.map(OneThread(fn), [data] * len(items), list(items), pure=False)
        return self.client.gather(futures)  # in the order of ``items``


def check_address(address: str, option: str = CLUSTER_OPTION) -> str:
    """``address`` when it is a Dask scheduler address ``tcp://HOST:PORT`` (or ``tls://``).

    Raises
    ------
    InputError
        Naming ``option``, the value and the expected form.
    """
    match = _ADDRESS.match(address.strip()) if isinstance(address, str) else None
    if match is None or not 1 <= int(match.group(3)) <= 65535:
        raise InputError(option, address, _EXPECTED)
    return address.strip()


@contextlib.contextmanager
def task_map(
    address: str | None,
    option: str = CLUSTER_OPTION,
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> Iterator[TaskMap]:
    """The :class:`TaskMap` for ``--cluster``: :func:`local_map` when ``address`` is None,
    else a :class:`DaskMap` on a client of the scheduler at ``address`` (closed on exit).

    Raises
    ------
    InputError
        ``address`` is malformed, or no scheduler answers there within ``timeout_s``.
    """
    if address is None:
        yield local_map
        return
    address = check_address(address, option)
    from distributed import Client

    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            option,
            address,
            f"the address of a running Dask scheduler (none answered within {timeout_s:g} s: "
            f"{type(exc).__name__}; start one with `dask scheduler`)",
        ) from None
    try:
        yield DaskMap(client)
    finally:
        client.close()


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges cutting ``total`` items into pieces of ``size`` (the last
    may be shorter): the fixed chunking both the local and the distributed run use."""
    if total < 1:
        raise InputError("total", total, "a positive number of items")
    if size < 1:
        raise InputError("chunk", size, "a positive number of items per chunk")
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def chunk_seeds(seed: int, n_chunks: int) -> list[int]:
    """One seed per chunk, from ``numpy.random.SeedSequence(seed).spawn(n_chunks)``.

    Spawned children are independent streams by construction (Philox/PCG seeding through
    the SeedSequence hash), unlike ``seed + i``, whose streams a generator seeded by the
    plain integer may correlate. Each child is reduced to one 63-bit integer because the
    scenario generators take an integer seed.
    """
    if n_chunks < 0:
        raise InputError("n_chunks", n_chunks, "a non-negative number of chunks")
    children = np.random.SeedSequence(seed).spawn(n_chunks)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]
