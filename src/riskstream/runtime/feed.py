"""The feed node: a source of market events paced by the wall clock, published to the bus.

Live mode: market time runs at ``speed`` × wall time from the node's start. Every
``feed_tick_ms`` the node publishes the events whose market time has fallen due since the
previous tick (generating more from the simulator, or reading the replay, as needed), and
stamps each event's ``ts_recv`` with the wall-clock time of its receipt — the moment the
node takes it — so every downstream latency counts from there. Events are never held back
for the pipeline: if a stage falls behind, the events still go out on time and the stage's
latency grows (measured). If the source itself cannot keep up (generating the events takes
longer than they last), the *feed lag* grows: ``published wall time - due wall time`` of
each slice's oldest event, counted per event in the ``feed_lag`` histogram.

``speed=None`` publishes as fast as the source goes (``demo --max-speed``), optionally held
back by ``backlog`` (a callable the host provides: how many messages are published but not
yet consumed) so an in-memory bus never drops what a slow consumer has not read.

Resuming where it stopped (a process over NATS)
-----------------------------------------------
A feed process that is killed and started again must neither publish again what it
published (md would see every event twice: its sequencer refuses them as duplicates, but
the bus, the history and the latency figures would count them) nor skip anything. The bus's
message-id de-duplication alone cannot promise that: it holds ids for ``dedup_window_s``
only, and a restarted feed cuts its slices at other wall-clock instants, so its messages
get other ids anyway. The feed therefore keeps its position durably:

* every ``runtime.feed_checkpoint_s`` of wall time, right after a confirmed publication,
  it checkpoints its source (the simulator, pickled whole: random generators, books,
  market model; :class:`SimulatorSource`) with the events generated but not yet published,
  and each partition's last stream sequence then — taken as md takes its checkpoints
  (:mod:`riskstream.bus.checkpoint`: a forked child writes it, atomically);
* on start it restores that checkpoint; each partition whose stream holds more messages
  than the checkpoint recorded was published further before the crash: the node reads
  that partition's newest event (:meth:`~riskstream.bus.base.Bus.last_events`) and
  regenerates the source's events *without publishing them* up to and including that
  event (the simulator is deterministic: the same state gives the same events), per
  partition; it publishes from there. An event's identity is ``(source, instrument, seq)``.

The regeneration is bounded by what was published in one checkpoint interval (5 s: 2.5 M
events at 500,000 events/s, about 2.5 s of the simulator's time on this machine). The loop
pays a fork per checkpoint (10–25 ms measured for a 10,000-instrument feed at load 10,
outliers to 0.5 s when the machine starves it; ``feed_checkpoint_stall_max_ms``): one late
tick per interval, 1 in 500 of the 10 ms ticks at 5 s (at 2 s it would be 1 in 200, near
the p99 the e2e bench reports). A first start writes its checkpoint before
publishing anything, so a feed killed before its first periodic checkpoint resumes the
same way. A checkpoint that belongs to another stream (the streams were re-created) or to
another source (other simulator settings, universe or scenario) is refused
(:class:`~riskstream.bus.consumer.CheckpointMismatchError`), as md refuses one.

A publication the bus did not confirm (the broker restarted under it) is kept and, at the
next step, each partition's newest stored event tells how much of it was stored: the rest
is published again, cut into the same messages (same ids; the bus drops any it stored in
the meantime).
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from riskstream.bus.base import Bus, event_key, find_event
from riskstream.bus.checkpoint import CheckpointStore, PendingSave, begin_save
from riskstream.bus.consumer import CheckpointMismatchError
from riskstream.core.errors import ServiceUnavailableError
from riskstream.core.events import EVENT_DTYPE
from riskstream.core.messages import SUBJECTS, OrderAudit
from riskstream.runtime.latency import LatencyHistogram

log = logging.getLogger("riskstream.runtime")

Source = Iterator[tuple[np.ndarray, int]]
"""Event batches (EVENT_DTYPE, ``ts_event`` ascending) and the market time after each."""


class SimulatorSource:
    """The market simulator as a feed's :data:`Source` that a checkpoint can hold.

    Its batches cover ``seconds`` of market time from the simulator's time now (forever if
    None); pickled, it carries the whole simulator, so an unpickled copy goes on with the
    same events bit for bit.
    """

    def __init__(self, simulator: Any, seconds: float | None = None):
        self.simulator = simulator
        self.end_ns = None if seconds is None else simulator.now_ns + round(seconds * 1e9)
        self._batches: Iterator[tuple[np.ndarray, int]] | None = None

    def __iter__(self) -> SimulatorSource:
        return self

    def __next__(self) -> tuple[np.ndarray, int]:
        if self._batches is None:
            self._batches = self.simulator.batches(until_ns=self.end_ns)
        return next(self._batches)

    def __getstate__(self) -> dict[str, Any]:
        return {"simulator": self.simulator, "end_ns": self.end_ns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.simulator, self.end_ns = state["simulator"], state["end_ns"]
        self._batches = None


class _FeedState:
    """The feed's checkpointable state: its source and the events generated but not yet
    published, pickled (by the forked writer, off the feed's loop), and the fingerprint of
    the settings the source was built from."""

    def __init__(self, node: FeedNode):
        self.node = node

    def state(self) -> dict[str, np.ndarray]:
        blob = pickle.dumps((self.node.source, self.node._pending), protocol=5)
        return {
            "feed": np.frombuffer(blob, dtype=np.uint8),
            "fingerprint": np.array([self.node.fingerprint]),
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        # the file is this feed's own checkpoint (its folder is the data folder's)
        self.node.source, self.node._pending = pickle.loads(state["feed"].tobytes())


class FeedNode:
    """Publish a source's events to ``bus`` on the wall clock.

    Parameters
    ----------
    source : iterator of (events, now_ns)
        E.g. ``MarketSimulator.batches()`` or a replay's batches.
    bus : Bus
    speed : float or None
        Market seconds per wall second; None: as fast as possible.
    tick_ms : float
        Wall time between publications.
    backlog : callable, optional
        Messages published and not yet consumed; with ``speed=None`` the feed waits while
        it exceeds ``max_backlog``.
    max_backlog : int
    clock_ns : callable
        The wall clock (ns since the epoch).
    audit : callable, optional
        The order audit trail of a batch the source handed out (e.g.
        ``MarketSimulator.audit`` when the simulator names its accounts): published with
        each batch on ``SUBJECTS["order_audit"]`` of ``topics`` for the surveillance stage.
    topics : Topics, optional
    store : CheckpointStore, optional
        Where the feed keeps its position (a process over NATS); with one, the node
        resumes from it on construction (see the module docstring). The source must then
        pickle (:class:`SimulatorSource`).
    checkpoint_s : float
        Wall time between checkpoints.
    fingerprint : str
        What the source was built from (settings, universe, scenario): a checkpoint of
        another is refused.
    """

    name = "feed"

    def __init__(
        self,
        source: Source,
        bus: Bus,
        speed: float | None = 1.0,
        tick_ms: float = 5.0,
        backlog: Callable[[], int] | None = None,
        max_backlog: int = 64,
        clock_ns: Callable[[], int] = time.time_ns,
        audit: Callable[[np.ndarray], np.ndarray] | None = None,
        topics: Any = None,
        store: CheckpointStore | None = None,
        checkpoint_s: float = 5.0,
        fingerprint: str = "",
    ):
        self.source = source
        self.bus = bus
        self.speed = speed
        self.tick_ns = round(tick_ms * 1e6)
        self.backlog = backlog
        self.max_backlog = max_backlog
        self.clock_ns = clock_ns
        if audit is not None and topics is None:
            raise ValueError("an audit trail needs the topics to publish it on")
        self.audit = audit
        self.topics = topics
        self.events = 0
        self.messages = 0
        self.market_ns = 0  # market time of the newest event published
        self.due_ns = 0  # market time due at the latest step (wall clock x speed)
        self.lag = LatencyHistogram()
        self.lag_max_ns = 0
        self.exhausted = False
        self._pending = np.empty(0, dtype=EVENT_DTYPE)
        self._source_ns = 0  # market time the source has reached
        self._wall0: int | None = None
        self._market0 = 0
        self._next_tick = 0
        self._started = time.perf_counter()
        self.store = store
        self.checkpoint_ns = round(checkpoint_s * 1e9)
        self.fingerprint = fingerprint
        self.checkpoints = 0
        self.checkpoint_stall_max_s = 0.0
        self.resume_skipped = 0  # events regenerated, not published, on resuming
        self.resume_s = 0.0
        self.resent = 0  # events of unconfirmed publications published again
        self.already_stored = 0  # events of unconfirmed publications found stored
        self._unconfirmed: np.ndarray | None = None
        self._saving: PendingSave | None = None
        self._last_checkpoint = 0
        self._logs: dict[int, str] = {}
        if store is not None:
            self._resume()

    # -- position: checkpoint and resume ----------------------------------------------------
    def _resume(self) -> None:
        started = time.perf_counter()
        assert self.store is not None
        logs = {p: self.bus.log(p) for p in range(self.bus.partitions)}
        self._logs = {p: part.identity for p, part in logs.items()}
        saved = self.store.load()
        if saved is None:  # a new feed: it appends to whatever the streams hold
            self._checkpoint(wait=True)  # before publishing: a crash from here resumes
            return
        remedy = f"; delete {self.store} to start the feed's source from its beginning"
        if saved.bus_partitions != self.bus.partitions:
            raise CheckpointMismatchError(
                f"feed: the checkpoint was taken with {saved.bus_partitions} partitions, the "
                f"bus has {self.bus.partitions}{remedy}"
            )
        fingerprint = str(saved.state["fingerprint"][0]) if "fingerprint" in saved.state else ""
        if fingerprint != self.fingerprint:
            raise CheckpointMismatchError(
                f"feed: the checkpoint's source was built from {fingerprint!r}, this feed's "
                f"from {self.fingerprint!r} (other settings, universe or scenario){remedy}"
            )
        behind: dict[int, tuple[tuple[int, int, int], int]] = {}
        for p, part in logs.items():
            position = int(saved.positions.get(p, 0))
            if saved.logs.get(p) != part.identity or position > part.last_seq:
                raise CheckpointMismatchError(
                    f"feed, partition {p}: the checkpoint counts {position} messages of log "
                    f"{saved.logs.get(p)}, the bus's is {part.identity} holding "
                    f"{part.last_seq} (the stream was created again){remedy}"
                )
            if part.last_seq > position:  # published after the checkpoint
                last = self.bus.last_events(p)
                if last is not None and len(last):
                    behind[p] = (event_key(last[-1]), int(last["ts_event"][-1]))
        _FeedState(self).restore(saved.state)
        if behind:
            self._skip_published(behind)
        self.resume_s = time.perf_counter() - started
        log.warning(
            "feed resumed from %s: %d events regenerated without publishing (%.2f s)",
            self.store, self.resume_skipped, self.resume_s,
        )  # fmt: skip
        self._checkpoint(wait=True)

    def _skip_published(self, behind: dict[int, tuple[tuple[int, int, int], int]]) -> None:
        """Regenerate the source's events up to each partition's newest stored event
        (``behind``: partition → (event identity, its ``ts_event``)) and drop them; keep
        the others, in order, as pending."""
        kept = []
        pending = self._pending
        partitions = self.bus.partitions
        while behind:
            if len(pending) == 0:
                try:
                    pending, self._source_ns = next(self.source)
                except StopIteration:
                    raise CheckpointMismatchError(
                        f"feed: the source ended before the events the streams hold "
                        f"(partitions {sorted(behind)}): they are not this source's"
                    ) from None
            part = pending["instrument_id"] % partitions
            drop = np.zeros(len(pending), dtype=bool)
            for p, (key, ts) in list(behind.items()):
                mine = np.flatnonzero(part == p)
                if mine.size == 0:
                    continue
                at = find_event(pending[mine], key)
                if at is not None:
                    drop[mine[: at + 1]] = True
                    del behind[p]
                elif int(pending["ts_event"][mine[-1]]) > ts:
                    raise CheckpointMismatchError(
                        f"feed, partition {p}: the stream's newest event {key} (source, "
                        f"instrument, seq) is not one this source produces"
                    )
                else:
                    drop[mine] = True
            self.resume_skipped += int(drop.sum())
            kept.append(pending[~drop])
            pending = pending[:0]
        self._pending = np.concatenate([*kept, pending]) if kept else pending

    def _checkpoint(self, wait: bool = False) -> None:
        """Save the source, the pending events and each partition's last sequence (what
        the streams hold now: everything published before the pending events)."""
        if self.store is None or self._unconfirmed is not None:
            return
        if self._saving is not None:
            if not (wait or self._saving.done()):
                return  # the previous one is still being written
            self._saving.wait()
            self._saving = None
        started = time.perf_counter()
        positions = {p: self.bus.last_seq(p) for p in range(self.bus.partitions)}
        self._saving = begin_save(
            self.store, positions, _FeedState(self), self._logs, self.bus.partitions
        )
        self.checkpoint_stall_max_s = max(
            self.checkpoint_stall_max_s, time.perf_counter() - started
        )  # the loop's share: the positions' round trips and the fork
        self.checkpoints += 1
        self._last_checkpoint = self.clock_ns()
        if wait:
            self._saving.wait()
            self._saving = None

    def _settle(self) -> None:
        """Publish what the bus did not confirm, less what it stored all the same."""
        out = self._unconfirmed
        assert out is not None
        part = out["instrument_id"] % self.bus.partitions
        keep = np.ones(len(out), dtype=bool)
        for p in np.unique(part):
            last = self.bus.last_events(int(p))
            if last is None or not len(last):
                continue
            mine = np.flatnonzero(part == p)
            at = find_event(out[mine], event_key(last[-1]))
            if at is not None:  # stored up to there (whole messages: the rest is cut alike)
                keep[mine[: at + 1]] = False
        stored = int((~keep).sum())
        self.already_stored += stored
        self.events += stored
        rest = out[keep]
        self.resent += len(rest)
        self._unconfirmed = None
        if len(rest):
            self._publish(rest)

    def _fill(self, until_ns: int, max_batches: int = 16) -> None:
        """Generate until the pending events cover market time ``until_ns`` (or the source
        ends), at most ``max_batches`` batches: a source slower than the wall clock then
        publishes what it has every tick, and its lag shows, instead of going quiet."""
        parts = [self._pending]
        while (self._source_ns < until_ns or (len(parts) == 1 and len(parts[0]) == 0)) and len(
            parts
        ) <= max_batches:
            try:
                batch, now_ns = next(self.source)
            except StopIteration:
                self.exhausted = True
                break
            parts.append(batch)
            self._source_ns = now_ns
        if len(parts) > 1:
            self._pending = np.concatenate(parts)

    def step(self) -> bool:
        if self._unconfirmed is not None:
            self._settle()  # raises ServiceUnavailableError while the bus is still away
        if self.store is not None and self.clock_ns() - self._last_checkpoint >= self.checkpoint_ns:
            self._checkpoint()
        if self.exhausted and len(self._pending) == 0:
            time.sleep(self.tick_ns / 1e9)
            return False
        if self.speed is None:
            return self._step_max_speed()
        now = self.clock_ns()
        if self._wall0 is None:
            self._fill(0)  # the first batch tells where market time starts
            self._wall0 = now = self.clock_ns()
            self._market0 = (
                int(self._pending["ts_event"][0]) if len(self._pending) else self._source_ns
            )
            self._next_tick = now
        wait = self._next_tick - now
        if wait > 0:
            time.sleep(wait / 1e9)
            now = self.clock_ns()
        self._next_tick = max(self._next_tick + self.tick_ns, now)
        due_ns = self.due_ns = self._market0 + round((now - self._wall0) * self.speed)
        self._fill(due_ns)
        cut = int(np.searchsorted(self._pending["ts_event"], due_ns, side="right"))
        if cut == 0:
            return False
        out, self._pending = self._pending[:cut], self._pending[cut:]
        received = self.clock_ns()
        out["ts_recv"] = received
        due_wall = self._wall0 + (out["ts_event"][0] - self._market0) / self.speed
        lag = max(received - int(due_wall), 0)
        self.lag.add(np.array([lag]), weight=len(out))
        self.lag_max_ns = max(self.lag_max_ns, lag)
        self._publish(out)
        return True

    def _step_max_speed(self) -> bool:
        while self.backlog is not None and self.backlog() > self.max_backlog:
            time.sleep(0.001)
        if len(self._pending):  # left by a resume
            out, self._pending = self._pending, self._pending[:0]
        else:
            try:
                out, now_ns = next(self.source)
            except StopIteration:
                self.exhausted = True
                return False
            out = out.copy()
            self._source_ns = now_ns
        out["ts_recv"] = self.clock_ns()
        self._publish(out)
        return True

    def _publish(self, out: np.ndarray) -> None:
        self._unconfirmed = out  # until the bus confirms it (see _settle)
        try:
            result = self.bus.publish(out)
        except ServiceUnavailableError:
            log.warning("feed: a publication of %d events was not confirmed", len(out))
            raise
        self._unconfirmed = None
        if self.audit is not None:
            self.topics.publish(
                SUBJECTS["order_audit"], OrderAudit(events=out, audit=self.audit(out))
            )
        self.events += len(out)
        self.messages += result.messages
        self.market_ns = max(self.market_ns, int(out["ts_event"][-1]))

    def idle(self) -> bool:
        return True  # the feed consumes nothing

    @property
    def events_per_s(self) -> float:
        elapsed = time.perf_counter() - self._started
        return self.events / elapsed if elapsed > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        from riskstream.runtime.latency import percentile_s

        p99 = percentile_s(self.lag.counts, 99)
        return {
            "feed_events": self.events,
            "feed_messages": self.messages,
            "feed_events_per_s": round(self.events_per_s, 1),
            "feed_market_ns": self.market_ns,
            "feed_lag_p99_ms": None if p99 is None else round(p99 * 1e3, 3),
            "feed_lag_max_ms": round(self.lag_max_ns / 1e6, 3),
            "feed_lag_sum_s": self.lag.sum_s,
            "feed_speed": self.speed,
            "feed_done": self.exhausted and len(self._pending) == 0,  # a finite source ended
            "feed_checkpoints": self.checkpoints,
            "feed_checkpoint_stall_max_ms": round(self.checkpoint_stall_max_s * 1e3, 3),
            "feed_resume_skipped_events": self.resume_skipped,
            "feed_resume_s": round(self.resume_s, 3),
            "feed_resent_events": self.resent,
            "feed_already_stored_events": self.already_stored,
        }

    def histograms(self) -> dict[str, np.ndarray]:
        return {"feed_lag": self.lag.counts}

    def view(self) -> list[tuple[str, str]]:
        return [
            ("feed events/s", f"{self.events_per_s:,.0f}"),
            ("feed lag max", f"{self.lag_max_ns / 1e6:,.1f} ms"),
        ]

    def close(self) -> None:
        """Checkpoint where the feed stands (a clean restart then regenerates nothing)."""
        if self.store is not None and self._unconfirmed is None:
            self._checkpoint(wait=True)
        elif self._saving is not None:
            self._saving.wait()
