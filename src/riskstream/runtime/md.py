"""The market-data node: event partitions → books and features → market-state deltas.

Consumes every partition of the event bus with a durable
:class:`~riskstream.bus.consumer.CheckpointedConsumer` (the exactly-once machinery: books,
sequencer, features and market state are saved with the partition positions every
``checkpoint_s``, then the bus is acknowledged), applies each message to
:class:`~riskstream.md.stage.MdStage`, and every ``delta_interval_ms`` of wall time publishes
a :class:`~riskstream.core.messages.MarketStateDelta` of the market-state rows that changed
(all rows every ``keyframe_s``). A delta carries absolute values, not differences, so a
delta re-published after a restart from the checkpoint is harmless to its readers.

Checkpoints are written off the consuming thread (``CheckpointedConsumer(background=True)``;
``runtime.checkpoint_mode``, by default a ``copy`` of the arrays that a thread writes; the
bus is acknowledged when the file is in place), so md's loop stalls for the snapshot, not
for the write. The next fetch is sent before each batch is applied
(``runtime.md_read_ahead``): the pull's round trip and the decoding happen on the bus
client's thread while md's kernel, which releases the GIL, applies the current batch.

Restarts: md refuses a checkpoint that does not belong to the bus's streams
(:class:`~riskstream.bus.consumer.CheckpointMismatchError`). Each md process numbers its
deltas 1, 2, … under its own ``epoch`` (the wall-clock ns it started); readers follow the
numbering with :class:`DeltaSequence`, which tells a restarted md from a duplicate or a gap.

Latency: for every event, ``book_done_wall - ts_recv`` goes into the ``tick_to_book``
histogram (receipt → book and feature update). The receipt times of the events folded into
a delta travel with it (a uniform sample of ``recv_samples``) so the risk node can measure
tick → snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from riskstream.bus.base import Bus
from riskstream.bus.checkpoint import CheckpointStore
from riskstream.bus.consumer import CheckpointedConsumer
from riskstream.bus.topics import Topics
from riskstream.core.messages import SUBJECTS, MarketStateDelta, Quarantined
from riskstream.md.config import MdConfig
from riskstream.md.reasons import reason_text
from riskstream.md.stage import MdStage
from riskstream.runtime.config import RuntimeConfig
from riskstream.runtime.latency import LatencyHistogram, LoopProfile, summary

DELTA_COLUMNS = ("bid", "ask", "bid_size", "ask_size", "mid", "last", "spread", "ts_ns", "seq",
                 "stale")  # fmt: skip
"""The market-state arrays a delta carries: what risk (prices, spreads, option quotes),
limits (circuit breakers), regime and the service read. Depth, volume and microprice stay
in md (and in md's checkpoint)."""


MD_PHASES = ("fetch", "apply", "grow", "delta", "publish", "checkpoint")
"""The phases of md's loop in its :class:`~riskstream.runtime.latency.LoopProfile`:
``fetch`` (waiting for the bus — with the read-ahead, for the fetch sent during the last
apply — decoding, the consumer's bookkeeping), ``apply`` (books and
features, the numba kernel, and the latency histogram), ``grow`` (growing the order table
or the VWAP trade pool inside a batch), ``delta`` (building the market-state deltas),
``publish`` (sending them and the quarantine), ``checkpoint`` (starting a checkpoint: the
fork, or the copy); ``host``: the host's work between iterations (its statistics)."""

FETCH_EVENTS = 65_536
"""Events md asks the bus for per round (in messages of the size it sees)."""


class MdNode:
    """:class:`~riskstream.runtime.node.Node` running market data.

    Parameters
    ----------
    n_instruments : int
    md_config : MdConfig
    config : RuntimeConfig
    bus : Bus
        The event bus (all partitions consumed here).
    topics : Topics
        Where deltas go (``SUBJECTS["market"]``).
    store : CheckpointStore
        md's checkpoint (books, features, market state and partition positions).
    clock_ns : callable
        The wall clock.
    """

    name = "md"

    def __init__(
        self,
        n_instruments: int,
        md_config: MdConfig,
        config: RuntimeConfig,
        bus: Bus,
        topics: Topics,
        store: CheckpointStore,
        clock_ns: Callable[[], int] = time.time_ns,
    ):
        self.stage = MdStage(n_instruments, md_config)
        self.config = config
        self.bus = bus
        self.topics = topics
        self.clock_ns = clock_ns
        self.consumer = CheckpointedConsumer(
            bus,
            "md",
            self.stage,
            self._apply,
            store,
            checkpoint_every=1 << 62,
            max_messages=64,
            background=config.checkpoint_mode != "inline",
            # the next batch is fetched while this one is applied (the kernel releases
            # the GIL); the setting turns it off to compare, or should a bus misbehave
            read_ahead=config.md_read_ahead,
        )
        self.epoch = clock_ns()  # this incarnation: a restarted md has a larger one
        self.book_latency = LatencyHistogram()
        self.deltas = 0
        self.delta_rows = 0
        self._recv: list[np.ndarray] = []
        self._events_pending = 0
        self._ts_ns = 0
        self._delta_ns = round(config.delta_interval_ms * 1e6)
        self._keyframe_ns = round(config.keyframe_s * 1e9)
        self._checkpoint_ns = round(config.checkpoint_s * 1e9)
        self._last_delta = 0
        self._last_keyframe = 0  # a restarted md sends a keyframe first
        self._last_checkpoint = clock_ns()
        self.profile = LoopProfile(MD_PHASES)

    def _apply(self, events: np.ndarray) -> None:
        self.profile.mark("fetch")  # the fetch, decoding, and the consumer's bookkeeping
        grown = self.stage.engine.grow_ns
        now_ns = int(events["ts_event"].max())
        self.stage.on_batch(events, now_ns)
        done = self.clock_ns()
        recv = events["ts_recv"]
        self.book_latency.add(done - recv)
        self._recv.append(recv)
        self._events_pending += len(events)
        self._ts_ns = max(self._ts_ns, now_ns)
        self.profile.mark("apply")
        self.profile.move("apply", "grow", self.stage.engine.grow_ns - grown)
        if done - self._last_delta >= self._delta_ns:
            # due inside a round of many messages: sent now, not when the round ends (a
            # round of 65k events takes ~0.1 s at 500k events/s, five delta intervals)
            self.publish_delta(done)

    def step(self) -> bool:
        profile = self.profile
        profile.begin()
        # a fetch returns as soon as messages are there; with none it waits up to 50 ms (a
        # shorter pull can expire before a loaded server answers it)
        before = self.stage.events
        writing = self.consumer.saving
        applied = self.consumer.poll(timeout_s=0.05)
        profile.mark("fetch")
        if applied:
            # ask for about FETCH_EVENTS events a round: many small messages when the feed
            # publishes every few ms (one round trip each round), few large ones at max speed
            per_message = (self.stage.events - before) / applied
            self.consumer.max_messages = int(np.clip(FETCH_EVENTS / per_message, 8, 1024))
        now = self.clock_ns()
        if now - self._last_delta >= self._delta_ns:
            self.publish_delta(now)
            self.publish_quarantine()
            profile.mark("publish")
        if now - self._last_checkpoint >= self._checkpoint_ns:
            self.consumer.checkpoint()
            self._last_checkpoint = now
            profile.mark("checkpoint")
        profile.end(
            events=self.stage.events - before,
            checkpoint_writing=writing or self.consumer.saving,
        )
        return applied > 0

    def recover(self) -> None:
        """After the bus failed (:class:`~riskstream.runtime.node.NodeHost` calls it before
        stepping again): reposition the durable consumers just after what was applied."""
        self.consumer.recover()

    def publish_delta(self, now: int | None = None) -> int:
        """Publish the changed rows (all rows when a keyframe is due); the deltas sent."""
        now = self.clock_ns() if now is None else now
        self._last_delta = now
        state = self.stage.market_state
        full = now - self._last_keyframe >= self._keyframe_ns
        changed = state.take_updated()
        if full:
            ids = np.arange(state.n_instruments)
            self._last_keyframe = now
        else:
            ids = changed
        if ids.size == 0 and self._events_pending == 0:
            return 0
        recv = np.concatenate(self._recv) if self._recv else np.zeros(0, np.int64)
        if recv.size > self.config.recv_samples:
            pick = np.linspace(0, recv.size - 1, self.config.recv_samples).round().astype(np.int64)
            recv = recv[pick]
        events, self._recv, self._events_pending = self._events_pending, [], 0
        step = self.config.delta_max_rows
        parts = [ids[i : i + step] for i in range(0, max(ids.size, 1), step)]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1  # the receipts go with the last part: an event is
            self.deltas += 1  # reflected once every part of its delta is applied
            self.delta_rows += part.size
            delta = MarketStateDelta(
                seq=self.deltas,
                ts_ns=self._ts_ns,
                instrument_id=part.astype(np.int64),
                columns={c: getattr(state, c)[part] for c in DELTA_COLUMNS},
                events=events if last else 0,
                recv_ns=recv if last else np.zeros(0, np.int64),
                full=full,
                wall_ns=self.clock_ns(),
                epoch=self.epoch,
            )
            self.profile.mark("delta")
            # sent without waiting for the broker's confirmation (a round trip per message
            # would stall the loop); stored in order, a failure raised at a later call
            self.topics.publish_nowait(SUBJECTS["market"], delta)
            self.profile.mark("publish")
        return len(parts)

    def publish_quarantine(self) -> int:
        """Send the events md refused since the last call (``SUBJECTS["quarantine"]``)."""
        batch = self.stage.drain_quarantine()
        if len(batch) == 0:
            return 0
        self.topics.publish(
            SUBJECTS["quarantine"],
            Quarantined(batch.events, batch.reason, tuple(reason_text(batch.reason))),
        )
        return len(batch)

    def idle(self) -> bool:
        """Every published event applied and sent downstream in a delta."""
        caught_up = all(
            self.consumer.positions[p] >= self.bus.last_seq(p) for p in self.consumer.partitions
        )
        return caught_up and self._events_pending == 0

    def summary(self) -> dict[str, Any]:
        out = self.stage.summary()
        book = summary(self.book_latency.counts, "us")
        out.update(
            {
                "md_deltas": self.deltas,
                "md_delta_rows": self.delta_rows,
                "tick_to_book_p50_us": book["p50_us"],
                "tick_to_book_p99_us": book["p99_us"],
                "tick_to_book_sum_s": self.book_latency.sum_s,
                "md_checkpoints": self.consumer.stats.checkpoints,
                "md_checkpoint_stall_ms": round(self.consumer.stats.checkpoint_stall_s * 1e3, 3),
                "md_checkpoint_stall_max_ms": round(
                    self.consumer.stats.checkpoint_stall_max_s * 1e3, 3
                ),
                "md_checkpoint_save_ms": round(self.consumer.stats.checkpoint_save_s * 1e3, 1),
                "md_grows": dict(self.stage.engine.grows),
                "md_loop": self.profile.summary(),
            }
        )
        return out

    def histograms(self) -> dict[str, np.ndarray]:
        return {"tick_to_book": self.book_latency.counts}

    def view(self) -> list[tuple[str, str]]:
        rows = self.stage.view()
        p99 = summary(self.book_latency.counts, "us")["p99_us"]
        rows.append(("tick → book p99", "-" if p99 is None else f"{p99:,.0f} µs"))
        return rows

    def close(self) -> None:
        self.publish_delta()
        self.publish_quarantine()
        self.topics.flush()
        self.consumer.close()


def practice_market(md_config: MdConfig) -> tuple[Any, Any, MdStage]:
    """A small generated universe (50 instruments), its simulator and a throw-away md stage
    over it: what the nodes' warm-ups run their compiled code on."""
    from riskstream.feeds.config import SimulatorConfig, UniverseConfig
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.feeds.universe import generate_universe

    universe = generate_universe(UniverseConfig(instruments=50))
    simulator = MarketSimulator(universe, SimulatorConfig(batch_events=2048))
    stage = MdStage(len(universe), md_config.model_copy(update={"order_capacity": 1 << 12}))
    return universe, simulator, stage


def warm_up(md_config: MdConfig, batches: int = 4) -> None:
    """Compile md's kernels before the node consumes (a node that compiles on its first
    live batches starts seconds behind the wall clock): a few simulated batches of a small
    generated universe through a throw-away :class:`MdStage` (the compiled code is shared
    by the process). Batches go through as the bus hands them over, too: a decoded message
    is a read-only view of its payload, and numba compiles a read-only array as another
    type (on a cold cache, seconds on the first live message)."""
    from riskstream.bus import codec

    _, simulator, stage = practice_market(md_config)
    for i in range(batches):
        events = simulator.next_batch()
        if i % 2:  # as decoded from the bus: read-only
            events = codec.decode(codec.encode(events))
        stage.on_batch(events, int(events["ts_event"][-1]))
    stage.state()  # the checkpoint path too
    stage.close()


class DeltaSequence:
    """What a reader makes of each :class:`MarketStateDelta`: apply it or not.

    Deltas are numbered 1, 2, … within md's ``epoch`` (one per md process):

    * a larger epoch than the reader's: md restarted (from its checkpoint, which may be
      older than what the reader holds). The reader resets to the new md: it skips that
      md's deltas until its first keyframe (md sends one first) and takes its state from
      there; the numbering starts again. Counted in ``restarts``.
    * a smaller epoch: a delta of an md that was already replaced: skipped (``stale``).
    * same epoch, ``seq <= last``: delivered twice: skipped (``duplicates``).
    * same epoch, ``seq > last + 1``: deltas were lost; applied all the same (values are
      absolute), the rows the lost ones changed heal with the next keyframe (``gaps``).

    The first delta a reader sees is taken whatever it is (a reader that starts late
    fills its state from the deltas and keyframes that follow). ``reset`` is True right
    after :meth:`accept` took the keyframe that starts a restarted md's state: the reader's
    market time goes back to that delta's (the restored state is as of then).
    """

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.seq = 0
        self.restarts = 0
        self.stale = 0
        self.duplicates = 0
        self.gaps = 0
        self.awaiting_keyframe = False
        self.reset = False

    def accept(self, delta: MarketStateDelta) -> bool:
        """True if the reader should apply ``delta``; False to skip it."""
        self.reset = False
        if self.epoch is None or delta.epoch > self.epoch:
            if self.epoch is not None:
                self.restarts += 1
                self.awaiting_keyframe = True
            self.epoch, self.seq = delta.epoch, 0
        elif delta.epoch < self.epoch:
            self.stale += 1
            return False
        if delta.seq <= self.seq:
            self.duplicates += 1
            return False
        if self.seq and delta.seq != self.seq + 1:
            self.gaps += 1
        self.seq = delta.seq
        if self.awaiting_keyframe:
            if not delta.full:
                return False
            self.awaiting_keyframe = False
            self.reset = True
        return True

    def summary(self, prefix: str) -> dict[str, int]:
        return {
            f"{prefix}_md_restarts": self.restarts,
            f"{prefix}_delta_gaps": self.gaps,
            f"{prefix}_delta_duplicates": self.duplicates,
            f"{prefix}_delta_stale": self.stale,
        }


def apply_delta(state: Any, delta: MarketStateDelta) -> None:
    """Write a delta's rows into a reader's own :class:`~riskstream.core.state.MarketState`
    (or any object with the delta's columns as arrays, and ``updated``).

    Only rows whose values changed are flagged ``updated``: a keyframe, or a delta md
    re-sends after a restart, does not make the reader recompute what did not move.
    """
    ids = delta.instrument_id
    if ids.size == 0:
        return
    moved = np.zeros(ids.size, dtype=bool)
    for name, values in delta.columns.items():
        target = getattr(state, name, None)
        if target is None:
            continue
        old = target[ids]
        same = old == values
        if values.dtype.kind == "f":
            same |= np.isnan(old) & np.isnan(values)
        moved |= ~same
        target[ids] = values
    updated = getattr(state, "updated", None)
    if updated is not None:
        updated[ids[moved]] = True
