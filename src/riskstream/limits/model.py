"""Limit definitions, roles and actors: who may set what, and what a limit measures.

A limit binds a **scope** (the firm, one desk, strategy, trader, instrument or asset class)
to a **type** (what is measured) with a *soft* (warning) and a *hard* threshold. What each
type measures over the positions of its scope (base currency unless stated):

==================== ==============================================================
``var``, ``es``       Euler contribution of the scope to portfolio VaR / ES (Tasche
                      2000): contributions add up to the firm figure, so a desk's VaR
                      limit is a share of the firm's risk the desk is accountable for
``lvar``              contribution to liquidity-adjusted VaR (Bangia et al. 1999):
                      component VaR scaled by the portfolio's L-VaR / VaR
``gross_notional``    sum of ``|market value|`` (delta-adjusted for options)
``net_notional``      ``|sum of market value|``
``position_size``     largest single position, ``|market value|``
``delta``             ``|sum of delta|``, currency per 100% move of the underlyings
``gamma``             ``|sum of gamma|``, currency per (100% move)²
``vega``              ``|sum of vega|``, currency per 1.00 of volatility
``concentration``     largest position's share of the scope's gross notional (0..1)
``drawdown``          stop-loss: fall of the scope's mark-to-market P&L from its peak
``liquidation_days``  longest time to liquidate a position at the maximum participation
                      rate of its average daily volume (days)
``stress_loss``       worst loss of the scope's positions over the stress scenarios in
                      force (``riskstream.stress``; full revaluation): the largest of
                      ``-sum of P&L`` across scenarios, 0 when every scenario gains
==================== ==============================================================

Roles are ordered (viewer < analyst < risk_manager < admin, as in the service's API-key
roles); changing a limit or releasing a kill switch needs ``risk_manager``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from riskstream.core.errors import InputError


class Scope(StrEnum):
    """What a limit is set on; the key names the member (a desk's name, an instrument id)."""

    FIRM = "firm"
    DESK = "desk"
    STRATEGY = "strategy"
    TRADER = "trader"
    INSTRUMENT = "instrument"
    ASSET_CLASS = "asset_class"


class LimitType(StrEnum):
    """What a limit measures (see the module docstring for the formulas)."""

    VAR = "var"
    ES = "es"
    LVAR = "lvar"
    GROSS_NOTIONAL = "gross_notional"
    NET_NOTIONAL = "net_notional"
    POSITION_SIZE = "position_size"
    DELTA = "delta"
    GAMMA = "gamma"
    VEGA = "vega"
    CONCENTRATION = "concentration"
    DRAWDOWN = "drawdown"
    LIQUIDATION_DAYS = "liquidation_days"
    STRESS_LOSS = "stress_loss"


class Role(enum.IntEnum):
    """Access levels, ordered: a role may do everything a lower one may."""

    VIEWER = 1
    ANALYST = 2
    RISK_MANAGER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        if isinstance(value, Role):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise InputError("role", value, "one of " + ", ".join(r.label for r in cls)) from None


class PermissionDeniedError(InputError):
    """An actor's role does not allow the action (nothing was changed)."""

    def __init__(self, actor: Actor, action: str, needed: Role):
        super().__init__(
            "role",
            actor.role.label,
            f"at least {needed.label} to {action} (actor {actor.user!r})",
        )


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: a user name and a role."""

    user: str
    role: Role

    def __post_init__(self) -> None:
        if not self.user or not self.user.strip():
            raise InputError("user", self.user, "a non-empty user name")
        object.__setattr__(self, "role", Role.parse(self.role))

    def require(self, needed: Role, action: str) -> None:
        """Raise :class:`PermissionDeniedError` unless the role is at least ``needed``."""
        if self.role < needed:
            raise PermissionDeniedError(self, action, needed)


def _enum(cls: type[StrEnum], field: str, value: Any) -> Any:
    try:
        return cls(str(value).strip().lower())
    except ValueError:
        raise InputError(field, value, "one of " + ", ".join(m.value for m in cls)) from None


@dataclass(frozen=True)
class LimitDefinition:
    """One limit: a scope member, a type and its soft and hard thresholds.

    Parameters
    ----------
    scope : Scope or str
    key : str
        The member of the scope: ``"firm"`` for the firm, a desk/strategy/trader name, an
        instrument id (as text) or an asset class.
    limit_type : LimitType or str
    soft, hard : float
        Warning and breach thresholds in the type's unit; ``0 < soft <= hard``.
    enabled : bool
        A disabled limit is stored but not monitored.

    Raises
    ------
    InputError
        An unknown scope or type, an empty key, a threshold that is not a positive finite
        number, or ``soft > hard`` (the message names the field and value).
    """

    scope: Scope
    key: str
    limit_type: LimitType
    soft: float
    hard: float
    enabled: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", _enum(Scope, "scope", self.scope))
        object.__setattr__(self, "limit_type", _enum(LimitType, "limit_type", self.limit_type))
        key = str(self.key).strip()
        if self.scope is Scope.FIRM:
            key = key or "firm"
            if key != "firm":
                raise InputError("key", self.key, "'firm' for the firm scope")
        if not key:
            raise InputError("key", self.key, f"the name of a {self.scope.value}")
        object.__setattr__(self, "key", key)
        for name in ("soft", "hard"):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(name, value, "a positive finite number") from None
            if not math.isfinite(number) or number <= 0:
                raise InputError(name, value, "a positive finite number")
            object.__setattr__(self, name, number)
        if self.limit_type is LimitType.CONCENTRATION and self.hard > 1:
            raise InputError("hard", self.hard, "a share of at most 1 for a concentration limit")
        if self.soft > self.hard:
            raise InputError("soft", self.soft, f"at most the hard threshold {self.hard}")

    @property
    def limit_id(self) -> str:
        """Stable identity: ``scope:key/type``."""
        return f"{self.scope.value}:{self.key}/{self.limit_type.value}"

    @property
    def scope_id(self) -> str:
        """The kill-switch scope this limit belongs to: ``scope:key``."""
        return f"{self.scope.value}:{self.key}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "limit_id": self.limit_id,
            "scope": self.scope.value,
            "key": self.key,
            "limit_type": self.limit_type.value,
            "soft": self.soft,
            "hard": self.hard,
            "enabled": self.enabled,
        }

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> LimitDefinition:
        return cls(
            scope=row["scope"],
            key=row["key"],
            limit_type=row["limit_type"],
            soft=row["soft"],
            hard=row["hard"],
            enabled=bool(row.get("enabled", True)),
        )


@dataclass(frozen=True)
class AuditRecord:
    """One audited change: who, what, when, the values before and after, and why.

    The same fields as the service's audit log (``riskstream.store.audit``), so one sink
    can serve both.
    """

    ts_ns: int
    actor: str
    role: str
    action: str
    target: str
    before: Any
    after: Any
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
