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
process reloads the saved states, so a switch survives a crash.
"""

from __future__ import annotations

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
        self._records: dict[str, SwitchRecord] = {}
        for row in store.load_switches():
            record = SwitchRecord(**{**row, "state": TradingState(row["state"])})
            self._records[record.scope_id] = record

    # ---------------------------------------------------------------- queries

    def state(self, scope_id: str) -> TradingState:
        record = self._records.get(parse_scope_id(scope_id))
        return record.state if record else TradingState.ACTIVE

    def engaged(self) -> dict[str, SwitchRecord]:
        """Every scope not ``active``."""
        return {k: r for k, r in self._records.items() if r.state is not TradingState.ACTIVE}

    def status(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in sorted(self._records.values(), key=lambda r: r.scope_id)]

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
        if self.state(scope_id) is TradingState.ACTIVE:
            raise InputError("scope", scope_id, "a scope whose kill switch is engaged")
        return self._move(scope_id, TradingState.ACTIVE, "release", reason, actor)

    def _move(
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
        transition = Transition(scope_id, before, state, trigger, reason, actor.user, ts)
        if self.publish is not None:
            self.publish(transition)
        return transition


class CircuitBreaker:
    """Market-data conditions that halt trading: a price gap or a stale feed.

    Parameters
    ----------
    gap_fraction : float
        A mid that moves more than this fraction between two checks trips the instrument's
        switch (``halted``): the price is either wrong or the market is disorderly.
    stale_s : float
        An instrument whose last update is older than this is stale.
    stale_share : float
        When at least this share of held instruments is stale, the global switch halts.
    """

    def __init__(self, gap_fraction: float, stale_s: float, stale_share: float):
        self.gap_fraction = gap_fraction
        self.stale_ns = int(stale_s * 1e9)
        self.stale_share = stale_share
        self._last_mid: np.ndarray | None = None

    def check(
        self,
        board: KillSwitchBoard,
        mid: np.ndarray,
        last_update_ns: np.ndarray,
        held: np.ndarray,
        now_ns: int,
    ) -> list[Transition]:
        """Trip switches for gapped instruments and for a stale feed; returns transitions."""
        out: list[Transition] = []
        mid = np.asarray(mid, dtype=np.float64)
        if self._last_mid is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                move = np.abs(mid / self._last_mid - 1.0)
            gapped = np.flatnonzero(held & np.isfinite(move) & (move > self.gap_fraction))
            for i in gapped:
                out.append(
                    board.trip(
                        f"instrument:{i}",
                        "price_gap",
                        f"mid moved {move[i]:.1%} in one update (limit {self.gap_fraction:.0%})",
                        TradingState.HALTED,
                    )
                )
        self._last_mid = mid.copy()
        if held.any():
            stale = (now_ns - np.asarray(last_update_ns)[held]) > self.stale_ns
            share = float(stale.mean())
            if share >= self.stale_share:
                out.append(
                    board.trip(
                        GLOBAL,
                        "stale_feed",
                        f"{share:.0%} of held instruments have no update for "
                        f"{self.stale_ns / 1e9:g} s",
                        TradingState.HALTED,
                    )
                )
        return [t for t in out if t.before is not t.after]


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
