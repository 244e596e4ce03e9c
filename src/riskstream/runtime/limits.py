"""The limits node: the limits stage on risk snapshots read from the bus.

The node hosts a :class:`~riskstream.limits.stage.LimitsStage` (the same stage the risk
node used to host on its own thread, unchanged) over inputs that are all messages:

* :class:`~riskstream.risk.snapshot.RiskSnapshot` on ``SUBJECTS["snapshot"]``: each one is
  checked, in order, as the risk node's own thread used to check each snapshot right after
  computing it; then the node publishes the :class:`LimitState` after that check;
* :class:`MarketStateDelta` on ``SUBJECTS["market"]`` into a market-state replica of its own
  (:class:`~riskstream.runtime.readers.DeltaReader`): the quotes the circuit breakers and
  the venue read. After every batch of deltas the stage runs its breakers and lets due
  child orders go out (``on_batch`` at the newest delta's market time), as before;
* the position keeper's :class:`PositionsChanged` (the stage follows the newest version
  itself) — reductions go out as :class:`Fill` on ``SUBJECTS["fills"]`` to the keeper.

Its market time at a check is the snapshot's as-of time (the risk node's market time when
it refreshed), so a child order's id (:meth:`LimitController.order_id`: limit, programme
start, period, book, instrument) is a function of the snapshots alone: both members of a
hot-standby pair (:mod:`riskstream.runtime.standby`) that read the same snapshots name the
same orders, and the bus and the keeper's journal store and apply each once.

What a member knows is what it has read since it started: a reduction programme begun
before, and the reference limits (sized on the first snapshot that prices the whole book,
:func:`~riskstream.limits.stage.reference_limits`) come from the snapshots it checked. So
the two members of a pair start together, before the first full snapshot (``riskstream up
--standby`` does); a member restarted later (the supervisor restarting a killed primary)
joins as the standby and sizes its reference limits on a later snapshot — stored limits
(``riskstream limits set``, the API) are the same for both, and kill switches are in the
reference DB.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from riskstream.bus.topics import Topics
from riskstream.core.events import empty_events
from riskstream.core.messages import SUBJECTS, LimitState
from riskstream.runtime.readers import DeltaReader
from riskstream.runtime.risk import subscribe_latest


class LeaderSwitchStore:
    """The kill-switch store as a member of a hot-standby pair sees it: only the leader
    writes (a pair writing every trip twice would audit it twice); reads pass through.

    A standby's own transitions are held, not written: the leader makes the same ones
    (both check the same snapshots) and the store is the truth each member re-reads every
    ``limits.store_poll_s`` — a reload while standing by drops what was held. On taking
    over, the held transitions whose state the store lacks (tripped while the primary was
    dead, before the lease expired) are written at the next read or write.

    Parameters
    ----------
    store : SwitchStore
        The reference DB's (``LimitRepository``).
    lease : Lease
        The pair's lease (``LeaderTopics.lease``).
    """

    def __init__(self, store: Any, lease: Any):
        self.store = store
        self.lease = lease
        self._held: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    def load_switches(self) -> list[dict[str, Any]]:
        if self.lease.is_leader:
            self._flush()
        else:
            self._held.clear()  # the store is the truth: the leader wrote what it tripped
        return self.store.load_switches()

    def save_switch(self, record: dict[str, Any], audit: dict[str, Any]) -> None:
        if not self.lease.is_leader:
            self._held[record["scope_id"]] = (record, audit)
            return
        self._flush()
        self.store.save_switch(record, audit)

    def _flush(self) -> None:
        if not self._held:
            return
        stored = {row["scope_id"]: row["state"] for row in self.store.load_switches()}
        held, self._held = self._held, {}
        for scope_id, (record, audit) in held.items():
            if stored.get(scope_id, "active") != record["state"]:
                self.store.save_switch(record, audit)


class SnapshotHolder:
    """What the limits stage reads its snapshot from (``.last``, as on a ``RiskStage``)."""

    def __init__(self) -> None:
        self.last: Any = None


class LimitsNode:
    """:class:`~riskstream.runtime.node.Node` checking limits on every risk snapshot.

    Parameters
    ----------
    topics : Topics
        Inputs are read and ``LimitState`` / ``Fill`` published here (a
        :class:`~riskstream.runtime.standby.LeaderTopics` for a hot-standby member).
    reader : DeltaReader
        The node's market-state replica; the stage's ``market`` must be its ``state``.
    build_stage : callable
        ``build_stage(holder, market) -> LimitsStage`` over a :class:`SnapshotHolder`.
    """

    name = "limits"

    def __init__(self, topics: Topics, reader: DeltaReader, build_stage: Any):
        self.topics = topics
        self.reader = reader
        self.holder = SnapshotHolder()
        self.stage = build_stage(self.holder, reader.state)
        # the newest snapshot stored when the node starts is checked first (a restarted
        # node acts on the state in force, not on history)
        self.snapshots = subscribe_latest(topics, SUBJECTS["snapshot"])
        self._snapshot_seq = topics.last_seq(SUBJECTS["snapshot"]) - 1
        self.states_published = 0
        self._no_events = empty_events(0)

    def step(self) -> bool:
        got = self.reader.read(0.0)
        if got:  # circuit breakers and due child orders at the newest market time
            self.stage.on_batch(self._no_events, self.reader.ts_ns)
        snaps = self.snapshots.fetch(64, timeout_s=0.0 if got else 0.02)
        for seq, snap in snaps:
            # the replica first reads the deltas the snapshot was computed from (risk read
            # them from the same subject, so they are there): the breakers check it at the
            # snapshot's market time, and instruments whose deltas it had not read yet would
            # look stale by the gap — at a replay's 240x, 125 ms of wall behind risk is the
            # stale-feed rule's 30 s, and the firm was halted on it
            while self.reader.ts_ns < snap.ts_ns and self.reader.read(0.0):
                pass
            self._snapshot_seq = seq
            self.holder.last = snap
            self.stage.on_batch(self._no_events, int(snap.ts_ns))
            self.topics.publish(
                SUBJECTS["limits"],
                LimitState(snap.ts_ns, snap.lineage_id, self.stage.published()),
            )
            self.states_published += 1
        return bool(got or snaps)

    def idle(self) -> bool:
        checked = self._snapshot_seq >= self.topics.last_seq(SUBJECTS["snapshot"])
        return checked and self.reader.caught_up()

    def summary(self) -> dict[str, Any]:
        out = self.stage.summary()
        out["limit_states_published"] = self.states_published
        return out

    def histograms(self) -> dict[str, np.ndarray]:
        return {}

    def view(self) -> list[tuple[str, str]]:
        return self.stage.view()

    def close(self) -> None:
        self.snapshots.close()
        self.reader.close()
        self.stage.close()
