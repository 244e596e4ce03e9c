"""Replay: republish stored events in their original order and sequence, at a chosen speed.

The source is any iterator of EVENT_DTYPE batches in arrival order — normally
``HistoryStore.iter_events`` (``feeds`` does not import ``store``; the CLI wires them).
Events keep every field bit for bit (``seq``, timestamps, prices) except ``flags``, which
gains :attr:`~riskstream.core.events.EventFlag.REPLAY` so downstream stages and audit can
tell replayed from live data. Books and features depend on the events' order and fields,
not on that flag, so replaying a span rebuilds them identically.

Pacing: with ``speed = X`` an event whose ``ts_event`` is ``Δt`` after the first one is
released ``Δt / X`` of wall time after the start (X = 1 real time, X = 10 ten times
faster); ``speed=None`` replays as fast as possible. Batches are cut into slices of at most
``slice_ns`` of event time so pacing stays smooth inside a large stored batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from riskstream.bus.base import Bus
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE, EventFlag


def mark_replayed(events: np.ndarray) -> np.ndarray:
    """A copy of ``events`` with the REPLAY flag set (every other field unchanged)."""
    out = events.copy()
    out["flags"] |= np.uint8(EventFlag.REPLAY)
    return out


def replay(
    batches: Iterable[np.ndarray],
    speed: float | None = None,
    slice_ns: int = 10_000_000,
    monotonic_ns: Callable[[], int] = time.monotonic_ns,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(events, now_ns)``: the stored batches with REPLAY set, paced by event time.

    Parameters
    ----------
    batches : iterable of ndarray of EVENT_DTYPE
        Stored events in arrival order.
    speed : float, optional
        Multiple of real time (> 0); None for as fast as possible.
    slice_ns : int
        Largest span of event time released at once when pacing.
    monotonic_ns, sleep : callables
        The wall clock and the way to wait (injected by tests).

    ``now_ns`` is the latest ``ts_event`` released so far (the replayed venue time).
    """
    if speed is not None and not speed > 0:
        raise InputError("speed", speed, "a positive multiple of real time, or None")
    first_ts: int | None = None
    wall0 = 0
    latest = np.iinfo(np.int64).min
    for batch in batches:
        if not isinstance(batch, np.ndarray) or batch.dtype != EVENT_DTYPE:
            raise InputError("batch", getattr(batch, "dtype", batch), "an EVENT_DTYPE array")
        if len(batch) == 0:
            continue
        events = mark_replayed(batch)
        if speed is None:
            latest = max(latest, int(events["ts_event"].max()))
            yield events, latest
            continue
        clock = np.maximum.accumulate(events["ts_event"])  # pacing never goes back in time
        if first_ts is None:
            first_ts, wall0 = int(clock[0]), monotonic_ns()
        start = 0
        while start < len(events):
            stop = int(np.searchsorted(clock, clock[start] + slice_ns, side="left"))
            stop = max(stop, start + 1)
            due_ns = wall0 + (int(clock[start]) - first_ts) / speed
            wait_s = (due_ns - monotonic_ns()) / 1e9
            if wait_s > 0:
                sleep(wait_s)
            latest = max(latest, int(clock[stop - 1]))
            yield events[start:stop], latest
            start = stop


@dataclass
class ReplayStats:
    """What a replay republished."""

    events: int = 0
    batches: int = 0
    messages: int = 0
    duplicates: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    wall_s: float = 0.0


def replay_to_bus(
    bus: Bus,
    batches: Iterable[np.ndarray],
    speed: float | None = None,
    **pacing: object,
) -> ReplayStats:
    """Publish :func:`replay` of ``batches`` to ``bus``; returns counts and time span."""
    stats = ReplayStats()
    started = time.perf_counter()
    for events, now_ns in replay(batches, speed, **pacing):
        result = bus.publish(events)
        stats.events += result.events
        stats.messages += result.messages
        stats.duplicates += result.duplicates
        stats.batches += 1
        if stats.first_ts_ns is None:
            stats.first_ts_ns = int(events["ts_event"][0])
        stats.last_ts_ns = now_ns
    stats.wall_s = time.perf_counter() - started
    return stats
