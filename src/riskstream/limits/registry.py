"""The limits in force: changed only by authorised roles, every change audited.

:class:`LimitRegistry` is the limits-side API the CLI and the service call. It takes the
acting :class:`~riskstream.limits.model.Actor` on every change, checks the role
(``risk_manager`` or above), validates the definition, and hands the change and its
:class:`~riskstream.limits.model.AuditRecord` to the injected :class:`LimitStore`, which
writes both atomically (``riskstream.store.limits_repo`` on the reference DB). A refused
change raises and leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import InputError
from riskstream.limits.model import Actor, AuditRecord, LimitDefinition, Role


class LimitStore(Protocol):
    """Persistence of limits as plain rows (``limits`` never imports ``store``; the
    reference-DB implementation is ``riskstream.store.limits_repo.LimitRepository``)."""

    def load_limits(self) -> list[dict[str, Any]]: ...

    def save_limit(self, limit: dict[str, Any], audit: dict[str, Any]) -> None:
        """Insert or replace a limit row and append its audit row in one transaction."""

    def delete_limit(self, limit_id: str, audit: dict[str, Any]) -> None:
        """Remove a limit and append its audit row in one transaction."""


class LimitRegistry:
    """The authoritative set of limits.

    Parameters
    ----------
    store : LimitStore
    clock : Clock, optional
    on_change : callable, optional
        Called with the full list of limits after each change (e.g. to recompile a
        :class:`~riskstream.limits.monitor.LimitMonitor`).
    """

    def __init__(
        self,
        store: LimitStore,
        clock: Clock | None = None,
        on_change: Callable[[list[LimitDefinition]], None] | None = None,
    ):
        self.store = store
        self.clock = clock or SystemClock()
        self.on_change = on_change
        self._limits = {}
        for row in store.load_limits():
            lim = LimitDefinition.from_dict(row)
            self._limits[lim.limit_id] = lim

    def limits(self) -> list[LimitDefinition]:
        return sorted(self._limits.values(), key=lambda x: x.limit_id)

    def get(self, limit_id: str) -> LimitDefinition:
        try:
            return self._limits[limit_id]
        except KeyError:
            raise InputError("limit_id", limit_id, "the id of an existing limit") from None

    def set_limit(
        self, actor: Actor, limit: LimitDefinition | dict[str, Any], reason: str
    ) -> dict[str, Any]:
        """Create or change a limit; returns ``{limit_id, before, after}``.

        Raises
        ------
        PermissionDeniedError
            The actor is below ``risk_manager``.
        InputError
            The definition is invalid or no reason is given.
        """
        actor.require(Role.RISK_MANAGER, "change a limit")
        if not isinstance(limit, LimitDefinition):
            limit = LimitDefinition.from_dict(limit)
        if not reason or not reason.strip():
            raise InputError("reason", reason, "a reason for the change (it is audited)")
        before = self._limits.get(limit.limit_id)
        audit = AuditRecord(
            ts_ns=self.clock.now_ns(),
            actor=actor.user,
            role=actor.role.label,
            action="limit.set",
            target=f"limit:{limit.limit_id}",
            before=before.as_dict() if before else None,
            after=limit.as_dict(),
            reason=reason,
        )
        self.store.save_limit(limit.as_dict(), audit.as_dict())
        self._limits[limit.limit_id] = limit
        self._changed()
        return {"limit_id": limit.limit_id, "before": audit.before, "after": audit.after}

    def delete_limit(self, actor: Actor, limit_id: str, reason: str) -> dict[str, Any]:
        """Remove a limit (role ``risk_manager`` or above, with a reason)."""
        actor.require(Role.RISK_MANAGER, "delete a limit")
        before = self.get(limit_id)
        if not reason or not reason.strip():
            raise InputError("reason", reason, "a reason for the change (it is audited)")
        audit = AuditRecord(
            ts_ns=self.clock.now_ns(),
            actor=actor.user,
            role=actor.role.label,
            action="limit.delete",
            target=f"limit:{limit_id}",
            before=before.as_dict(),
            after=None,
            reason=reason,
        )
        self.store.delete_limit(limit_id, audit.as_dict())
        del self._limits[limit_id]
        self._changed()
        return {"limit_id": limit_id, "before": audit.before, "after": None}

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.limits())


class MemoryLimitStore:
    """Limits in memory (tests; runs without a reference DB)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.audit: list[dict[str, Any]] = []

    def load_limits(self) -> list[dict[str, Any]]:
        return list(self.rows.values())

    def save_limit(self, limit: dict[str, Any], audit: dict[str, Any]) -> None:
        self.rows[limit["limit_id"]] = dict(limit)
        self.audit.append(audit)

    def delete_limit(self, limit_id: str, audit: dict[str, Any]) -> None:
        self.rows.pop(limit_id)
        self.audit.append(audit)
