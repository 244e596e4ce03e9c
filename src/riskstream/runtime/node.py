"""A node: one stage as an independent consumer, and the loop that hosts it.

A node owns its state (no object is shared with another node), reads its inputs from the
bus (event batches) or from :class:`~riskstream.bus.topics.Topics` subjects (typed
messages), and publishes downstream. :class:`NodeHost` runs a node's :meth:`Node.step`
until asked to stop, on a thread of the demo's process or as the main loop of a
``riskstream run --stage`` process, and publishes its :class:`StageStats` every
``stats_interval_s`` of wall time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from typing import Any, Protocol

import numpy as np

from riskstream.bus.topics import Topics
from riskstream.core.messages import SUBJECTS, StageStats

log = logging.getLogger("riskstream.runtime")


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
    """

    def __init__(self, node: Node, topics: Topics, stats_interval_s: float = 1.0):
        self.node = node
        self.topics = topics
        self.stats_interval_s = stats_interval_s
        self.started_ns = time.time_ns()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_stats = 0.0
        self.steps = 0

    def publish_stats(self) -> None:
        self.topics.publish(
            SUBJECTS["stats"],
            StageStats(
                stage=self.node.name,
                ts_ns=time.time_ns(),
                figures=self.node.summary(),
                histograms={k: v.copy() for k, v in self.node.histograms().items()},
                started_ns=self.started_ns,
            ),
        )

    def run(self) -> None:
        """Step until :meth:`stop`; then close the node (its final stats are published)."""
        try:
            while not self._stop.is_set():
                self.node.step()
                self.steps += 1
                now = time.monotonic()
                if now - self._last_stats >= self.stats_interval_s:
                    self._last_stats = now
                    self.publish_stats()
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
