"""Kill switches: an explicit state machine per scope, persistent, released only by a
risk manager.

Each scope (``firm:firm`` is the global switch, ``desk:Rates``, ``instrument:42`` ...)
is in one of three states (the trading-state machine of nautilus_trader's risk engine):

``active``
    trading as normal.
``reducing``
    new risk-increasing orders are refused; orders that only reduce positions pass (the
    automatic reduction of :mod:`riskstream.limits.reduction` runs in this state).
``halted``
    every new order in the scope is refused (circuit breakers: a price gap or a stale
    feed means prices cannot be trusted to trade on).

Transitions: a hard breach moves ``active → reducing``; a manual command or a circuit
breaker moves any state to ``reducing`` or ``halted``; only :meth:`KillSwitchBoard.release`
(role ``risk_manager`` or above) returns a scope to ``active``. Every transition is saved
(with its audit record) *before* it takes effect in memory, and published; a restarted
process reloads the saved states, so a switch survives a crash, and :meth:`KillSwitchBoard.reload`
takes in what another process (``riskstream serve``'s kill-switch route) saved. The board
is thread-safe: the pipeline trips switches on its thread while the service releases them on
its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import InputError
from riskstream.limits.model import Actor, AuditRecord, Role, Scope

GLOBAL = "firm:firm"
SYSTEM = Actor("riskstream", Role.ADMIN)  # automatic triggers act as the system


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


@dataclass(frozen=True)
class SwitchRecord:
    """The persisted state of one scope's switch."""

    scope_id: str
    state: TradingState
    trigger: str  # hard_breach | manual | price_gap | stale_feed | release
    reason: str
    actor: str
    ts_ns: int

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "state": self.state.value}


@dataclass(frozen=True)
class Transition:
    """A published state change."""

    scope_id: str
    before: TradingState
    after: TradingState
    trigger: str
    reason: str
    actor: str
    ts_ns: int

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "before": self.before.value, "after": self.after.value}


class SwitchStore(Protocol):
    """Where switch states live (the reference DB in production; memory in tests)."""

    def load_switches(self) -> list[dict[str, Any]]: ...

    def save_switch(self, record: dict[str, Any], audit: dict[str, Any]) -> None:
        """Persist a switch row and its audit row atomically."""


def parse_scope_id(scope_id: str) -> str:
    """Validate ``scope:key`` (``firm`` alone means the global switch)."""
    text = str(scope_id).strip()
    if text in ("firm", "global", GLOBAL):
        return GLOBAL
    scope, sep, key = text.partition(":")
    valid = {s.value for s in Scope}
    if not sep or scope not in valid or not key.strip():
        raise InputError(
            "scope", scope_id, "'firm' or scope:key with scope one of " + ", ".join(sorted(valid))
        )
    return f"{scope}:{key.strip()}"


class KillSwitchBoard:
    """Every scope's trading state.

    Parameters
    ----------
    store : SwitchStore
        Saved states are loaded at construction (a restart keeps them).
    clock : Clock, optional
    publish : callable, optional
        Called with each :class:`Transition` after it is saved.
    """

    def __init__(
        self,
        store: SwitchStore,
        clock: Clock | None = None,
        publish: Callable[[Transition], None] | None = None,
    ):
        self.store = store
        self.clock = clock or SystemClock()
        self.publish = publish
        self._lock = threading.RLock()
        self._records: dict[str, SwitchRecord] = {}
        self.reload()

    def reload(self) -> None:
        """Re-read every saved state from the store (the saved state is the truth: each
        transition is saved before it takes effect)."""
        with self._lock:  # a transition saved meanwhile must not be overwritten by older rows
            records = {}
            for row in self.store.load_switches():
                record = SwitchRecord(**{**row, "state": TradingState(row["state"])})
                records[record.scope_id] = record
            self._records = records

    # ---------------------------------------------------------------- queries

    def state(self, scope_id: str) -> TradingState:
        record = self._records.get(parse_scope_id(scope_id))
        return record.state if record else TradingState.ACTIVE

    def engaged(self) -> dict[str, SwitchRecord]:
        """Every scope not ``active``."""
        with self._lock:
            return {k: r for k, r in self._records.items() if r.state is not TradingState.ACTIVE}

    def status(self) -> list[dict[str, Any]]:
        """Every scope whose switch has ever moved, by scope id."""
        with self._lock:
            records = sorted(self._records.values(), key=lambda r: r.scope_id)
        return [r.as_dict() for r in records]

    def check_orders(
        self,
        scope_ids: Mapping[str, np.ndarray] | None,
        position: np.ndarray,
        order: np.ndarray,
    ) -> np.ndarray:
        """Which orders may go out (vectorised pre-trade check).

        Parameters
        ----------
        scope_ids : mapping of scope kind to ndarray of str, shape (n,)
            Each order's member of the scopes that have switches (e.g. ``{"desk": [...],
            "instrument": [...]}``); the global switch always applies.
        position, order : ndarray of shape (n,)
            Current signed position and signed order quantity.

        Returns
        -------
        ndarray of bool, shape (n,)
            False where the order's scope is halted, or reducing and the order increases
            risk (``|position + order| > |position|``, which includes flipping sides).
        """
        position = np.asarray(position, dtype=np.float64)
        order = np.asarray(order, dtype=np.float64)
        increases = np.abs(position + order) > np.abs(position) + 1e-12
        allowed = np.ones(len(order), dtype=bool)
        engaged = self.engaged()
        for scope_id, record in engaged.items():
            if scope_id == GLOBAL:
                hit = np.ones(len(order), dtype=bool)
            else:
                kind, _, key = scope_id.partition(":")
                members = (scope_ids or {}).get(kind)
                if members is None:
                    continue
                hit = np.asarray(members).astype(str) == key
            block = hit if record.state is TradingState.HALTED else hit & increases
            allowed &= ~block
        return allowed

    # ---------------------------------------------------------------- transitions

    def trip(self, scope_id: str, trigger: str, reason: str, state: TradingState) -> Transition:
        """An automatic trigger (hard breach, price gap, stale feed) engages a switch.

        A switch never moves to a *less* restrictive state this way (halted stays halted).
        """
        scope_id = parse_scope_id(scope_id)
        with self._lock:
            current = self.state(scope_id)
            order = [TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED]
            if order.index(state) <= order.index(current):
                return Transition(scope_id, current, current, trigger, reason, SYSTEM.user, 0)
            return self._move(scope_id, state, trigger, reason, SYSTEM)

    def engage(
        self,
        actor: Actor,
        scope_id: str,
        reason: str,
        state: TradingState | str = TradingState.HALTED,
    ) -> Transition:
        """A manual kill switch (role ``risk_manager`` or above)."""
        actor.require(Role.RISK_MANAGER, "engage a kill switch")
        try:
            target = TradingState(str(state))
        except ValueError:
            raise InputError("state", state, "reducing or halted") from None
        if target is TradingState.ACTIVE:
            raise InputError("state", state, "reducing or halted (use release to resume)")
        return self._move(parse_scope_id(scope_id), target, "manual", reason, actor)

    def release(self, actor: Actor, scope_id: str, reason: str) -> Transition:
        """Resume trading in a scope (role ``risk_manager`` or above, with a reason)."""
        actor.require(Role.RISK_MANAGER, "release a kill switch")
        if not reason or not reason.strip():
            raise InputError("reason", reason, "a reason for releasing the kill switch")
        scope_id = parse_scope_id(scope_id)
        with self._lock:
            if self.state(scope_id) is TradingState.ACTIVE:
                raise InputError("scope", scope_id, "a scope whose kill switch is engaged")
            return self._move(scope_id, TradingState.ACTIVE, "release", reason, actor)

    def _move(
        self, scope_id: str, state: TradingState, trigger: str, reason: str, actor: Actor
    ) -> Transition:
        with self._lock:
            transition = self._save(scope_id, state, trigger, reason, actor)
        if self.publish is not None:
            self.publish(transition)
        return transition

    def _save(
        self, scope_id: str, state: TradingState, trigger: str, reason: str, actor: Actor
    ) -> Transition:
        before = self.state(scope_id)
        ts = self.clock.now_ns()
        record = SwitchRecord(scope_id, state, trigger, reason, actor.user, ts)
        audit = AuditRecord(
            ts_ns=ts,
            actor=actor.user,
            role=actor.role.label,
            action="killswitch." + ("release" if state is TradingState.ACTIVE else "engage"),
            target=f"killswitch:{scope_id}",
            before={"state": before.value},
            after={"state": state.value, "trigger": trigger},
            reason=reason,
        )
        self.store.save_switch(record.as_dict(), audit.as_dict())
        self._records[scope_id] = record
        return Transition(scope_id, before, state, trigger, reason, actor.user, ts)


class CircuitBreaker:
    """Market-data conditions that halt trading: a price gap or a stale feed.

    Exchanges stop trading an instrument whose price leaves a band around its recent price
    (the US "limit up-limit down" bands of the SEC-approved NMS plan of 2012: 5% to 20% by
    price tier; the CME's dynamic circuit breakers) and a firm stops trading when it can no
    longer see the market. Both conditions mean the prices cannot be trusted to trade on,
    so both trip ``halted``: no order at all, automatic reductions included.

    **Price gap** (per instrument, trips ``instrument:<id>``). Between two checks an
    instrument's mid moves by more than ``gap_fraction`` *and* its new quote does not
    overlap its previous one (new bid above the old ask, or new ask below the old bid):
    prices jumped over levels where nobody could trade. The overlap rule keeps the normal
    noise of thin books out (a penny option whose mid moves 0.03 → 0.045 inside a
    0.01-0.05 market has not gapped). Each instrument's move is divided by
    ``gap_scale`` (at least 1): an option's premium moves its elasticity
    :math:`\\Omega = S\\,\\partial V/\\partial S / V` times its underlying's relative move, so
    options gap on the *underlying-equivalent* move (a gap in the underlying shows in its
    options' own quotes, which trip their own switches). The reference is each instrument's
    last valid quote: a gap across a one-sided spell (mid NaN) is still seen; instruments
    never quoted, or flagged stale by ``md`` (sequence gap in recovery), are not checked.

    **Stale feed** (trips the global switch). An instrument is stale when its last update
    is older than ``stale_s``, or ``md`` flags it (gap recovery). When at least
    ``stale_share`` of held instruments are stale the feed is stale. *Warm-up rule*: an
    instrument not quoted yet is not stale during the first ``stale_s`` of event time after
    the first check (the feed is still filling the books at start-up); after that it counts
    as stale, so a feed that never starts still trips.

    Each check is a few vectorised passes over the held instruments; switches are tripped
    (and persisted) only for instruments that gapped.

    Parameters
    ----------
    gap_fraction : float
        Largest move between two checks that is not a gap (0.15 = 15%).
    stale_s : float
        An instrument whose last update is older than this is stale.
    stale_share : float
        When at least this share of held instruments is stale, the global switch halts.
    """

    def __init__(self, gap_fraction: float, stale_s: float, stale_share: float):
        self.gap_fraction = gap_fraction
        self.stale_ns = int(stale_s * 1e9)
        self.stale_share = stale_share
        self._ref_mid: np.ndarray | None = None  # last valid quote of each instrument
        self._ref_bid: np.ndarray | None = None
        self._ref_ask: np.ndarray | None = None
        self._armed_ns: int | None = None  # event time of the first check
        self._held = np.empty(0, dtype=np.int64)  # held instruments at the last check
        self.trips = {"price_gap": 0, "stale_feed": 0}  # switches this breaker engaged
        self.stale_share_now = 0.0  # share of held instruments stale at the last check

    def check(
        self,
        board: KillSwitchBoard,
        mid: np.ndarray,
        last_update_ns: np.ndarray,
        held: np.ndarray,
        now_ns: int,
        bid: np.ndarray | None = None,
        ask: np.ndarray | None = None,
        gap_scale: np.ndarray | None = None,
        feed_stale: np.ndarray | None = None,
    ) -> list[Transition]:
        """Trip switches for gapped instruments and for a stale feed; returns the
        transitions that changed a state.

        Parameters
        ----------
        board : KillSwitchBoard
        mid, last_update_ns : ndarray of shape (n_instruments,)
            Mids (NaN: no two-sided quote) and event time of each instrument's last update
            (0: never updated), e.g. :class:`riskstream.core.state.MarketState` ``mid``
            and ``ts_ns``.
        held : ndarray of bool, shape (n_instruments,)
            Instruments with a position (only those are checked).
        now_ns : int
            Event time of the check.
        bid, ask : ndarray of shape (n_instruments,), optional
            Best quotes, for the overlap rule (without them a move alone is a gap).
        gap_scale : ndarray of shape (n_instruments,), optional
            Divides each instrument's relative move (option elasticity; default 1).
        feed_stale : ndarray of bool, shape (n_instruments,), optional
            ``md``'s stale flags (sequence gap being recovered).
        """
        out: list[Transition] = []
        mid = np.asarray(mid, dtype=np.float64)
        n = mid.shape[0]
        h = np.flatnonzero(np.asarray(held, dtype=bool))  # everything below is over held only
        if self._armed_ns is None:
            if now_ns <= 0:
                # no market time yet (md's keyframes before its first event carry 0): armed
                # here, the warm-up would be over at the first real quote, and every held
                # instrument not quoted by then would count stale — the firm was halted
                # at every fresh start of `riskstream up` that way
                return []
            self._armed_ns = int(now_ns)
        if self._ref_mid is None:
            self._ref_mid, self._ref_bid, self._ref_ask = (np.full(n, np.nan) for _ in range(3))
            self._held = h
        elif not np.array_equal(h, self._held):
            # a newly held instrument starts from its next quote, never from one seen long
            # before it was held (that would compare prices minutes or hours apart)
            new = np.setdiff1d(h, self._held, assume_unique=True)
            self._ref_mid[new] = np.nan
            self._held = h
        flagged = (
            np.zeros(h.size, dtype=bool)
            if feed_stale is None
            else np.asarray(feed_stale, dtype=bool)[h]
        )
        m = mid[h]
        valid = (m > 0) & np.isfinite(m) & ~flagged
        ref = self._ref_mid[h]
        with np.errstate(invalid="ignore"):
            move = np.abs(m / ref - 1.0)  # NaN where there is no reference yet
        if gap_scale is not None:
            move /= np.maximum(np.asarray(gap_scale, dtype=np.float64)[h], 1.0)
        with np.errstate(invalid="ignore"):
            cand = np.flatnonzero(valid & (move > self.gap_fraction))
        for k in cand:  # rare: the overlap rule and the trip only for large moves
            i = int(h[k])
            quoted = bid is not None and ask is not None
            if quoted and bid[i] <= self._ref_ask[i] and ask[i] >= self._ref_bid[i]:
                continue  # the old and new quotes overlap: a move inside a wide market
            out.append(
                board.trip(
                    f"instrument:{i}",
                    "price_gap",
                    f"mid {ref[k]:.6g} -> {m[k]:.6g} ({move[k]:.1%} underlying-equivalent, "
                    f"limit {self.gap_fraction:.0%}) with no overlap of the quotes",
                    TradingState.HALTED,
                )
            )
        upd = h[valid]
        self._ref_mid[upd] = m[valid]
        if bid is not None and ask is not None:
            self._ref_bid[upd] = np.asarray(bid)[upd]
            self._ref_ask[upd] = np.asarray(ask)[upd]

        if h.size:
            ts = np.asarray(last_update_ns)[h]
            warmed_up = now_ns - self._armed_ns > self.stale_ns
            if warmed_up:  # not quoted yet counts as stale once the warm-up is over
                stale = (now_ns - ts > self.stale_ns) | flagged
            else:
                stale = ((ts > 0) & (now_ns - ts > self.stale_ns)) | flagged
            share = float(np.count_nonzero(stale)) / h.size
            self.stale_share_now = share
            if share >= self.stale_share:
                out.append(
                    board.trip(
                        GLOBAL,
                        "stale_feed",
                        f"{share:.0%} of held instruments have no update for "
                        f"{self.stale_ns / 1e9:g} s (limit {self.stale_share:.0%})",
                        TradingState.HALTED,
                    )
                )
        changed = [t for t in out if t.before is not t.after]
        for t in changed:
            self.trips[t.trigger] += 1
        return changed


class MemorySwitchStore:
    """Switch states in memory (tests, and runs without a reference DB)."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.audit: list[dict[str, Any]] = []

    def load_switches(self) -> list[dict[str, Any]]:
        return list(self.records.values())

    def save_switch(self, record: dict[str, Any], audit: dict[str, Any]) -> None:
        self.records[record["scope_id"]] = dict(record)
        self.audit.append(audit)
