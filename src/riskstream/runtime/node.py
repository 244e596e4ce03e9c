"""A node: one stage as an independent consumer, and the loop that hosts it.

A node owns its state (no object is shared with another node), reads its inputs from the
bus (event batches) or from :class:`~riskstream.bus.topics.Topics` subjects (typed
messages), and publishes downstream. :class:`NodeHost` runs a node's :meth:`Node.step`
until asked to stop, on a thread of the demo's process or as the main loop of a
``riskstream run --stage`` process, and publishes its :class:`StageStats` every
``stats_interval_s`` of wall time.

A broker that goes away (restarted, or the network between) costs a pause, not a process:
the NATS connections reconnect by themselves (:func:`riskstream.bus.nats.connect`), readers
resume after the last message they returned, publishes are retried under the same message
id (:class:`~riskstream.bus.nats_topics.NatsTopics`); what reaches the host is a
:class:`~riskstream.core.errors.ServiceUnavailableError` out of :meth:`Node.step`, after
which it waits a little, calls the node's ``recover()`` if it has one (md and history
reposition their durable consumers after what they applied; the feed settles a publication
the bus did not confirm) and steps again — for ``reconnect_s`` of continuous failure, after
which the error ends the process and the supervisor restarts it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from typing import Any, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from riskstream.bus.topics import Topics
from riskstream.core.errors import ServiceUnavailableError
from riskstream.core.messages import SUBJECTS, StageStats

log = logging.getLogger("riskstream.runtime")


def limit_native_threads(threads: int = 1) -> threadpool_limits:
    """Cap the numeric libraries' own thread pools (OpenBLAS, OpenMP) in a process that
    hosts stages, for the rest of its life; returns the limiter (``restore_original_limits``
    undoes it).

    The stages share the machine's cores, as processes (``riskstream up``) or as threads
    (``riskstream demo``), and a stage's own parallelism is chosen explicitly
    (``risk.threads`` for the engine's numba kernels). Left alone, numpy's OpenBLAS starts
    a worker per core at the first long vector call (a dot product of more than 10,000
    elements: md's latency histogram weighs a fetch of ~80,000 events) and the workers
    spin-wait between calls. In an md process at 500,000 events/s on 2 cores one such
    worker burnt 0.25–0.6 of a core, started again after every checkpoint's fork (OpenBLAS
    stops its pool around a fork): ``bench/e2e.py``, docs/benchmarks.md.
    """
    return threadpool_limits(limits=threads)


class Node(Protocol):
    """One stage as an independent consumer."""

    name: str

    def step(self) -> bool:
        """Do one bounded unit of work (waiting at most a few ms for input); True if any
        input was consumed."""

    def idle(self) -> bool:
        """True when everything published to this node so far has been consumed (for a
        clean drain at shutdown)."""

    def summary(self) -> dict[str, Any]:
        """Figures for the node's StageStats and the demo's JSON summary."""

    def histograms(self) -> dict[str, np.ndarray]:
        """Cumulative latency bucket counts by figure name (may be empty)."""

    def view(self) -> list[tuple[str, str]]:
        """(label, value) rows for the live terminal view."""

    def close(self) -> None:
        """Flush, checkpoint and release."""


class NodeHost:
    """Run a node's loop and publish its statistics.

    Parameters
    ----------
    node : Node
    topics : Topics
        Where :class:`StageStats` go (``SUBJECTS["stats"]``).
    stats_interval_s : float
    reconnect_s : float
        How long the bus may fail without a break before the host gives up (see the
        module docstring).
    """

    RETRY_S = 0.1
    """Wait between two attempts while the bus fails."""

    def __init__(
        self,
        node: Node,
        topics: Topics,
        stats_interval_s: float = 1.0,
        reconnect_s: float = 60.0,
    ):
        self.node = node
        self.topics = topics
        self.stats_interval_s = stats_interval_s
        self.reconnect_s = reconnect_s
        self.outages = 0  # times the bus failed (each a run of failures)
        self.outage_s = 0.0  # their total length
        self.started_ns = time.time_ns()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_stats = 0.0
        self.steps = 0

    def publish_stats(self) -> None:
        figures = self.node.summary()
        figures.update(
            bus_outages=self.outages,
            bus_outage_s=round(self.outage_s, 3),
            # publishes retried in place (NatsTopics): an outage met only while publishing
            bus_publish_retries=getattr(self.topics, "retries", 0),
        )
        self.topics.publish(
            SUBJECTS["stats"],
            StageStats(
                stage=self.node.name,
                ts_ns=time.time_ns(),
                figures=figures,
                histograms={k: v.copy() for k, v in self.node.histograms().items()},
                started_ns=self.started_ns,
            ),
        )

    def run(self) -> None:
        """Step until :meth:`stop`; then close the node (its final stats are published)."""
        failing_since: float | None = None
        try:
            while not self._stop.is_set():
                try:
                    if failing_since is not None:
                        recover = getattr(self.node, "recover", None)
                        if recover is not None:
                            recover()
                    self.node.step()
                    self.steps += 1
                    now = time.monotonic()
                    if now - self._last_stats >= self.stats_interval_s:
                        self._last_stats = now
                        self.publish_stats()
                except ServiceUnavailableError as exc:
                    failing_since = self._failing(failing_since, exc)
                    continue
                if failing_since is not None:
                    self.outage_s += time.monotonic() - failing_since
                    log.warning(
                        "stage %s: the bus answers again after %.1f s",
                        self.node.name, time.monotonic() - failing_since,
                    )  # fmt: skip
                    failing_since = None
        except BaseException as exc:  # a thread's death is reported, never silent
            self.error = exc
            log.error("stage %s died: %s\n%s", self.node.name, exc, traceback.format_exc())
            raise
        finally:
            try:
                self.node.close()
            finally:
                if self.error is None:
                    self.publish_stats()

    def _failing(self, since: float | None, exc: ServiceUnavailableError) -> float:
        """Note a failure of the bus; raise it once it has lasted ``reconnect_s``."""
        now = time.monotonic()
        if since is None:
            self.outages += 1
            log.warning("stage %s: the bus failed (%s); retrying in place", self.node.name, exc)
            since = now
        elif now - since > self.reconnect_s:
            log.error("stage %s: the bus failed for %.0f s: giving up", self.node.name, now - since)
            raise exc
        self._stop.wait(self.RETRY_S)
        return since

    def start(self) -> NodeHost:
        """Run on a daemon thread (the demo)."""
        self._thread = threading.Thread(
            target=self._run_quietly, name=f"stage-{self.node.name}", daemon=True
        )
        self._thread.start()
        return self

    def _run_quietly(self) -> None:
        with contextlib.suppress(BaseException):  # recorded in self.error, logged by run()
            self.run()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
