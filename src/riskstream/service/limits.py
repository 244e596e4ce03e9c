"""The service's window on :mod:`riskstream.limits`: what the dashboard, the REST API and the
metrics show of limits, alerts and kill switches, and the changes they make.

There is one limits engine, the pipeline's :class:`~riskstream.limits.stage.LimitsStage`.
After each check it publishes its state (:meth:`LimitsStage.published`: the limits in force,
their utilisation and ok / warning / breach states with the monitor's hysteresis, its alerts
and the kill switches), which travels with the risk snapshot — pushed by the
:class:`~riskstream.service.feed.ServiceStage` in process, or through the shared risk cache
to a ``riskstream serve`` in another process. :class:`LimitService` reads that state; it
computes nothing itself.

Changes go through the limits package, so they are validated (an unknown scope or type, a
threshold that is not a positive number, ``soft > hard`` are refused naming the field),
role-checked and audited in the reference DB (:class:`~riskstream.limits.registry.LimitRegistry`
and :class:`~riskstream.limits.killswitch.KillSwitchBoard` over
:class:`~riskstream.store.limits_repo.LimitRepository`). In process the service works on the
stage's own kill-switch board and asks the stage to re-read the stored limits before its next
check (:meth:`LimitService.attach`); another process's stage re-reads the store every
``limits.store_poll_s``.

**No limits stage publishing** (``riskstream serve`` following a cache that carries no limits
state, or snapshots pushed without one): the service lists the limits stored in the
reference DB with ``utilisation`` and ``exposure`` null and status ``n/a`` — not computed
here, because a second monitor would raise its own alerts and disagree with the one that
acts on breaches, and the pipeline alone holds the position-level inputs (P&L for drawdowns,
volumes for liquidation horizons). Kill switches then show their saved states.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from riskstream.core.clock import Clock, SystemClock
from riskstream.limits.killswitch import GLOBAL, KillSwitchBoard, SwitchStore, TradingState
from riskstream.limits.model import Actor, LimitDefinition
from riskstream.limits.monitor import Alert
from riskstream.limits.registry import LimitRegistry, LimitStore

NOT_AVAILABLE = "n/a"


class LimitsStore(LimitStore, SwitchStore, Protocol):
    """Limits and kill-switch states in one store (``LimitRepository``)."""


class LimitProvider(Protocol):
    """What the service needs of a limits engine."""

    def attach(self, board: KillSwitchBoard, reload: Callable[[], None]) -> None:
        """Work on an in-process limits stage's kill-switch board and reload hook."""

    def evaluate(
        self, state: dict[str, Any] | None, ts_ns: int
    ) -> tuple[list[dict[str, Any]], list[Alert]]:
        """Take in the limits state published with a snapshot (None: no limits stage);
        returns the utilisation rows and the alerts new since the last state."""

    def available(self) -> bool:
        """Whether a limits stage publishes utilisation."""

    def utilisation(self) -> list[dict[str, Any]]:
        """One row per monitored limit: its definition, exposure, utilisation, status."""

    def limits(self) -> list[dict[str, Any]]:
        """Every limit in force (``LimitDefinition.as_dict()`` plus ``source``)."""

    def set_limit(self, actor: Actor, limit: dict[str, Any], reason: str) -> dict[str, Any]:
        """Create or change a limit (validated, role-checked, audited)."""

    def delete_limit(self, actor: Actor, limit_id: str, reason: str) -> dict[str, Any]:
        """Remove a stored limit (role-checked, audited)."""

    def alerts(self, since_id: int = 0) -> list[Alert]:
        """Alerts, oldest first, with ids above ``since_id``."""

    def switches(self) -> list[dict[str, Any]]:
        """Kill-switch states, the global (``firm:firm``) one first."""

    def engage(self, actor: Actor, scope_id: str, state: str, reason: str) -> dict[str, Any]:
        """Engage a kill switch by hand; returns the transition."""

    def release(self, actor: Actor, scope_id: str, reason: str) -> dict[str, Any]:
        """Release a kill switch; returns the transition."""


class LimitService:
    """:class:`LimitProvider` over :mod:`riskstream.limits` (see the module docstring).

    Parameters
    ----------
    store : LimitsStore
        Where limits, switch states and their audit live
        (:class:`~riskstream.store.limits_repo.LimitRepository` on the reference DB).
    clock : Clock, optional
        Audit timestamps.
    max_alerts : int
        Alerts kept for ``/api/v1/alerts`` and the stream.
    """

    def __init__(self, store: LimitsStore, clock: Clock | None = None, max_alerts: int = 1000):
        self.store = store
        self.clock = clock or SystemClock()
        self._board: KillSwitchBoard | None = None
        self._listeners: list[Callable[[], None]] = []
        self._state: dict[str, Any] | None = None
        self._alerts: deque[Alert] = deque(maxlen=max_alerts)
        self._ids = itertools.count(1)
        self._run: str | None = None
        self._last_source_id = 0
        self._lock = threading.Lock()

    def attach(self, board: KillSwitchBoard, reload: Callable[[], None]) -> None:
        """Work on an in-process pipeline's limits stage: its kill-switch ``board`` (so a
        release acts at once) and its ``reload`` hook (called after each limit change)."""
        self._board = board
        self._listeners.append(reload)

    def _registry(self) -> LimitRegistry:
        # read afresh: another process (the CLI, a second service) may have changed them
        return LimitRegistry(self.store, self.clock)

    def _switchboard(self) -> KillSwitchBoard:
        if self._board is not None:
            return self._board
        return KillSwitchBoard(self.store, self.clock)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    # ---------------------------------------------------------------- the published state

    def evaluate(
        self, state: dict[str, Any] | None, ts_ns: int
    ) -> tuple[list[dict[str, Any]], list[Alert]]:
        new: list[Alert] = []
        with self._lock:
            self._state = state
            if state is None:
                return [], []
            if state.get("run_id") != self._run:  # a new pipeline run numbers alerts from 1
                self._run, self._last_source_id = state.get("run_id"), 0
            for raw in state.get("alerts") or ():
                if raw["alert_id"] <= self._last_source_id:
                    continue
                self._last_source_id = raw["alert_id"]
                alert = Alert(**{**raw, "alert_id": next(self._ids)})
                self._alerts.append(alert)
                new.append(alert)
            return list(state.get("utilisation") or ()), new

    def available(self) -> bool:
        return self._state is not None

    def utilisation(self) -> list[dict[str, Any]]:
        state = self._state
        if state is not None:
            return list(state.get("utilisation") or ())
        return [
            {**lim.as_dict(), "exposure": None, "utilisation": None, "status": NOT_AVAILABLE}
            for lim in self._registry().limits()
            if lim.enabled
        ]

    def _stored_rows(self) -> list[dict[str, Any]]:
        return [{**lim.as_dict(), "source": "stored"} for lim in self._registry().limits()]

    def limits(self) -> list[dict[str, Any]]:
        state = self._state
        return list(state["limits"]) if state is not None else self._stored_rows()

    def alerts(self, since_id: int = 0) -> list[Alert]:
        with self._lock:
            return [a for a in self._alerts if a.alert_id > since_id]

    def switches(self) -> list[dict[str, Any]]:
        state = self._state
        if self._board is not None or state is None:
            rows = self._switchboard().status()
        else:
            rows = list(state.get("switches") or ())
        if not any(r["scope_id"] == GLOBAL for r in rows):
            rows.insert(
                0,
                {"scope_id": GLOBAL, "state": TradingState.ACTIVE.value, "trigger": "",
                 "reason": "", "actor": "", "ts_ns": None},
            )  # fmt: skip
        rows.sort(key=lambda r: (r["scope_id"] != GLOBAL, r["scope_id"]))
        return rows

    # ---------------------------------------------------------------- changes

    def set_limit(self, actor: Actor, limit: dict[str, Any], reason: str) -> dict[str, Any]:
        change = self._registry().set_limit(actor, LimitDefinition.from_dict(limit), reason)
        self._changed()
        return change

    def delete_limit(self, actor: Actor, limit_id: str, reason: str) -> dict[str, Any]:
        change = self._registry().delete_limit(actor, limit_id, reason)
        self._changed()
        return change

    def engage(self, actor: Actor, scope_id: str, state: str, reason: str) -> dict[str, Any]:
        transition = self._switchboard().engage(actor, scope_id, reason, state)
        self._changed()
        return transition.as_dict()

    def release(self, actor: Actor, scope_id: str, reason: str) -> dict[str, Any]:
        transition = self._switchboard().release(actor, scope_id, reason)
        self._changed()
        return transition.as_dict()
