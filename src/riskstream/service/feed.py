"""Where snapshots enter the service: :class:`SnapshotFeed` (push from the pipeline, or
follow a shared cache) and :class:`ServiceStage` (the pipeline stage that pushes).

On every snapshot the feed writes the risk cache, appends a compact record to the
in-memory history (what the charts and ``/api/v1/risk/history`` read), hands the limits
stage's published state (utilisation, alerts, kill switches) to the limit provider and
updates the Prometheus metrics. It is thread-safe: the pipeline
pushes from its thread, the web server reads from its own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from riskstream.core.clock import Clock, SystemClock
from riskstream.limits.killswitch import TradingState
from riskstream.limits.monitor import STATUS, Alert
from riskstream.regime.stage import REGIME_NAMES
from riskstream.service.cache import RiskCache
from riskstream.service.limits import LimitProvider
from riskstream.service.metrics import ServiceMetrics
from riskstream.service.portfolio import PortfolioView

if TYPE_CHECKING:
    from riskstream.risk.snapshot import RiskSnapshot


def _summary(snapshot: dict[str, Any], published_ns: int, pnl: float | None) -> dict[str, Any]:
    """The compact per-snapshot record kept in the history (no per-instrument arrays)."""
    keep = (
        "ts_ns",
        "lineage_id",
        "method",
        "var",
        "es",
        "lvar",
        "measures",
        "top_contributors",
        "greeks",
        "aggregates",
        "regime_probabilities",
        "regime_conditioning",
        "pipeline",
    )
    out = {k: snapshot.get(k) for k in keep}
    out["published_ns"] = published_ns
    out["pnl"] = pnl
    out["excluded"] = len(snapshot.get("excluded") or ())
    return out


class SnapshotFeed:
    """The service's source of risk snapshots.

    Parameters
    ----------
    cache : RiskCache
    limits : LimitProvider
    metrics : ServiceMetrics
    portfolio : PortfolioView
        For the P&L and the positions routes; follows the position keeper's versions once
        :meth:`follow_positions` is given its subscription.
    history_size : int
        Compact snapshot records kept.
    clock : Clock, optional
        Wall clock (publication times).
    """

    def __init__(
        self,
        cache: RiskCache,
        limits: LimitProvider,
        metrics: ServiceMetrics,
        portfolio: PortfolioView,
        history_size: int = 3600,
        clock: Clock | None = None,
    ):
        self.cache = cache
        self.limits = limits
        self.metrics = metrics
        self._portfolio = portfolio
        self._positions: Any = None
        self._positions_lock = threading.Lock()
        self.clock = clock or SystemClock()
        self.history: deque[dict[str, Any]] = deque(maxlen=history_size)
        self.version = 0
        self._lock = threading.Lock()
        self._last_published: int | None = None
        self._events_counted = 0
        # market-abuse alerts of the surveillance stage, newest last (compliance only)
        self.abuse_alerts: deque[dict[str, Any]] = deque(maxlen=1000)

    def push_abuse(self, rows: list[dict[str, Any]]) -> None:
        """Keep market-abuse alerts (rows of :func:`riskstream.surveillance.market_abuse.
        alerts_frame`) for ``GET /surveillance/abuse/alerts``."""
        self.abuse_alerts.extend(rows)

    def follow_positions(self, subscription: Any) -> None:
        """Follow the position keeper's :class:`~riskstream.core.messages.PositionsChanged`
        on ``subscription`` (a :class:`riskstream.bus.topics.Subscription`): every read of
        :attr:`portfolio` takes the newest version published (conflated, never blocking)."""
        self._positions = subscription

    @property
    def portfolio(self) -> PortfolioView:
        """The portfolio as of the keeper's newest version (any thread)."""
        if self._positions is not None:
            with self._positions_lock:
                latest = self._positions.latest()
                if latest is not None and latest[1].version > self._portfolio.version:
                    self._portfolio = self._portfolio.with_positions(latest[1])
        return self._portfolio

    def push(
        self,
        snapshot: RiskSnapshot,
        *,
        prices: np.ndarray | None = None,
        pnl: float | None = None,
        regime_probabilities: dict[str, float] | None = None,
        cycle_s: float | None = None,
        limits: dict[str, Any] | None = None,
        pipeline: dict[str, Any] | None = None,
    ) -> list[Alert]:
        """Publish one snapshot from the pipeline.

        Parameters
        ----------
        snapshot : RiskSnapshot
        prices : ndarray of shape (n_instruments,), optional
            Latest prices (mid); when ``pnl`` is not given, the mark-to-market P&L
            against reference prices.
        pnl : float, optional
            The P&L to report, base currency.
        regime_probabilities : dict, optional
            Overrides the snapshot's (when the regime stage runs beside risk).
        cycle_s : float, optional
            Wall time the refresh took, for the cycle-time histogram.
        limits : dict, optional
            The limits stage's state after checking this snapshot
            (``LimitsStage.published()``); None when no limits stage runs.
        pipeline : dict, optional
            The pipeline's live figures (end-to-end latency percentiles, lag) shown with
            the snapshot on the dashboard.

        Returns
        -------
        list of Alert
            The alerts this snapshot raised.
        """
        data = snapshot.as_dict()
        if regime_probabilities is not None:
            data["regime_probabilities"] = dict(regime_probabilities)
        if pnl is None and prices is not None:
            pnl = self.portfolio.pnl(prices, snapshot.fx_to_base)
        data["pnl"] = pnl
        if pipeline is not None:
            data["pipeline"] = dict(pipeline)
        if cycle_s is not None:
            self.metrics.risk_cycle.observe(cycle_s)
        published = self.cache.publish(
            data, snapshot.component_var, snapshot.component_es, limits=limits
        )
        return self._ingest(data, published, limits)

    def follow_cache(self) -> bool:
        """Take in the cached snapshot (and the limits state published with it) if another
        process published a new one (for ``riskstream serve`` beside a pipeline sharing a
        Redis cache); True if new."""
        cached, limits = self.cache.latest_with_limits()
        if cached is None or cached.published_ns == self._last_published:
            return False
        self._ingest(cached.value, cached.published_ns, limits)
        return True

    def _ingest(
        self, data: dict[str, Any], published_ns: int, limits: dict[str, Any] | None
    ) -> list[Alert]:
        rows, alerts = self.limits.evaluate(limits, published_ns)
        m = self.metrics
        m.snapshots.inc()
        m.last_snapshot.set(published_ns / 1e9)
        for measure in data.get("measures") or ():
            labels = (str(measure["confidence"]), str(measure["horizon_days"]))
            for name in ("var", "es", "lvar"):
                m.risk.labels(name, *labels).set(measure[name])
        if data.get("pnl") is not None:
            m.pnl.set(data["pnl"])
        for regime, p in (data.get("regime_probabilities") or {}).items():
            m.regime.labels(str(regime)).set(p)
        # limits: the series of limits no longer in force go (a clear, then the current set)
        m.utilisation.clear()
        m.limit_state.clear()
        for row in rows:
            scope = f"{row['scope']}:{row['key']}"
            m.utilisation.labels(scope, row["limit_type"]).set(row["utilisation"])
            m.limit_state.labels(scope, row["limit_type"]).set(STATUS.index(row["status"]))
        m.kill_switch.clear()
        order = [s.value for s in TradingState]
        for switch in self.limits.switches():
            m.kill_switch.labels(switch["scope_id"]).set(order.index(switch["state"]))
        for alert in alerts:
            if alert.severity != "info":
                m.breaches.labels(alert.scope_id, alert.limit_type, alert.severity).inc()
        with self._lock:
            self.history.append(_summary(data, published_ns, data.get("pnl")))
            self._last_published = published_ns
            self.version += 1
        return alerts

    def latest_summary(self) -> dict[str, Any] | None:
        with self._lock:
            return self.history[-1] if self.history else None

    def history_between(
        self, since_ns: int | None = None, until_ns: int | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """Compact records with event time in ``[since_ns, until_ns]``, oldest first."""
        with self._lock:
            rows = [
                r
                for r in self.history
                if (since_ns is None or r["ts_ns"] >= since_ns)
                and (until_ns is None or r["ts_ns"] <= until_ns)
            ]
        return rows[-limit:]

    def observe_pipeline(self, summary: dict[str, Any]) -> None:
        """Update the ingest and quarantine metrics from the pipeline's summary figures
        (``Pipeline.summary()``: ``events``, ``events_per_s``, ``quarantine_by_reason``)."""
        m = self.metrics
        events = int(summary.get("events", 0))
        if events > self._events_counted:  # a counter only goes up: add the difference
            m.events.inc(events - self._events_counted)
            self._events_counted = events
        m.ingest_rate.set(float(summary.get("events_per_s", 0.0)))
        for reason, count in (summary.get("quarantine_by_reason") or {}).items():
            m.quarantined.labels(str(reason)).set(count)


class ServiceStage:
    """Pipeline stage that feeds the service: pushes the risk stage's new snapshots and
    the market-data stage's latencies and counters.

    Parameters
    ----------
    feed : SnapshotFeed
    risk_stage : object
        Has ``last`` (the latest RiskSnapshot or None) and ``refresh_ms`` (list).
    md_stage : object, optional
        Has ``market_state`` (``mid`` prices), ``latencies_ns()`` and ``summary()``.
    regime_stage : object, optional
        Has ``probabilities`` (dict) — passed with each snapshot when present.
    limits_stage : LimitsStage, optional
        Its published state (utilisation, alerts, kill switches) goes with each snapshot;
        the service works on its kill-switch board and asks it to re-read stored limits
        after a change (``LimitProvider.attach``).
    min_interval_s : float
        Push at most this often (wall clock): the dashboard needs ~4 Hz, not 10.

    Positions are not this stage's business: the position keeper publishes them, and the
    engine (through the risk stage) and the service's portfolio view each follow its
    versions.
    """

    name = "service"

    def __init__(
        self,
        feed: SnapshotFeed,
        risk_stage: Any,
        md_stage: Any | None = None,
        regime_stage: Any | None = None,
        min_interval_s: float = 0.2,
        limits_stage: Any | None = None,
    ):
        self.feed = feed
        self.risk_stage = risk_stage
        self.md_stage = md_stage
        self.regime_stage = regime_stage
        self.limits_stage = limits_stage
        if limits_stage is not None:
            feed.limits.attach(limits_stage.controller.board, limits_stage.request_reload)
        self.min_interval_s = min_interval_s
        self.pushed = 0
        self._last = None
        self._last_wall = 0.0
        self._md_batches = 0
        self._events = 0
        self._started = time.perf_counter()

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        self._events += len(events)
        if self.md_stage is not None:
            batches = self.md_stage.batches
            lat = self.md_stage.latency_ns
            for i in range(self._md_batches, batches):
                self.feed.metrics.md_latency.observe(lat[i % len(lat)] / 1e9)
            self._md_batches = batches
        snap = self.risk_stage.last
        wall = time.perf_counter()
        if snap is None or snap is self._last or wall - self._last_wall < self.min_interval_s:
            return
        prices = self.md_stage.market_state.mid if self.md_stage is not None else None
        regimes = None
        if self.regime_stage is not None and self.regime_stage.regime >= 0:  # warmed up
            regimes = {
                REGIME_NAMES.get(k, str(k)): float(p)
                for k, p in enumerate(self.regime_stage.probabilities)
            }
        cycle = self.risk_stage.refresh_ms[-1] / 1e3 if self.risk_stage.refresh_ms else None
        limits = self.limits_stage.published() if self.limits_stage is not None else None
        self.feed.push(
            snap, prices=prices, regime_probabilities=regimes, cycle_s=cycle, limits=limits
        )
        summary = {"events": self._events, "events_per_s": self._events / (wall - self._started)}
        if self.md_stage is not None:
            summary["quarantine_by_reason"] = self.md_stage.summary().get(
                "quarantine_by_reason", {}
            )
        self.feed.observe_pipeline(summary)
        self._last, self._last_wall = snap, wall
        self.pushed += 1

    def summary(self) -> dict[str, Any]:
        return {
            "service_snapshots_pushed": self.pushed,
            "service_limit_rows": len(self.feed.limits.utilisation()),
            "service_limits_available": self.feed.limits.available(),
        }

    def view(self) -> list[tuple[str, str]]:
        return [("snapshots to service", f"{self.pushed:,}")]

    def close(self) -> None:
        return None
