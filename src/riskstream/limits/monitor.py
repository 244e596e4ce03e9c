"""Limit monitoring: every snapshot against every limit, vectorised, with hysteresis.

Per snapshot, each scope kind (firm, desk, ...) reduces the position rows to a matrix of
measures, one row per member and one column per :class:`LimitType`
(sums by ``np.bincount``, maxima by a numba kernel). The limits are compiled once to
index arrays into those matrices, so checking ten thousand limits is one gather and one
pass of the state kernel.

**States and hysteresis.** With utilisation :math:`u = x / hard` and soft level
:math:`s = soft / hard`, a limit is *ok* (:math:`u < s`), in *warning*
(:math:`s \\le u < 1`) or *breached* (:math:`u \\ge 1`). It escalates as soon as it
crosses up, but de-escalates only once :math:`u` falls a band :math:`h` below the
threshold it crossed (:math:`u < 1 - h` to leave a breach, :math:`u < s - h` to leave a
warning) — a Schmitt trigger, so a limit hovering at its threshold raises one alert, not
one per snapshot. Alerts fire on state changes only (de-duplicated by construction):
``critical`` on a breach, ``warning`` on a warning, ``info`` when a limit clears.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from riskstream.limits.config import LimitsConfig
from riskstream.limits.exposures import ExposureFrame
from riskstream.limits.model import LimitDefinition, LimitType, Scope

OK, WARNING, BREACH = 0, 1, 2
STATUS = ("ok", "warning", "breach")
_TYPES = tuple(LimitType)
_TYPE_INDEX = {t: i for i, t in enumerate(_TYPES)}


@njit(cache=True)
def _group_max(codes, values, n_groups):  # pragma: no cover - numba
    out = np.zeros(n_groups)
    for i in range(codes.shape[0]):
        v = values[i]
        if v > out[codes[i]]:
            out[codes[i]] = v
    return out


@njit(cache=True)
def hysteresis_step(utilisation, soft_level, state, band, new_state):  # pragma: no cover
    """Next state of each limit (see the module docstring); returns how many changed.

    ``utilisation``, ``soft_level`` float64 (n,), ``state`` int8 (n,) the current states,
    ``new_state`` int8 (n,) written.
    """
    changed = 0
    for i in range(utilisation.shape[0]):
        u = utilisation[i]
        s = soft_level[i]
        level = 2 if u >= 1.0 else (1 if u >= s else 0)
        current = state[i]
        if level >= current:
            nxt = level
        else:
            # leave a state only a band below the threshold that entered it
            held = 2 if u >= 1.0 - band else (1 if u >= s - band else 0)
            nxt = held if held < current else current
        new_state[i] = nxt
        if nxt != current:
            changed += 1
    return changed


@dataclass(frozen=True)
class Alert:
    """A limit changed state."""

    alert_id: int
    ts_ns: int
    severity: str  # info | warning | critical
    limit_id: str
    scope_id: str
    limit_type: str
    exposure: float
    utilisation: float
    state: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MonitorResult:
    """Utilisation of every monitored limit for one snapshot (arrays of shape (n_limits,))."""

    ts_ns: int
    limits: tuple[LimitDefinition, ...]
    exposure: np.ndarray
    utilisation: np.ndarray
    state: np.ndarray
    alerts: tuple[Alert, ...]

    @property
    def breached(self) -> list[LimitDefinition]:
        """Limits in breach (hard threshold reached)."""
        return [self.limits[i] for i in np.flatnonzero(self.state == BREACH)]

    @property
    def new_breaches(self) -> list[Alert]:
        return [a for a in self.alerts if a.severity == "critical"]

    def rows(self) -> list[dict[str, Any]]:
        """One row per limit: the dashboard heatmap's cells and the metrics' gauges."""
        return [
            {
                **lim.as_dict(),
                "exposure": float(self.exposure[i]),
                "utilisation": float(self.utilisation[i]),
                "status": STATUS[int(self.state[i])],
            }
            for i, lim in enumerate(self.limits)
        ]


def stress_loss(codes: np.ndarray, stress_pnl: np.ndarray, groups: int) -> np.ndarray:
    """Each group's worst stress loss: :math:`\\max(0, \\max_s -\\sum_{i \\in g} P\\&L_{i,s})`,
    from positions' P&L in every scenario (shape (n_positions, n_scenarios))."""
    if stress_pnl.shape[1] == 0:
        return np.zeros(groups)
    totals = np.zeros((groups, stress_pnl.shape[1]))
    np.add.at(totals, codes, stress_pnl)
    return np.maximum(-totals.min(axis=1), 0.0)


class LimitMonitor:
    """Check exposure frames against a set of limits.

    Parameters
    ----------
    limits : sequence of LimitDefinition
        Disabled limits are skipped.
    config : LimitsConfig
        ``hysteresis`` is the band :math:`h`.
    publish : callable, optional
        Called with every :class:`MonitorResult` (the utilisation feed for the dashboard and
        metrics, and the alert stream).
    """

    def __init__(
        self,
        limits: Sequence[LimitDefinition],
        config: LimitsConfig | None = None,
        publish: Callable[[MonitorResult], None] | None = None,
    ):
        self.config = config or LimitsConfig()
        self.publish = publish
        self._ids = itertools.count(1)
        self._peaks: dict[tuple[Scope, str], float] = {}
        self._bound_labels: int | None = None
        self.set_limits(limits)
        self._warm_up()

    @staticmethod
    def _warm_up() -> None:
        """Compile the kernels now, not on the first snapshot (seconds on a cold cache)."""
        codes, values = np.zeros(1, np.int64), np.zeros(1)
        _group_max(codes, values, 1)
        hysteresis_step(values, values, np.zeros(1, np.int8), 0.0, np.zeros(1, np.int8))

    def set_limits(self, limits: Sequence[LimitDefinition]) -> None:
        """Replace the monitored limits; states of limits kept by id carry over."""
        old = (
            {lim.limit_id: s for lim, s in zip(self.limits_, self.state_, strict=True)}
            if hasattr(self, "limits_")
            else {}
        )
        self.limits_ = tuple(lim for lim in limits if lim.enabled)
        self.state_ = np.array([old.get(x.limit_id, OK) for x in self.limits_], dtype=np.int8)
        self._type_idx = np.array([_TYPE_INDEX[x.limit_type] for x in self.limits_], np.int64)
        self._hard = np.array([x.hard for x in self.limits_], dtype=np.float64)
        self._soft_level = np.array([x.soft / x.hard for x in self.limits_], dtype=np.float64)
        self._bound_labels = None

    def _bind(self, frame: ExposureFrame) -> None:
        """Encode each scope's labels and point every limit at its row of the measures."""
        self._codes: dict[Scope, np.ndarray] = {}
        self._members: dict[Scope, np.ndarray] = {}
        offset, offsets = 0, {}
        for scope in Scope:
            members, codes = np.unique(frame.labels[scope].astype(str), return_inverse=True)
            self._codes[scope] = codes.astype(np.int64)
            self._members[scope] = members
            offsets[scope] = offset
            offset += len(members)
        self._n_rows = offset
        rows = np.full(len(self.limits_), -1, dtype=np.int64)
        for i, lim in enumerate(self.limits_):
            members = self._members[lim.scope]
            j = int(np.searchsorted(members, lim.key))
            if j < len(members) and members[j] == lim.key:
                rows[i] = offsets[lim.scope] + j
        self._rows = rows
        self._offsets = offsets
        self._bound_labels = id(frame.labels)

    def measures(self, frame: ExposureFrame) -> np.ndarray:
        """Every measure of every scope member: shape (n_members_all_scopes, n_types)."""
        if self._bound_labels != id(frame.labels):
            self._bind(frame)
        out = np.zeros((self._n_rows, len(_TYPES)))
        absmv = np.abs(frame.market_value)
        for scope in Scope:
            codes, g = self._codes[scope], len(self._members[scope])
            block = out[self._offsets[scope] : self._offsets[scope] + g]

            def total(values: np.ndarray, codes: np.ndarray = codes, g: int = g) -> np.ndarray:
                return np.bincount(codes, weights=values, minlength=g)

            gross = total(absmv)
            largest = _group_max(codes, absmv, g)
            block[:, _TYPE_INDEX[LimitType.VAR]] = total(frame.component_var)
            block[:, _TYPE_INDEX[LimitType.ES]] = total(frame.component_es)
            block[:, _TYPE_INDEX[LimitType.LVAR]] = total(frame.component_lvar)
            block[:, _TYPE_INDEX[LimitType.GROSS_NOTIONAL]] = gross
            block[:, _TYPE_INDEX[LimitType.NET_NOTIONAL]] = np.abs(total(frame.market_value))
            block[:, _TYPE_INDEX[LimitType.POSITION_SIZE]] = largest
            block[:, _TYPE_INDEX[LimitType.DELTA]] = np.abs(total(frame.delta))
            block[:, _TYPE_INDEX[LimitType.GAMMA]] = np.abs(total(frame.gamma))
            block[:, _TYPE_INDEX[LimitType.VEGA]] = np.abs(total(frame.vega))
            with np.errstate(divide="ignore", invalid="ignore"):
                block[:, _TYPE_INDEX[LimitType.CONCENTRATION]] = np.where(
                    gross > 0, largest / gross, 0.0
                )
            block[:, _TYPE_INDEX[LimitType.DRAWDOWN]] = self._drawdown(scope, total(frame.pnl))
            block[:, _TYPE_INDEX[LimitType.LIQUIDATION_DAYS]] = _group_max(
                codes, frame.liquidation_days, g
            )
            block[:, _TYPE_INDEX[LimitType.STRESS_LOSS]] = stress_loss(codes, frame.stress_pnl, g)
        return out

    def _drawdown(self, scope: Scope, pnl: np.ndarray) -> np.ndarray:
        """Peak-to-current fall of each member's P&L (the stop-loss measure)."""
        members = self._members[scope]
        peak = np.array([self._peaks.get((scope, m), 0.0) for m in members])
        peak = np.maximum(peak, pnl)
        for m, p in zip(members, peak, strict=True):
            self._peaks[(scope, m)] = float(p)
        return peak - pnl

    def check(self, frame: ExposureFrame) -> MonitorResult:
        """Utilisation and states of every limit for one snapshot; alerts on changes."""
        matrix = self.measures(frame)
        exposure = np.where(self._rows >= 0, matrix[np.maximum(self._rows, 0), self._type_idx], 0.0)
        utilisation = exposure / self._hard
        new_state = np.empty_like(self.state_)
        hysteresis_step(
            utilisation, self._soft_level, self.state_, self.config.hysteresis, new_state
        )
        alerts = []
        for i in np.flatnonzero(new_state != self.state_):
            alerts.append(self._alert(i, int(new_state[i]), exposure[i], utilisation[i], frame))
        self.state_ = new_state
        result = MonitorResult(
            frame.ts_ns, self.limits_, exposure, utilisation, new_state.copy(), tuple(alerts)
        )
        if self.publish is not None:
            self.publish(result)
        return result

    def _alert(
        self, i: int, state: int, exposure: float, used: float, frame: ExposureFrame
    ) -> Alert:
        lim = self.limits_[i]
        if state == BREACH:
            severity, word = "critical", "BREACH"
        elif state == WARNING and self.state_[i] < WARNING:
            severity, word = "warning", "warning"
        elif state == WARNING:
            severity, word = "info", "back under the hard limit"
        else:
            severity, word = "info", "back within limits"
        message = (
            f"{word}: {lim.scope.value} {lim.key} {lim.limit_type.value} {exposure:,.4g} is "
            f"{used:.0%} of the hard limit {lim.hard:,.4g}"
        )
        return Alert(
            next(self._ids),
            frame.ts_ns,
            severity,
            lim.limit_id,
            lim.scope_id,
            lim.limit_type.value,
            float(exposure),
            float(used),
            STATUS[state],
            message,
        )
