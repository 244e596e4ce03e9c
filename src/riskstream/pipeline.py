"""The streaming pipeline: a source of event batches driven through a chain of stages.

This is wiring (like :mod:`riskstream.settings`): it knows every stage, and no stage knows
it. Each stage consumes the batches (or the state) of the stages before it and exposes what
it did through :meth:`Stage.summary` (numbers for ``riskstream demo --json``) and
:meth:`Stage.view` (rows for the live terminal view). Issues that add a stage add it in
:mod:`riskstream.runtime` (the demo and `riskstream up` run the stages as nodes there).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class Stage(Protocol):
    """One step of the pipeline."""

    name: str

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        """Consume one batch of events (EVENT_DTYPE), at simulated/venue time ``now_ns``."""

    def summary(self) -> dict[str, Any]:
        """Figures for the final JSON summary (JSON-serialisable values)."""

    def view(self) -> list[tuple[str, str]]:
        """(label, value) rows for the live terminal view."""

    def close(self) -> None:
        """Flush and release resources."""


@dataclass
class PipelineStats:
    """Throughput counters of a pipeline run."""

    events: int = 0
    batches: int = 0
    started_wall_s: float = field(default_factory=time.perf_counter)
    instruments_seen: np.ndarray | None = None

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started_wall_s

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def instruments_active(self) -> int:
        return 0 if self.instruments_seen is None else int(self.instruments_seen.sum())


class Pipeline:
    """Drive batches from ``source`` through ``stages`` in order.

    Parameters
    ----------
    source : iterator of (events, now_ns)
        Event batches (EVENT_DTYPE arrays) and the simulated time at the end of each.
    stages : sequence of Stage
        Applied in order to every batch.
    n_instruments : int
        Size of the universe, to count active instruments.
    pace : callable, optional
        Called with the simulated time after each batch; may sleep to hold a speed-up.
    """

    def __init__(
        self,
        source: Iterator[tuple[np.ndarray, int]],
        stages: Sequence[Stage],
        n_instruments: int,
        pace: Callable[[int], None] | None = None,
    ):
        self.source = source
        self.stages = list(stages)
        self.pace = pace
        self.stats = PipelineStats(instruments_seen=np.zeros(n_instruments, dtype=bool))

    def step(self) -> bool:
        """Process one batch; False when the source is exhausted."""
        try:
            events, now_ns = next(self.source)
        except StopIteration:
            return False
        for stage in self.stages:
            stage.on_batch(events, now_ns)
        self.stats.events += len(events)
        self.stats.batches += 1
        self.stats.instruments_seen[events["instrument_id"]] = True
        if self.pace is not None:
            self.pace(now_ns)
        return True

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "events": self.stats.events,
            "events_per_s": round(self.stats.events_per_s, 1),
            "instruments": self.stats.instruments_active,
            "duration_s": round(self.stats.elapsed_s, 3),
        }
        for stage in self.stages:
            out.update(stage.summary())
        return out

    def view(self) -> list[tuple[str, str]]:
        rows = [
            ("events", f"{self.stats.events:,}"),
            ("events/s", f"{self.stats.events_per_s:,.0f}"),
            ("instruments active", f"{self.stats.instruments_active:,}"),
        ]
        for stage in self.stages:
            rows.extend(stage.view())
        return rows

    def close(self) -> None:
        for stage in self.stages:
            stage.close()
