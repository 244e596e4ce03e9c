"""Typed messages between stages: what flows downstream, and the requests sent to owners.

The pipeline's stages run as independent consumers (threads of one process for the demo,
one process each over NATS with ``riskstream up``). They share no mutable objects: each
piece of state has one owner, and everyone else learns of it through the messages here,
published on the subjects of :data:`SUBJECTS` (:mod:`riskstream.bus.topics`).

Ownership
---------
* ``md`` owns the books and the market state; it publishes :class:`MarketStateDelta`.
* ``risk`` owns the valuation; it publishes ``RiskSnapshot`` (:mod:`riskstream.risk.snapshot`,
  the risk package's own type).
* The position keeper owns the positions: it takes :class:`PositionChangeRequest` (API,
  files) and :class:`Fill` (executed reduction orders), persists and audits each change, and
  publishes versioned :class:`PositionsChanged` snapshots, and answers each request with a
  :class:`PositionChangeResult` (request/reply over topics). Nobody else writes a position.
* ``regime`` publishes :class:`RegimeChanged`; ``limits`` publishes :class:`LimitState`
  and the :class:`Fill` of its reduction orders.
* The feed publishes the venue's :class:`OrderAudit` trail next to the anonymous events
  (when its source names the accounts); the ``surveillance`` stage reads it and publishes
  :class:`AbuseAlerts`.
* The FX aggregator (:mod:`riskstream.feeds.fx`) publishes :class:`FxRates`, the FX marks
  the risk engine translates into its base currency with.

Every message is a frozen dataclass of plain values and numpy arrays, so one codec
(:mod:`riskstream.core.wire`) carries them over any bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

SUBJECTS: dict[str, str] = {
    "market": "md.delta",  # MarketStateDelta
    "snapshot": "risk.snapshot",  # RiskSnapshot
    "positions": "positions.changed",  # PositionsChanged
    "position_requests": "positions.requests",  # PositionChangeRequest
    "position_results": "positions.results",  # PositionChangeResult (the keeper's answers)
    "fills": "fills",  # Fill
    "regime": "regime.changed",  # RegimeChanged
    "limits": "limits.state",  # LimitState
    "stats": "runtime.stats",  # StageStats
    "quarantine": "md.quarantine",  # Quarantined
    "fx": "fx.rates",  # FxRates
    "order_audit": "surveillance.audit",  # OrderAudit
    "abuse": "surveillance.abuse",  # AbuseAlerts
}
"""The subject of each message kind (a NATS subject, or a queue of the in-memory bus)."""


def _frozen_arrays(obj: Any, *names: str) -> None:
    """Make a message's arrays read-only (a message is immutable once built)."""
    for name in names:
        a = np.asarray(getattr(obj, name))
        if a.flags.writeable:
            a = a.copy()
            a.flags.writeable = False
        object.__setattr__(obj, name, a)


@dataclass(frozen=True, slots=True)
class MarketStateDelta:
    """The rows of the market state that changed since md's previous delta.

    Attributes
    ----------
    seq : int
        md's delta number (1, 2, … with no holes) within its ``epoch``: a reader detects a
        lost delta, or one delivered twice.
    ts_ns : int
        Event time of the newest event folded in.
    instrument_id : ndarray of int64, shape (k,)
        The instruments whose rows changed.
    columns : dict of str to ndarray
        Each :class:`~riskstream.core.state.MarketState` array's values at those rows
        (``bid``, ``ask``, ``mid``, ``spread``, ``seq``, ``stale``, …).
    events : int
        Market events folded into this delta.
    recv_ns : ndarray of int64
        ``ts_recv`` (wall-clock receipt) of the events folded in, for the tick-to-risk
        latency (see :mod:`riskstream.runtime`); may be a sample or empty: each sample then
        stands for ``events / len(recv_ns)`` events.
    full : bool
        Every row of the market state (a keyframe md sends now and then, so a reader that
        starts late, or lost a delta, converges without replaying the whole log).
    wall_ns : int
        Wall-clock time md published the delta (ns since the epoch).
    epoch : int
        md's incarnation: the wall-clock ns at which the md process that published the
        delta started (a restarted md numbers its deltas from 1 again, under a larger
        epoch; its first delta is a keyframe of the state it restored). 0: not stated.
    """

    seq: int
    ts_ns: int
    instrument_id: np.ndarray
    columns: dict[str, np.ndarray]
    events: int = 0
    recv_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    full: bool = False
    wall_ns: int = 0
    epoch: int = 0

    def __post_init__(self) -> None:
        _frozen_arrays(self, "instrument_id", "recv_ns")


@dataclass(frozen=True, slots=True)
class Fill:
    """An executed order: ``quantity`` (signed: + bought) of an instrument into a book.

    ``actor`` says who traded: ``system:limits`` for an automatic reduction, a user name
    for a manual one. ``order_id`` is unique per order and makes a redelivered fill
    recognisable (the keeper applies each order id once).
    """

    order_id: str
    book_id: int
    instrument_id: int
    quantity: float
    price: float
    ts_ns: int
    actor: str = "system:limits"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PositionChangeRequest:
    """Ask the position keeper to set (or add to) one position, or several all or nothing.

    ``mode="set"`` makes the quantity ``quantity`` (0 closes the position); ``"add"`` adds
    it. ``request_id`` is unique per request (a retried request is applied once, and
    answered with the first answer). ``more`` holds further ``(book_id, instrument_id,
    quantity)`` changes of the same request, applied with the first in one transaction or
    not at all (the API's batch). ``role`` is the actor's role as the audit log records it.
    """

    request_id: str
    book_id: int
    instrument_id: int
    quantity: float
    actor: str
    mode: Literal["set", "add"] = "set"
    reason: str = ""
    ts_ns: int = 0
    more: tuple[tuple[int, int, float], ...] = ()
    role: str = "system"

    def changes(self) -> list[tuple[int, int, float]]:
        """Every ``(book_id, instrument_id, quantity)`` of the request, in order."""
        first = (int(self.book_id), int(self.instrument_id), float(self.quantity))
        return [first, *((int(b), int(i), float(q)) for b, i, q in self.more)]


@dataclass(frozen=True, slots=True)
class PositionChangeResult:
    """The keeper's answer to one :class:`PositionChangeRequest`.

    ``ok`` with ``version`` (the positions version that holds the change) and ``changes``
    (one ``{"book_id", "instrument_id", "before", "after"}`` per change; ``None`` quantity:
    no position); or not ok with ``error`` and the ``field`` it names (nothing written).
    ``duplicate``: the request id was applied before; this is the first answer again.
    """

    request_id: str
    ok: bool
    version: int = 0
    changes: tuple[dict[str, Any], ...] = ()
    error: str = ""
    field: str = ""
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class PositionsChanged:
    """The keeper's full, versioned positions after a change (every row, not a diff).

    Attributes
    ----------
    version : int
        Rises by one with every change the keeper commits.
    ts_ns : int
        When the change was committed.
    book_id, instrument_id : ndarray of int64, shape (n,)
    quantity : ndarray of float64, shape (n,)
    books : dict of str to ndarray
        The books table as columns (``book_id``, ``desk``, ``strategy``, ``trader``), for
        aggregation labels.
    cause : str
        ``load``, ``request`` or ``fill`` (what made this version; ``request+fill`` when
        both were applied in one commit).
    fills_seq : int
        The sequence number, on the fills subject, of the last :class:`Fill` this version
        has consumed (applied, recognised as a duplicate or refused): a reader that
        published fills knows that those after it are not in this version yet.
    applied : tuple of str
        The request and order ids this version applied (since the previous one).
    """

    version: int
    ts_ns: int
    book_id: np.ndarray
    instrument_id: np.ndarray
    quantity: np.ndarray
    books: dict[str, np.ndarray]
    cause: str = "load"
    fills_seq: int = 0
    applied: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _frozen_arrays(self, "book_id", "instrument_id", "quantity")


@dataclass(frozen=True, slots=True)
class RegimeChanged:
    """The detected regime changed: what the risk engine should condition on.

    ``vol_multiplier`` (s) and ``market_variance_ratio`` (θ) are the regime's conditioning
    (:mod:`riskstream.risk.conditioning`); s = θ = 1 means unconditional figures.
    """

    ts_ns: int
    regime: int
    name: str
    probabilities: tuple[float, ...]
    vol_multiplier: float = 1.0
    market_variance_ratio: float = 1.0


@dataclass(frozen=True, slots=True)
class LimitState:
    """What the limits stage published after checking one snapshot (utilisation, alerts,
    kill switches; :meth:`riskstream.limits.stage.LimitsStage.published`)."""

    ts_ns: int
    lineage_id: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FxRates:
    """FX marks aggregated from public rate APIs (:mod:`riskstream.feeds.fx.aggregate`).

    Attributes
    ----------
    ts_ns : int
        The time the rates are for: the newest source response aggregated (ns, UTC).
    base : str
        The currency every rate is quoted against.
    rates : dict of str to float
        Units of each currency per one unit of ``base`` (``"JPY": 150.0`` for base USD);
        the base itself is not listed (its rate is 1).
    provenance : dict
        ``sources`` (per currency: source -> rate, weight, age_s), ``excluded`` (list of
        ``{source, currency, reason}``; currency None: the whole source), ``unpublished``
        (currency -> reason) and ``responses`` (the saved raw response set, for audit).
    """

    ts_ns: int
    base: str
    rates: dict[str, float]
    provenance: dict[str, Any] = field(default_factory=dict)

    def pair_prices(self) -> dict[str, float]:
        """The rates as FX pair prices (``USDJPY``: JPY per one USD), the input of
        :func:`riskstream.core.fx.rates_to_base`."""
        from riskstream.core.fx import pair_symbol

        return {pair_symbol(self.base, c): r for c, r in self.rates.items()}


@dataclass(frozen=True, slots=True)
class StageStats:
    """A stage's counters and latency histograms, published every second or so by each
    node of :mod:`riskstream.runtime` (the service shows them; the benches read them).

    Attributes
    ----------
    stage : str
        The node's name (``md``, ``risk``, ``feed`` …).
    ts_ns : int
        Wall-clock time of the report (ns since the epoch).
    figures : dict of str to JSON-friendly values
        The node's summary (events, lag, refresh times …).
    histograms : dict of str to ndarray of float64
        Cumulative per-event counts since the node started, one array per latency
        figure, over the bucket edges of :mod:`riskstream.runtime.latency` (e.g.
        ``tick_to_book``, ``tick_to_risk``).
    started_ns : int
        Wall-clock start of the node (a change tells a reader the node restarted and its
        cumulative counts began again).
    """

    stage: str
    ts_ns: int
    figures: dict[str, Any]
    histograms: dict[str, np.ndarray] = field(default_factory=dict)
    started_ns: int = 0


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Events md refused, with why (``md.reasons.Reason`` codes and their text), for the
    history store's quarantine table: a bad tick is kept and visible, never dropped.

    ``events``: EVENT_DTYPE array, shape (n,); ``reason``: uint8 codes, shape (n,);
    ``reasons``: the text of each code, shape (n,).
    """

    events: np.ndarray
    reason: np.ndarray
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _frozen_arrays(self, "events", "reason")


@dataclass(frozen=True, slots=True)
class OrderAudit:
    """The order audit trail of one published event batch: ``events`` (EVENT_DTYPE, shape
    (n,)) and ``audit`` (:data:`riskstream.core.audit.ORDER_AUDIT_DTYPE`, aligned 1:1: who
    owns each order, who took it). Member-level data: for surveillance only."""

    events: np.ndarray
    audit: np.ndarray

    def __post_init__(self) -> None:
        _frozen_arrays(self, "events", "audit")


@dataclass(frozen=True, slots=True)
class AbuseAlerts:
    """Market-abuse alerts raised by the surveillance stage on one batch, with their
    evidence (``alerts``: :data:`riskstream.surveillance.market_abuse.ALERT_DTYPE`, shape
    (n,)); ``ts_ns`` is the market time of the batch's last event."""

    ts_ns: int
    alerts: np.ndarray

    def __post_init__(self) -> None:
        _frozen_arrays(self, "alerts")
