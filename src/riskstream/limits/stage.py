"""Limits as a pipeline stage: check each new risk snapshot, act, report.

:class:`LimitsStage` implements :class:`riskstream.pipeline.Stage` by shape (``limits``
does not import the pipeline). It runs after the risk stage: when a snapshot newer than
the last one checked is published, the stage builds the
:class:`~riskstream.limits.exposures.ExposureFrame` from the positions of the position
keeper's latest version (:class:`~riskstream.limits.ledger.PositionLedger`, re-keyed by
``(book_id, instrument_id)`` on every version) and the snapshot's
:class:`~riskstream.risk.valuation.Valuation`, and hands it to the
:class:`~riskstream.limits.controller.LimitController`; on every batch it lets due child
orders go out and publishes their fills (:class:`~riskstream.core.messages.Fill`, on
``SUBJECTS["fills"]``, each with its position's own book and a deterministic order id) to
the position keeper, the one writer of positions. The engine sees the reduced portfolio
when the keeper's next version reaches it. The stage reads no engine object: prices and
sensitivities come from the snapshot, quotes from the shared market state, static data
from the universe (:class:`~riskstream.limits.ledger.LimitsReference`), so it can run in a
process of its own given those and the topics.

Circuit breakers run first on every batch (:class:`~riskstream.limits.killswitch.
CircuitBreaker` on the market state ``md`` writes: mids, best quotes, last-update times,
stale flags): a price gap halts the instrument, a stale feed halts the firm, before any
child order of that batch goes out. Per batch rather than per snapshot: a halt must stop
the very next order, and the check is a few vectorised passes over the held instruments
(about 0.1 ms for ten thousand instruments), well under 1% of a batch's own cost.

**Limits in force.** The reference limits (:func:`reference_limits`, or the list given) overlaid
by the limits stored through the :class:`~riskstream.limits.registry.LimitRegistry`: a stored
limit replaces the reference limit with the same id (``scope:key/type``) — disabling it too —
and adds those the reference set lacks. The stage re-reads the store before a check when asked
(:meth:`LimitsStage.request_reload`, e.g. by the service after a change) and every
``store_poll_s`` (changes made by another process), so a change applies from the next snapshot.

**What it publishes.** :meth:`LimitsStage.published` is the state after the latest check as
plain JSON-friendly data — every limit in force, its utilisation and state, the recent alerts
and the kill switches — which the service shows (dashboard, REST, metrics).
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from riskstream.core.clock import Clock
from riskstream.core.instruments import Universe
from riskstream.core.messages import SUBJECTS, Fill
from riskstream.core.state import MarketState
from riskstream.limits.config import LimitsConfig
from riskstream.limits.controller import LimitController, MarketContext
from riskstream.limits.execution import DepthSource, FallbackDepth, SimulatedVenue, SyntheticDepth
from riskstream.limits.execution import Fill as VenueFill
from riskstream.limits.exposures import ExposureFrame, allocate_to_positions, liquidation_days
from riskstream.limits.killswitch import (
    CircuitBreaker,
    KillSwitchBoard,
    MemorySwitchStore,
    SwitchStore,
)
from riskstream.limits.ledger import LimitsReference, PositionLedger
from riskstream.limits.model import LimitDefinition, LimitType, Scope
from riskstream.limits.monitor import LimitMonitor, MonitorResult
from riskstream.limits.registry import LimitStore
from riskstream.risk.valuation import Valuation

log = logging.getLogger("riskstream.limits")


def frame_from_snapshot(
    ledger: PositionLedger,
    snapshot: Any,
    reference: LimitsReference,
    pnl: np.ndarray,
    max_participation: float,
) -> ExposureFrame:
    """Per-position exposures: the ledger's positions valued with the snapshot's
    :class:`~riskstream.risk.valuation.Valuation` (per-unit value and Greeks) and its
    per-instrument Euler contributions (``component_var``, ``component_es``, headline
    ``var``/``lvar``), split over the books holding each instrument by quantity share."""
    ids = ledger.instrument_id
    q = ledger.quantity
    v = snapshot.valuation
    head = snapshot.headline
    lvar_ratio = head.lvar / head.var if head.var > 0 else 1.0
    comp_var = allocate_to_positions(snapshot.component_var, ids, q)
    labels = ledger.labels
    return ExposureFrame(
        instrument_id=ids.astype(np.int32),
        quantity=q.copy(),
        market_value=q * v.unit_value[ids],
        delta=q * v.unit_delta[ids],
        gamma=q * v.unit_gamma[ids],
        vega=q * v.unit_vega[ids],
        component_var=comp_var,
        component_es=allocate_to_positions(snapshot.component_es, ids, q),
        component_lvar=comp_var * lvar_ratio,
        pnl=np.nan_to_num(pnl),
        liquidation_days=liquidation_days(q, reference.adv[ids], max_participation),
        labels={
            Scope.DESK: labels["desk"],
            Scope.STRATEGY: labels["strategy"],
            Scope.TRADER: labels["trader"],
            Scope.ASSET_CLASS: labels["asset_class"],
        },
        ts_ns=int(snapshot.ts_ns),
        book_id=ledger.book_id.copy(),
    )


def market_context(
    valuation: Valuation | None, market: MarketState, reference: LimitsReference
) -> MarketContext:
    """Reduction inputs (fresh arrays) from a snapshot's valuation, the market state's
    quotes and the reference data. Before the first valuation: reference prices and FX
    rates, and 1% daily volatility."""
    if valuation is None:
        price, fx = reference.ref_price, reference.fx0
        sigma = np.full(len(reference), 0.01)
    else:
        price, fx = np.asarray(valuation.price, dtype=np.float64), valuation.fx
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma = np.abs(valuation.unit_sigma / valuation.unit_value)
        sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 0.01)
    mid = np.where(np.isfinite(market.mid), market.mid, price)
    mid = np.where(np.isfinite(mid) & (mid > 0), mid, 1.0)
    quoted = np.asarray(market.spread, dtype=np.float64) / mid
    spread_rel = np.where(np.isfinite(quoted) & (quoted > 0), quoted, reference.spread_bps * 1e-4)
    return MarketContext(
        mid=mid,
        value_per_price=np.asarray(reference.multiplier * fx, dtype=np.float64),
        spread_rel=np.maximum(spread_rel, 1e-6),
        adv=reference.adv.copy(),
        sigma_daily=sigma,
    )


def reference_limits(
    frame: ExposureFrame, var: float, gross: float, stop_loss_var: float = 0.5
) -> list[LimitDefinition]:
    """A default limit set sized on the portfolio as it starts (for the demo and bench).

    Firm VaR: hard at 1.5x today's VaR; firm intraday stop-loss (drawdown): hard at
    ``stop_loss_var`` x today's one-day VaR (``limits.stop_loss_var_multiple``, default 0.5:
    half a day's 99% loss in one session stops the book) and soft at 0.6 of that;
    each desk's gross notional: hard at 1.25x today's; any single position: hard at the
    larger of 5% of firm gross and 1.25x today's largest position, soft at the larger of
    4% of firm gross and 1.1x the largest (the desk limits' headroom).

    Why the single-position limit looks at the largest position: a limit "sized on the
    portfolio as it starts" must leave that portfolio inside it, as the VaR and gross limits
    do, or it is breached at birth and the first snapshot sells the book's largest holding
    for no market reason. 5% of gross is the usual diversification cap (UCITS 5/10/40 rule,
    Directive 2009/65/EC art. 52); a book already holding more than that keeps headroom over
    its own largest position, and any growth of it beyond 1.25x breaches.
    """
    largest = float(np.abs(frame.market_value).max()) if len(frame) else 0.0
    size_soft = max(0.04 * gross, 1.1 * largest)
    size_hard = max(0.05 * gross, 1.25 * largest)
    limits = [
        LimitDefinition(Scope.FIRM, "firm", LimitType.VAR, 1.2 * var, 1.5 * var),
        LimitDefinition(
            Scope.FIRM, "firm", LimitType.DRAWDOWN, 0.6 * stop_loss_var * var, stop_loss_var * var
        ),
        LimitDefinition(Scope.FIRM, "firm", LimitType.POSITION_SIZE, size_soft, size_hard),
    ]
    desks = frame.labels[Scope.DESK].astype(str)
    for desk in np.unique(desks):
        g = float(np.abs(frame.market_value[desks == desk]).sum())
        if g > 0:
            limits.append(
                LimitDefinition(Scope.DESK, desk, LimitType.GROSS_NOTIONAL, 1.1 * g, 1.25 * g)
            )
    return limits


def limits_in_force(
    reference: Sequence[LimitDefinition], stored: Sequence[LimitDefinition]
) -> list[LimitDefinition]:
    """The reference limits overlaid by the stored ones (same id: the stored one wins)."""
    by_id = {lim.limit_id: lim for lim in reference}
    by_id.update((lim.limit_id, lim) for lim in stored)
    return sorted(by_id.values(), key=lambda lim: lim.limit_id)


def build_limits_stage(
    risk_stage: Any,
    depth: DepthSource | None,
    limits: list[LimitDefinition] | None = None,
    config: LimitsConfig | None = None,
    switch_store: SwitchStore | None = None,
    audit: Any = None,
    clock: Clock | None = None,
    limit_store: LimitStore | None = None,
    *,
    universe: Universe | None = None,
    market: MarketState | None = None,
    topics: Any = None,
) -> LimitsStage:
    """Wire a :class:`LimitsStage` behind a risk stage.

    Parameters
    ----------
    risk_stage : RiskStage
        Its ``last`` snapshot is what the stage checks.
    depth : DepthSource, optional
        Reconstructed books (``MarketDataEngine``); a synthetic ladder fills the gaps.
    limits : list of LimitDefinition, optional
        Default :func:`reference_limits`, sized on the first snapshot with a VaR.
    switch_store : SwitchStore, optional
        Default in memory; pass ``riskstream.store.limits_repo.LimitRepository`` to persist.
    limit_store : LimitStore, optional
        Stored limits (``LimitRepository``), overlaid on the reference ones and re-read
        when they change.
    universe : Universe, optional
        Reference data and the starting positions (version 0). Default: read once, here,
        from the risk stage's engine (in-process wiring; the stage itself never reads it).
    market : MarketState, optional
        md's market state (quotes for the breakers and the venue); default the engine's.
    topics : Topics, optional
        Fills are published here and the keeper's versions followed. Without, fills stay
        pending in the stage's ledger (nobody applies them: tests of the limits alone).
    """
    config = config or LimitsConfig()
    if universe is not None:
        reference = LimitsReference.from_universe(universe)
        ledger = PositionLedger.from_universe(universe)
    else:  # the wiring reads the engine's reference once; the stage never does
        engine = risk_stage.engine
        reference = LimitsReference.from_instruments(engine.instruments, engine.fx_to_base)
        ledger = PositionLedger(reference.asset_class)
        ledger.set_rows(
            engine.positions_version,
            engine.pos_book,
            engine.pos_inst,
            engine.pos_qty,
            dict(engine.pos_labels),
        )
    market = market if market is not None else risk_stage.engine.market
    deferred = limits is None  # reference limits are sized on the first complete snapshot
    ctx = market_context(None, market, reference)
    synthetic = SyntheticDepth(ctx.mid, ctx.spread_rel, ctx.adv, config.venue_depth_levels)
    venue = SimulatedVenue(
        FallbackDepth(depth, synthetic) if depth is not None else synthetic,
        ctx.value_per_price,
        config.venue_resilience_s,
    )
    board = KillSwitchBoard(switch_store or MemorySwitchStore(), clock)
    controller = LimitController(
        LimitMonitor(limits or [], config), board, venue, ctx, config, audit=audit, ledger=ledger
    )
    stage = LimitsStage(
        risk_stage,
        controller,
        limits_from_first_snapshot=deferred,
        limit_store=limit_store,
        reference=reference,
        market=market,
        topics=topics,
    )
    stage.synthetic = synthetic
    return stage


class LimitsStage:
    """Monitor limits on every new snapshot and act on breaches.

    Parameters
    ----------
    risk_stage : object
        Has ``last``: the latest :class:`~riskstream.risk.snapshot.RiskSnapshot` or None.
    controller : LimitController
        Its monitor's limits are the reference set; its ledger the positions acted on.
    limits_from_first_snapshot : bool
        Size :func:`reference_limits` on the first snapshot that prices the whole book.
    limit_store : LimitStore, optional
        Stored limits, overlaid on the reference ones (see the module docstring).
    reference : LimitsReference
        Static per-instrument data (multiplier, currency, ADV, asset class, spread).
    market : MarketState
        md's quotes and update times (breakers, the venue's synthetic depth).
    topics : Topics, optional
        Fills go to ``SUBJECTS["fills"]``; the keeper's ``PositionsChanged`` are followed.
    """

    name = "limits"

    def __init__(
        self,
        risk_stage: Any,
        controller: LimitController,
        limits_from_first_snapshot: bool = False,
        limit_store: LimitStore | None = None,
        *,
        reference: LimitsReference,
        market: MarketState,
        topics: Any = None,
    ):
        self.risk_stage = risk_stage
        self.controller = controller
        assert controller.ledger is not None, "the stage keeps the controller's ledger"
        self.ledger: PositionLedger = controller.ledger
        self.reference = reference
        self.market = market
        self.topics = topics
        self.limits_from_first_snapshot = limits_from_first_snapshot
        self._last_lineage: str | None = None
        self.snapshots_checked = 0
        self.fills_published = self.fills_known = 0
        controller.on_fill = self._publish_fill
        self._positions = (
            topics.subscribe(SUBJECTS["positions"], start_after=0) if topics is not None else None
        )
        self.valuation: Valuation | None = None
        self._fx = reference.fx0.copy()
        self.synthetic: SyntheticDepth | None = None
        # P&L is marked against each instrument's first valid mark (instruments whose
        # prices arrive late start then). The counterfactual is the positions never traded
        # by us: our orders do not move the market, so against the same marks, P&L with
        # the actions - P&L held = sum over fills of qty x (mark - fill value), the loss
        # avoided net of the fills' costs. Fills are kept per (book, instrument), so a
        # position's P&L stays its own whatever rows the keeper's versions add or remove.
        self._mark0 = np.full(len(reference), np.nan)
        self._fill_key: dict[tuple[int, int], int] = {}
        self._fill_inst: list[int] = []
        self._fill_qty: list[float] = []
        self._fill_value: list[float] = []
        cfg = controller.config
        self.breaker = (
            CircuitBreaker(cfg.price_gap_fraction, cfg.stale_feed_s, cfg.stale_feed_share)
            if cfg.circuit_breakers
            else None
        )
        self._gap_scale = self._elasticity()
        # limits in force and what the stage publishes (see the module docstring)
        self.limit_store = limit_store
        self.run_id = secrets.token_hex(4)  # tells a reader a new run's alert ids from old
        self.reload_errors = 0
        self._reference = list(controller.monitor.limits_)
        self._stored: list[LimitDefinition] = []
        self._reload_due = False
        self._last_reload = controller.wall_clock()
        self._alerts: deque[dict[str, Any]] = deque(maxlen=1000)
        self._chained = controller.monitor.publish
        controller.monitor.publish = self._record
        if limit_store is not None:
            self._stored = self._load_stored()
            self._install()

    # ------------------------------------------------------------ positions and fills

    def _follow_positions(self) -> None:
        """Take the keeper's newest version (conflated: only the latest's positions matter;
        the fills every version applied are noted, so no sent order stays pending)."""
        if self._positions is None:
            return
        versions = self._positions.fetch(1024)
        while versions:
            *skipped, (_, newest) = versions
            self.ledger.adopt(newest, [c for _, m in skipped for c in m.applied])
            versions = self._positions.fetch(1024)

    def _publish_fill(self, order_id: str, book_id: int, fill: VenueFill, reason: str) -> int:
        """Record a fill for the P&L and send it to the keeper; its sequence number on the
        fills subject (0: the bus had this order id already; -1: no topics)."""
        key = (int(book_id), int(fill.instrument_id))
        k = self._fill_key.get(key)
        if k is None:
            k = self._fill_key[key] = len(self._fill_inst)
            self._fill_inst.append(key[1])
            self._fill_qty.append(0.0)
            self._fill_value.append(0.0)
        vpp = self.controller.market.value_per_price[fill.instrument_id]
        self._fill_qty[k] += fill.quantity
        self._fill_value[k] += fill.quantity * fill.avg_price * vpp
        if self.topics is None:
            return -1
        message = Fill(
            order_id,
            key[0],
            key[1],
            fill.quantity,
            fill.avg_price,
            fill.ts_ns,
            actor="system:limits",
            reason=reason,
        )
        seq = int(self.topics.publish(SUBJECTS["fills"], message, msg_id=order_id))
        if seq:
            self.fills_published += 1
        else:
            self.fills_known += 1
        return seq

    # ------------------------------------------------------------ marks and P&L

    def _elasticity(self) -> np.ndarray:
        """Each instrument's price elasticity to its underlying,
        :math:`\\max(1, |S\\,\\partial V/\\partial S| / |V|)` from the snapshot's per-unit
        delta and value: 1 for linear instruments (and bonds), the leverage of an option's
        premium for options — the circuit breaker's gap is an underlying-equivalent move.
        An option not valued yet (no price) is not gap-checked (infinite scale) until it
        is: its leverage is unknown."""
        option = self.reference.asset_class == "option"
        v = self.valuation
        if v is None:
            return np.where(option, np.inf, 1.0)
        value = np.asarray(v.unit_value, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            omega = np.abs(np.asarray(v.unit_delta) / value)
        scale = np.where(np.isfinite(omega), np.maximum(omega, 1.0), 1.0)
        return np.where(option & (value == 0), np.inf, scale)

    def _check_breakers(self, now_ns: int) -> None:
        """Price gaps and a stale feed on the market state, against the held instruments."""
        assert self.breaker is not None
        m = self.market
        self.breaker.check(
            self.controller.board,
            m.mid,
            m.ts_ns,
            self.ledger.held(len(self.reference)),
            now_ns,
            bid=m.bid,
            ask=m.ask,
            gap_scale=self._gap_scale,
            feed_stale=m.stale,
        )

    def _mark(self) -> np.ndarray:
        """Mark-to-market value per unit (price x multiplier x FX; option premiums, not
        delta-equivalents), base currency, at the latest snapshot's prices; NaN where the
        price is not known."""
        price = (
            np.full(len(self.reference), np.nan) if self.valuation is None else self.valuation.price
        )
        mark = price * self.reference.multiplier * self._fx
        first = np.isnan(self._mark0) & np.isfinite(mark)
        self._mark0[first] = mark[first]
        return mark

    def _fills(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.asarray(self._fill_inst, dtype=np.int64),
            np.asarray(self._fill_qty, dtype=np.float64),
            np.asarray(self._fill_value, dtype=np.float64),
        )

    def _pnl(self) -> np.ndarray:
        """Each ledger row's P&L (the part held plus its fills), base currency."""
        mark = self._mark()
        move = np.nan_to_num(mark - self._mark0)
        now = np.nan_to_num(mark)
        led = self.ledger
        fq, fv = np.zeros(len(led)), np.zeros(len(led))
        for (b, i), k in self._fill_key.items():
            row = led.row(b, i)
            if row >= 0:
                fq[row], fv[row] = self._fill_qty[k], self._fill_value[k]
        ids = led.instrument_id
        return (led.quantity - fq) * move[ids] + fq * now[ids] - fv

    def pnl(self) -> tuple[float, float]:
        """(P&L with the actions taken, P&L had the positions been held), base currency,
        at the latest snapshot's prices."""
        mark = self._mark()
        move = np.nan_to_num(mark - self._mark0)
        now = np.nan_to_num(mark)
        led = self.ledger
        inst, fq, fv = self._fills()
        # held = what the positions would be without our fills, marked since the start
        held = float((led.quantity * move[led.instrument_id]).sum() - (fq * move[inst]).sum())
        avoided = float((fq * now[inst] - fv).sum())
        return held + avoided, held

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        self._follow_positions()
        if self.breaker is not None:
            self._check_breakers(now_ns)
        snap = self.risk_stage.last
        if snap is not None and snap.lineage_id != self._last_lineage:
            received = self.controller.wall_clock()
            self._refresh_stored(received)
            self._last_lineage = snap.lineage_id
            cfg = self.controller.config
            if snap.valuation is not None:
                self.valuation = snap.valuation
                self._fx = np.asarray(snap.valuation.fx, dtype=np.float64)
            self._gap_scale = self._elasticity()
            ctx = market_context(self.valuation, self.market, self.reference)
            self.controller.market = ctx
            self.controller.venue.value_per_price = ctx.value_per_price
            if self.synthetic is not None:
                self.synthetic.mid = ctx.mid
                self.synthetic.spread_rel = ctx.spread_rel
            frame = frame_from_snapshot(
                self.ledger, snap, self.reference, self._pnl(), cfg.max_participation
            )
            # Size the reference limits on the first snapshot that prices the whole book:
            # sized on a partial one (quotes still arriving) they would be breached at once.
            if self.limits_from_first_snapshot and snap.headline.var > 0 and not snap.excluded:
                self.limits_from_first_snapshot = False
                gross = float(np.abs(frame.market_value).sum())
                self._reference = reference_limits(
                    frame, snap.headline.var, gross, cfg.stop_loss_var_multiple
                )
                self._install()
            self.controller.on_snapshot(frame, received)
            self.snapshots_checked += 1
        self.controller.advance(now_ns)

    # ------------------------------------------------------------ limits in force

    def request_reload(self) -> None:
        """Re-read the stored limits and kill switches before the next check (any thread
        may ask; the pipeline's thread reads)."""
        self._reload_due = True

    def limits_in_force(self) -> list[LimitDefinition]:
        return limits_in_force(self._reference, self._stored)

    def _load_stored(self) -> list[LimitDefinition]:
        assert self.limit_store is not None
        return [LimitDefinition.from_dict(row) for row in self.limit_store.load_limits()]

    def _install(self) -> None:
        self.controller.monitor.set_limits(self.limits_in_force())

    def _refresh_stored(self, now_s: float) -> None:
        """Take in stored limits and switch states when asked or every ``store_poll_s``."""
        due = now_s - self._last_reload >= self.controller.config.store_poll_s
        if not (self._reload_due or due):
            return
        self._reload_due = False
        self._last_reload = now_s
        try:
            if self.limit_store is not None:
                stored = self._load_stored()
                if stored != self._stored:
                    self._stored = stored
                    self._install()
            self.controller.board.reload()
        except Exception:  # the store is down: keep monitoring with the limits in force
            self.reload_errors += 1
            log.exception("re-reading stored limits and kill switches failed")

    def _record(self, result: MonitorResult) -> None:
        self._alerts.extend(a.as_dict() for a in result.alerts)
        if self._chained is not None:
            self._chained(result)

    def published(self, max_alerts: int = 200) -> dict[str, Any]:
        """The state after the latest check, as JSON-friendly data.

        Returns
        -------
        dict
            ``run_id``; ``ts_ns`` and ``lineage_id`` of the snapshot checked (None before the
            first); ``limits``: every limit in force (``LimitDefinition.as_dict()`` plus
            ``source``, ``reference`` or ``stored``); ``utilisation``: one row per monitored
            limit (``MonitorResult.rows()``: exposure, utilisation, status ok / warning /
            breach); ``alerts``: the latest ``max_alerts`` alerts, oldest first (ids rise
            within a run); ``switches``: every kill switch that has moved
            (``KillSwitchBoard.status()``).
        """
        last = self.controller.last
        stored = {lim.limit_id for lim in self._stored}
        return {
            "run_id": self.run_id,
            "ts_ns": None if last is None else int(last.ts_ns),
            "lineage_id": self._last_lineage,
            "limits": [
                {**lim.as_dict(), "source": "stored" if lim.limit_id in stored else "reference"}
                for lim in self.limits_in_force()
            ],
            "utilisation": [] if last is None else last.rows(),
            "alerts": list(self._alerts)[-max_alerts:],
            "switches": self.controller.board.status(),
        }

    def summary(self) -> dict[str, Any]:
        out = self.controller.summary()
        actual, held = self.pnl()
        out["loss_avoided_usd"] = round(actual - held, 2)
        out["pnl_with_limits_usd"] = round(actual, 2)
        out["pnl_if_held_usd"] = round(held, 2)
        out["limit_snapshots_checked"] = self.snapshots_checked
        out["limits_positions_version"] = self.ledger.version
        out["reduction_fills_published"] = self.fills_published
        out["reduction_fills_pending"] = self.ledger.pending
        out["limits_in_force"] = len(self.limits_in_force())
        last = self.controller.last
        if last is not None and len(last.utilisation):
            out["max_limit_utilisation"] = round(float(last.utilisation.max()), 4)
        if self.breaker is not None:
            out["circuit_breaker_trips"] = dict(self.breaker.trips)
            out["stale_feed_share"] = round(self.breaker.stale_share_now, 4)
        out["kill_switch_triggers"] = {
            k: r.trigger for k, r in self.controller.board.engaged().items()
        }
        return out

    def view(self) -> list[tuple[str, str]]:
        s = self.controller.summary()
        actual, held = self.pnl()
        rows = [
            ("limit breaches", str(s["limit_breaches"])),
            ("loss avoided", f"{actual - held:,.0f} (P&L {actual:,.0f} vs held {held:,.0f})"),
            ("reduction trades", f"{s['reduction_trades']} (cost {s['reduction_cost_usd']:,.0f})"),
        ]
        engaged = self.controller.board.engaged()
        first = list(engaged.items())[:4]
        shown = ", ".join(f"{k}={r.state.value} ({r.trigger})" for k, r in first)
        if len(engaged) > 4:
            shown += f", +{len(engaged) - 4} more"
        rows.append(("kill switches", shown or "all active"))
        if self.breaker is not None:
            t = self.breaker.trips
            rows.append(
                (
                    "circuit breakers",
                    f"{t['price_gap']} price gaps, {t['stale_feed']} stale-feed halts "
                    f"(stale now {self.breaker.stale_share_now:.0%}); "
                    f"{s['reduction_orders_blocked']} orders blocked",
                )
            )
        return rows

    def close(self) -> None:
        return None
