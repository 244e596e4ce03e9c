"""Limits that act: monitor every snapshot, trip kill switches, reduce positions.

:class:`LimitController` ties the parts together for one portfolio:

1. :class:`~riskstream.limits.monitor.LimitMonitor` checks the snapshot's exposures;
2. each *new* hard breach trips its scope's kill switch (``reducing`` — risk-increasing
   orders blocked at once — or ``halted`` when automatic reduction is off);
3. with automatic reduction on, :func:`~riskstream.limits.reduction.plan_reduction`
   chooses the cheapest cuts that bring the breached measure to the target utilisation,
   each cut is split along the Almgren-Chriss trajectory, and the first child orders go
   to the execution venue in the same call — the breach-to-action latency is the time of
   this call up to the first order sent;
4. the remaining child orders go out as event time passes (:meth:`advance`); each fill is
   handed to the ``on_fill`` callback (the limits stage publishes it to the position
   keeper, the one writer of positions) and recorded in the
   :class:`~riskstream.limits.ledger.PositionLedger` as pending until a keeper version
   holds it; every order is logged with its reason (``actions`` and the audit sink).

A programme names its positions by ``(book_id, instrument_id)``, never by row: rows move
when positions are added or removed, a key does not. Each child order has a deterministic
id (limit, programme start, period, book, instrument), so a redelivered or re-sent order
is recognised by the keeper and never applied twice.

A scope is re-planned only when its previous programme has finished and it is still in
breach (Euler contributions are exact only at the margin, so a second round may be
needed); a programme never trades a position past flat.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskstream.core.clock import NS_PER_S
from riskstream.limits.config import LimitsConfig
from riskstream.limits.execution import Fill, SimulatedVenue
from riskstream.limits.exposures import ExposureFrame
from riskstream.limits.killswitch import KillSwitchBoard, TradingState
from riskstream.limits.ledger import PositionLedger
from riskstream.limits.model import AuditRecord, LimitDefinition, LimitType, Scope
from riskstream.limits.monitor import LimitMonitor, MonitorResult
from riskstream.limits.reduction import almgren_chriss_slices, plan_reduction

TRADING_SECONDS_PER_DAY = 6.5 * 3600.0  # Almgren-Chriss time is in trading days


@dataclass(frozen=True)
class MarketContext:
    """Per-instrument market inputs of the reduction (arrays of shape (n_instruments,)).

    ``value_per_price`` is multiplier x FX to base; ``sigma_daily`` the relative daily
    volatility; ``spread_rel`` the quoted spread as a share of mid; ``adv`` in units.
    """

    mid: np.ndarray
    value_per_price: np.ndarray
    spread_rel: np.ndarray
    adv: np.ndarray
    sigma_daily: np.ndarray


@dataclass
class Programme:
    """A running reduction of one breached limit: child orders still to send."""

    limit_id: str
    scope_id: str
    reason: str
    book_id: np.ndarray  # the positions traded, by key (book, instrument)
    instrument_id: np.ndarray
    slices: np.ndarray  # (n_positions, n_periods) signed quantities per period
    start_ns: int
    period_ns: int
    sent: int = 0  # periods sent so far
    timed: bool = False  # its breach-to-action latency has been recorded

    @property
    def done(self) -> bool:
        return self.sent >= self.slices.shape[1]


@dataclass
class ActionStats:
    """What the controller did (for the demo summary and the bench)."""

    breaches: int = 0
    orders: int = 0
    cost_usd: float = 0.0
    traded_notional_usd: float = 0.0
    breach_to_action_ms: list[float] = field(default_factory=list)
    first_breach_ns: int | None = None
    blocked: int = 0  # child orders a kill switch refused
    gone: int = 0  # child orders for positions no longer held (changed by someone else)
    unfilled: int = 0  # child orders the venue filled nothing of


def liquidation_unit_cost(
    quantity: np.ndarray,
    price: np.ndarray,
    spread_rel: np.ndarray,
    adv: np.ndarray,
    value_per_price: np.ndarray,
    horizon_days: float,
) -> np.ndarray:
    r"""Expected cost per unit of selling all of each position over ``horizon_days``
    (base currency): half the spread plus Almgren-Chriss temporary impact at a constant
    rate, :math:`\epsilon + \eta |q| / T` (Almgren & Chriss 2000, eq. 20 with
    :math:`\lambda = 0`), calibrated by :func:`riskstream.risk.liquidity.impact_parameters`.
    """
    from riskstream.risk.liquidity import impact_parameters

    epsilon, eta, _ = impact_parameters(price, spread_rel, adv)
    per_unit = epsilon + eta * np.abs(quantity) / horizon_days
    return np.maximum(per_unit * value_per_price, 1e-12)


def reduction_contribution(limit_type: LimitType, frame: ExposureFrame) -> np.ndarray:
    """Each position's additive contribution to a measure (what selling it removes).

    Euler contributions for VaR/ES/L-VaR; ``|value|`` for gross notional and position
    size/concentration (the largest positions); the signed share of the net for net
    notional and the Greeks; for a stress loss, each position's loss in the worst scenario.
    A drawdown is a stop-loss: it cuts the VaR of the positions
    that are losing (a realised loss cannot be traded away; the exposure still losing can).
    """
    mv = frame.market_value
    if limit_type is LimitType.VAR:
        return frame.component_var
    if limit_type is LimitType.DRAWDOWN:
        return np.where(frame.pnl < 0, frame.component_var, 0.0)
    if limit_type is LimitType.ES:
        return frame.component_es
    if limit_type is LimitType.LVAR:
        return frame.component_lvar
    if limit_type is LimitType.NET_NOTIONAL:
        return mv * np.sign(mv.sum())
    if limit_type in (LimitType.DELTA, LimitType.GAMMA, LimitType.VEGA):
        col = getattr(frame, limit_type.value)
        return col * np.sign(col.sum())
    if limit_type is LimitType.LIQUIDATION_DAYS:
        return frame.liquidation_days
    if limit_type is LimitType.STRESS_LOSS:
        # each position's loss in the scenario that hurts the whole frame most
        if frame.stress_pnl.shape[1] == 0:
            return np.zeros(len(frame))
        worst = int(np.argmin(frame.stress_pnl.sum(axis=0)))
        return -frame.stress_pnl[:, worst]
    return np.abs(mv)


class LimitController:
    """Monitor, kill switches and automatic reduction for one portfolio.

    Parameters
    ----------
    monitor : LimitMonitor
    board : KillSwitchBoard
    venue : SimulatedVenue
    market : MarketContext
        Updated in place by the caller as prices move.
    config : LimitsConfig
    on_fill : callable, optional
        ``on_fill(order_id, book_id, fill, reason) -> seq``: pass a fill on (the limits
        stage publishes it to the position keeper); ``seq`` is its sequence number on the
        fills subject (0: the bus knew the order id already, so it is not pending here).
    ledger : PositionLedger, optional
        The positions the controller acts on, kept by its owner (the limits stage). Without
        one, each snapshot's frame is the ledger (the frame's rows, ``book_id`` and labels).
    audit : callable, optional
        Receives an :class:`AuditRecord` dict for every order sent.
    wall_clock : callable
        Seconds, monotonic, to measure the breach-to-action latency.
    """

    def __init__(
        self,
        monitor: LimitMonitor,
        board: KillSwitchBoard,
        venue: SimulatedVenue,
        market: MarketContext,
        config: LimitsConfig | None = None,
        on_fill: Callable[[str, int, Fill, str], int] | None = None,
        audit: Callable[[dict[str, Any]], None] | None = None,
        wall_clock: Callable[[], float] = time.perf_counter,
        ledger: PositionLedger | None = None,
    ):
        self.monitor = monitor
        self.board = board
        self.venue = venue
        self.market = market
        self.config = config or monitor.config
        self.on_fill = on_fill
        self.audit = audit
        self.wall_clock = wall_clock
        self.programmes: dict[str, Programme] = {}
        self.actions: list[dict[str, Any]] = []
        self.stats = ActionStats()
        self.last: MonitorResult | None = None
        self.ledger = ledger
        self._own_ledger = ledger is None
        self._frame_rows: np.ndarray | None = None  # the last frame's rows in the ledger
        self._started: float | None = None
        self._warm_up()

    # ------------------------------------------------------------------ snapshot

    def on_snapshot(self, frame: ExposureFrame, received_s: float | None = None) -> MonitorResult:
        """Check a snapshot; on new hard breaches engage switches and start reductions.

        ``received_s`` (``wall_clock`` time the snapshot arrived, default now) starts the
        breach-to-action latency.
        """
        self._started = self.wall_clock() if received_s is None else received_s
        if self._own_ledger:  # the frame is the positions (no owner keeps them for us)
            if self.ledger is None:
                self.ledger = PositionLedger(np.zeros(0, dtype=str))
            scopes = (Scope.DESK, Scope.STRATEGY, Scope.TRADER, Scope.ASSET_CLASS)
            self.ledger.set_rows(
                0,
                frame.book_id,
                frame.instrument_id,
                frame.quantity,
                {s.value: np.asarray(frame.labels[s]) for s in scopes},
            )
        assert self.ledger is not None
        self._frame_rows = np.array(
            [
                self.ledger.row(b, i)
                for b, i in zip(frame.book_id, frame.instrument_id, strict=True)
            ],
            dtype=np.int64,
        )
        result = self.monitor.check(frame)
        self.last = result
        breached = {lim.limit_id: lim for lim in result.breached}
        for alert in result.new_breaches:
            lim = breached[alert.limit_id]
            self.stats.breaches += 1
            if self.stats.first_breach_ns is None:
                self.stats.first_breach_ns = frame.ts_ns
            state = TradingState.REDUCING if self.config.auto_reduce else TradingState.HALTED
            self.board.trip(lim.scope_id, "hard_breach", alert.message, state)
        if self.config.auto_reduce:
            fresh = {a.limit_id for a in result.new_breaches}
            for lim in breached.values():
                running = self.programmes.get(lim.limit_id)
                if running is not None and not running.done:
                    continue
                if lim.limit_type is LimitType.DRAWDOWN and lim.limit_id not in fresh:
                    # a stop-loss acts once per breach: selling cannot undo a realised loss,
                    # so a drawdown still in breach is no reason to sell again
                    continue
                i = result.limits.index(lim)
                self._start(lim, frame, float(result.exposure[i]), frame.ts_ns)
        self._started = None
        return result

    @staticmethod
    def _warm_up() -> None:
        """Compile the numba kernels now, not on the first breach."""
        from riskstream.limits.execution import walk_book

        walk_book(np.array([1.0]), np.array([1.0]), 1.0, 0.0)

    def _scope_rows(self, lim: LimitDefinition, frame: ExposureFrame) -> np.ndarray:
        if lim.scope is Scope.FIRM:
            return np.arange(len(frame))
        return np.flatnonzero(frame.labels[lim.scope].astype(str) == lim.key)

    def _start(self, lim: LimitDefinition, frame: ExposureFrame, exposure: float, now: int) -> int:
        """Plan the cuts for one breached limit and send the first child orders."""
        rows = self._scope_rows(lim, frame)
        if rows.size == 0:
            return 0
        ids = np.asarray(frame.instrument_id, dtype=np.int64)[rows]
        m = self.market
        q = frame.quantity[rows]
        horizon_days = self.config.schedule_horizon_s / TRADING_SECONDS_PER_DAY
        # ranking prior: the calm-market cost of liquidating over a day (the risk package's
        # L-VaR convention); the Almgren-Chriss calibration (1% of ADV a day moves the price
        # one spread) is meaningless over a one-minute emergency schedule, so the cost the
        # plan uses is quoted on the books below
        unit_cost = liquidation_unit_cost(
            q, m.mid[ids], m.spread_rel[ids], m.adv[ids], m.value_per_price[ids], 1.0
        )
        contribution = reduction_contribution(lim.limit_type, frame)[rows]
        if lim.limit_type is LimitType.DRAWDOWN:
            # stop-loss: the measure to cut is the scope's VaR, to a fixed share of itself
            measure = float(frame.component_var[rows].sum())
            target = self.config.stop_loss_var_fraction * measure
        else:
            measure = exposure
            target = self.config.reduction_target_utilisation * lim.hard
        contribution, unit_cost = self._price_candidates(
            ids, q, contribution, unit_cost, measure - target
        )
        plan = plan_reduction(q, contribution, unit_cost, measure, target)
        cut = np.flatnonzero(plan.trade != 0)
        if cut.size == 0:
            return 0
        n_periods = self.config.schedule_periods
        cut_ids = ids[cut]
        child = almgren_chriss_slices(
            np.abs(plan.trade[cut]),
            m.sigma_daily[cut_ids] * m.mid[cut_ids],
            m.mid[cut_ids],
            m.spread_rel[cut_ids],
            m.adv[cut_ids],
            horizon_days,
            n_periods,
            self.config.risk_aversion,
        )
        slices = child * np.sign(plan.trade[cut])[:, None]
        reason = (
            f"{lim.limit_id} at {exposure / lim.hard:.0%} of its hard limit; reduce to "
            f"{self.config.reduction_target_utilisation:.0%} (plan: {cut.size} positions, "
            f"est. cost {plan.cost_estimate:,.0f})"
        )
        prog = Programme(
            lim.limit_id,
            lim.scope_id,
            reason,
            frame.book_id[rows[cut]],
            ids[cut],
            slices,
            now,
            int(self.config.schedule_horizon_s * NS_PER_S / n_periods),
        )
        self.programmes[lim.limit_id] = prog
        return self._send_due(prog, now)

    def _price_candidates(
        self,
        ids: np.ndarray,
        q: np.ndarray,
        contribution: np.ndarray,
        model_cost: np.ndarray,
        need: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Re-price the best candidates on the books as they stand.

        In a crash the quoted spread and the depth, not the calm-market model, set what a
        sale costs. The positions the model ranks first (largest contribution per unit
        cost) that cover 1.5 times the reduction needed are quoted on the venue — one child
        order, ``|q| / N``, walked through the current book — up to
        ``config.reduction_quotes`` of them (quoting is the slow part of the
        breach-to-action path); the model costs of the others are scaled by the median
        ratio of quoted to model cost, so the market's state applies to them too.
        """
        usable = np.flatnonzero((contribution > 0) & (q != 0))
        with np.errstate(divide="ignore", over="ignore"):
            ratio = contribution[usable] / (model_cost[usable] * np.abs(q[usable]))
        ranked = usable[np.argsort(-ratio, kind="stable")]
        covered = np.cumsum(contribution[ranked])
        n_head = int(np.searchsorted(covered, 1.5 * max(need, 0.0))) + 1
        head = ranked[: min(n_head, self.config.reduction_quotes)]
        cost = model_cost.copy()
        scale = []
        for k in head:
            child = -float(q[k]) / self.config.schedule_periods
            booked = self.venue.quote(int(ids[k]), child)
            if booked > 0:
                scale.append(booked / model_cost[k])
                cost[k] = booked
        if scale:
            rest = np.setdiff1d(ranked, head, assume_unique=True)
            cost[rest] *= max(float(np.median(scale)), 1.0)
        return contribution, cost

    # ------------------------------------------------------------------ time

    def advance(self, now_ns: int) -> int:
        """Send every child order due by ``now_ns``; returns how many were sent."""
        return sum(self._send_due(p, now_ns) for p in self.programmes.values() if not p.done)

    def _send_due(self, prog: Programme, now_ns: int) -> int:
        sent = 0
        while not prog.done and prog.start_ns + prog.sent * prog.period_ns <= now_ns:
            for k in range(len(prog.book_id)):
                qty = float(prog.slices[k, prog.sent])
                if qty == 0.0:
                    continue
                sent += self._send(prog, k, qty, now_ns)
            prog.sent += 1
        return sent

    @staticmethod
    def order_id(prog: Programme, k: int) -> str:
        """The child order's id: the same programme, period and position always give the
        same id (a standby that takes over, or a redelivery, re-sends the same order), and
        two orders never share one."""
        return (
            f"reduce:{prog.limit_id}:{prog.start_ns}:{prog.sent}:"
            f"{int(prog.book_id[k])}:{int(prog.instrument_id[k])}"
        )

    def _send(self, prog: Programme, k: int, qty: float, now_ns: int) -> int:
        ledger = self.ledger
        assert ledger is not None
        book, instrument = int(prog.book_id[k]), int(prog.instrument_id[k])
        row = ledger.row(book, instrument)
        if row < 0:  # closed by someone else since the plan: nothing to reduce
            self.stats.gone += 1
            return 0
        held = float(ledger.quantity[row])
        qty = float(np.sign(qty) * min(abs(qty), abs(held)))  # never past flat
        if qty == 0.0 or np.sign(qty) == np.sign(held):
            return 0
        if not self._allowed(row, instrument, held, qty):
            self.stats.blocked += 1
            return 0
        fill = self.venue.execute(instrument, qty, now_ns)
        if self._started is not None and not prog.timed:
            # breach-to-action: snapshot received -> switch engaged -> this first order sent
            prog.timed = True
            self.stats.breach_to_action_ms.append((self.wall_clock() - self._started) * 1e3)
        if fill.quantity == 0.0:  # a venue that takes real orders may fill nothing (collar)
            self.stats.unfilled += 1
            return 0
        qty = fill.quantity  # may be partial on such a venue
        order_id = self.order_id(prog, k)
        seq = None if self.on_fill is None else self.on_fill(order_id, book, fill, prog.reason)
        # pending until the keeper holds it: by its sequence number when this process stored
        # it; by its order id when not (0: the bus knew the id — the other member of a
        # hot-standby pair sent it, or will: this one stands by)
        ledger.record(book, instrument, qty, seq if seq and seq > 0 else None, order_id)
        self.stats.orders += 1
        self.stats.cost_usd += fill.cost
        self.stats.traded_notional_usd += abs(
            qty * fill.avg_price * self.market.value_per_price[instrument]
        )
        action = {
            "ts_ns": now_ns,
            "order_id": order_id,
            "limit_id": prog.limit_id,
            "book_id": book,
            "instrument_id": instrument,
            "quantity": qty,
            "avg_price": fill.avg_price,
            "cost": fill.cost,
            "reason": prog.reason,
        }
        self.actions.append(action)
        if self.audit is not None:
            self.audit(
                AuditRecord(
                    ts_ns=now_ns,
                    actor="riskstream",
                    role="admin",
                    action="reduction.order",
                    target=f"position:{book}/{instrument}",
                    before={"quantity": held},
                    after={
                        "quantity": held + qty,
                        "avg_price": fill.avg_price,
                        "order_id": order_id,
                    },
                    reason=prog.reason,
                ).as_dict()
            )
        return 1

    def _allowed(self, row: int, instrument: int, held: float, qty: float) -> bool:
        """The pre-trade gate for one child order: every switch of every scope the position
        belongs to (firm, its desk, strategy, trader, asset class and instrument).

        A reduction only reduces, so ``reducing`` scopes let it pass; a ``halted`` one —
        a manual stop, or a circuit breaker on the instrument (price gap) or the firm
        (stale feed) — refuses it: halted means no orders at all.
        """
        assert self.ledger is not None
        scopes = {k: v[row : row + 1] for k, v in self.ledger.labels.items()}
        scopes[Scope.INSTRUMENT.value] = np.array([str(instrument)])
        return bool(self.board.check_orders(scopes, np.array([held]), np.array([qty]))[0])

    @property
    def quantity(self) -> np.ndarray | None:
        """Positions after the orders sent so far, in the rows of the last snapshot's
        frame (a position closed since: 0)."""
        if self.ledger is None or self._frame_rows is None:
            return None
        rows = self._frame_rows
        return np.where(rows >= 0, self.ledger.quantity[np.maximum(rows, 0)], 0.0)

    def summary(self) -> dict[str, Any]:
        lat = self.stats.breach_to_action_ms
        return {
            "limit_breaches": self.stats.breaches,
            "reduction_trades": self.stats.orders,
            "reduction_cost_usd": round(self.stats.cost_usd, 2),
            "reduction_traded_notional_usd": round(self.stats.traded_notional_usd, 2),
            "breach_to_action_ms": round(lat[0], 3) if lat else None,
            "reduction_orders_blocked": self.stats.blocked,
            "kill_switches": {k: r.state.value for k, r in self.board.engaged().items()},
        }
