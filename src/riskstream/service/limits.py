"""Limit utilisation and breach alerts for the dashboard, until the limits package
(issue 8) supplies its own :class:`LimitProvider`.

What the service shows is defined here by the :class:`LimitProvider` protocol — rows of
:class:`Utilisation` (scope × limit type) and :class:`Alert` records — so a fuller limits
engine replaces :class:`DeskLimitMonitor` without touching the API or the dashboard.

:class:`DeskLimitMonitor` checks four limits per desk against each snapshot:

``var``, ``es``
    the desk's Euler contribution to portfolio VaR / ES (Tasche 2000) — the share of firm
    risk the desk is accountable for, which sums over desks to the firm figure;
``lvar``
    the desk's component VaR plus its pro-rata share of the portfolio's liquidity add-on,
    ``C_d * LVaR / VaR`` (Bangia et al. 1999 add-on allocated by risk contribution);
``gross_notional``
    ``sum |q x price x multiplier x fx|`` over the desk's positions.

Utilisation is ``exposure / limit``; at or above ``warn_utilisation`` it raises a
``warning``, at or above 1 a ``critical`` breach. An alert fires when a (desk, limit)
pair moves to a worse state, and an ``info`` one when it returns within limits. Limit
changes are audited; at start-up the latest audited value of each limit is re-applied,
so the audit log is the record of limits in force.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import InputError
from riskstream.service.config import ServiceConfig
from riskstream.store.audit import append_audit, read_audit
from riskstream.store.refdb import RefDB

LIMIT_TYPES: tuple[str, ...] = ("var", "es", "lvar", "gross_notional")
SEVERITY_RANK = {"ok": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Utilisation:
    """One cell of the heatmap: a scope's exposure against one limit."""

    scope: str
    limit_type: str
    exposure: float
    limit: float
    utilisation: float
    status: str  # ok | warning | critical

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Alert:
    """A limit event shown in the alert panel."""

    alert_id: int
    ts_ns: int
    severity: str  # info | warning | critical
    scope: str
    limit_type: str
    utilisation: float
    message: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class LimitProvider(Protocol):
    """What the service needs of a limits engine."""

    def evaluate(
        self, snapshot: dict[str, Any], gross_by_scope: dict[str, float], ts_ns: int
    ) -> tuple[list[Utilisation], list[Alert]]:
        """Utilisation of every limit for one snapshot, and the alerts it raises."""

    def limits(self) -> list[dict[str, Any]]:
        """Every limit in force: ``{scope, limit_type, limit}``."""

    def set_limit(
        self, scope: str, limit_type: str, value: float, actor: str, role: str, reason: str
    ) -> dict[str, Any]:
        """Change one limit (audited); returns ``{before, after}``."""

    def alerts(self, since_id: int = 0) -> list[Alert]:
        """Alerts raised, oldest first, with ids above ``since_id``."""


class DeskLimitMonitor:
    """Per-desk VaR / ES / L-VaR / gross-notional limits (see the module doc)."""

    def __init__(
        self,
        config: ServiceConfig,
        db: RefDB | None = None,
        clock: Clock | None = None,
        max_alerts: int = 1000,
    ):
        self.config = config
        self.db = db
        self.clock = clock or SystemClock()
        self._overrides: dict[tuple[str, str], float] = {}
        self._state: dict[tuple[str, str], str] = {}
        self._alerts: deque[Alert] = deque(maxlen=max_alerts)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._desks: set[str] = set(config.desk_limits)
        if db is not None:
            for entry in read_audit(db, action="limit.set", limit=1_000_000):
                scope, limit_type = entry.target.removeprefix("limit:").split("/", 1)
                self._overrides[(scope, limit_type)] = float(entry.after["limit"])

    def limit_of(self, scope: str, limit_type: str) -> float:
        if (scope, limit_type) in self._overrides:
            return self._overrides[(scope, limit_type)]
        desk = self.config.desk_limits.get(scope, self.config.default_limits)
        return float(getattr(desk, limit_type))

    def limits(self) -> list[dict[str, Any]]:
        scopes = sorted(self._desks | {s for s, _ in self._overrides})
        return [
            {"scope": s, "limit_type": t, "limit": self.limit_of(s, t)}
            for s in scopes
            for t in LIMIT_TYPES
        ]

    def set_limit(
        self, scope: str, limit_type: str, value: float, actor: str, role: str, reason: str
    ) -> dict[str, Any]:
        if limit_type not in LIMIT_TYPES:
            raise InputError("limit_type", limit_type, "one of " + ", ".join(LIMIT_TYPES))
        if scope not in self._desks:
            known = ", ".join(sorted(self._desks)) or "none yet"
            raise InputError("scope", scope, f"a desk of the portfolio ({known})")
        before = self.limit_of(scope, limit_type)
        if self.db is not None:
            with self.db.transaction() as conn:
                append_audit(
                    conn,
                    ts_ns=self.clock.now_ns(),
                    actor=actor,
                    role=role,
                    action="limit.set",
                    target=f"limit:{scope}/{limit_type}",
                    before={"limit": before},
                    after={"limit": value},
                    reason=reason,
                )
        with self._lock:
            self._overrides[(scope, limit_type)] = float(value)
        return {"scope": scope, "limit_type": limit_type, "before": before, "after": value}

    def evaluate(
        self, snapshot: dict[str, Any], gross_by_scope: dict[str, float], ts_ns: int
    ) -> tuple[list[Utilisation], list[Alert]]:
        desks = (snapshot.get("aggregates") or {}).get("desk", {})
        var, lvar = snapshot.get("var") or 0.0, snapshot.get("lvar") or 0.0
        liquidity_ratio = lvar / var if var > 0 else 1.0
        rows: list[Utilisation] = []
        fired: list[Alert] = []
        with self._lock:
            self._desks |= set(desks) | set(gross_by_scope)
            for desk in sorted(self._desks):
                agg = desks.get(desk, {})
                exposure = {
                    "var": agg.get("component_var", 0.0),
                    "es": agg.get("component_es", 0.0),
                    "lvar": agg.get("component_var", 0.0) * liquidity_ratio,
                    "gross_notional": gross_by_scope.get(desk, 0.0),
                }
                for limit_type in LIMIT_TYPES:
                    limit = self.limit_of(desk, limit_type)
                    used = exposure[limit_type] / limit
                    status = (
                        "critical"
                        if used >= 1.0
                        else "warning"
                        if used >= self.config.warn_utilisation
                        else "ok"
                    )
                    rows.append(
                        Utilisation(desk, limit_type, exposure[limit_type], limit, used, status)
                    )
                    alert = self._transition(desk, limit_type, status, used, limit, ts_ns)
                    if alert is not None:
                        fired.append(alert)
        return rows, fired

    def _transition(
        self, desk: str, limit_type: str, status: str, used: float, limit: float, ts_ns: int
    ) -> Alert | None:
        previous = self._state.get((desk, limit_type), "ok")
        self._state[(desk, limit_type)] = status
        if SEVERITY_RANK[status] > SEVERITY_RANK[previous]:
            word = "BREACH" if status == "critical" else "warning"
            message = f"{word}: desk {desk} {limit_type} at {used:.0%} of its limit {limit:,.0f}"
            severity = status
        elif status == "ok" and previous != "ok":
            message = f"desk {desk} {limit_type} back within limits ({used:.0%})"
            severity = "info"
        else:
            return None
        alert = Alert(next(self._ids), ts_ns, severity, desk, limit_type, used, message)
        self._alerts.append(alert)
        return alert

    def alerts(self, since_id: int = 0) -> list[Alert]:
        with self._lock:
            return [a for a in self._alerts if a.alert_id > since_id]
