"""Prometheus metrics of the pipeline and the service (``/metrics``).

One :class:`ServiceMetrics` per app, on its own registry (so several apps — tests, a
demo — never collide). :data:`METRIC_NAMES` lists every exported family; the Grafana
dashboards and alert rules in ``deploy/`` use only these (a test checks it).
"""

from __future__ import annotations

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from riskstream.core.messages import StageStats
from riskstream.runtime.latency import EDGES_S, N_BUCKETS, PROMETHEUS_EDGES

__all__ = ["CONTENT_TYPE_LATEST", "METRIC_NAMES", "ServiceMetrics"]

disable_created_metrics()  # no *_created series: they double the output and no panel uses them

# Latency buckets: microseconds to a second (event-to-feature latency targets < 1 ms).
_LATENCY_BUCKETS = (1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.1, 1.0)
_CYCLE_BUCKETS = (1e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5)


class EventLatency(Collector):
    """A per-event latency histogram filled from the stages' cumulative bucket counts
    (:class:`~riskstream.core.messages.StageStats`), not one ``observe`` per event: the
    stages count hundreds of thousands of events a second in bulk
    (:mod:`riskstream.runtime.latency`), and this exports their counts at about 1, 2 and 5
    per decade of latency. A stage that restarts begins its counts again; what it had
    counted before is kept, so the exported counts only grow.
    """

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry):
        self.name = name
        self.documentation = documentation
        self._base = np.zeros(N_BUCKETS)
        self._base_sum = 0.0
        self._counts = np.zeros(N_BUCKETS)
        self._sum = 0.0
        self._started: int | None = None
        registry.register(self)

    def update(self, counts: np.ndarray, started_ns: int, sum_s: float = 0.0) -> None:
        """The stage's cumulative ``counts`` now (from a node started at ``started_ns``)."""
        if self._started is not None and started_ns != self._started:
            self._base += self._counts  # the stage restarted: keep what it had counted
            self._base_sum += self._sum
        self._started = started_ns
        self._counts = np.asarray(counts, dtype=np.float64).copy()
        self._sum = sum_s

    @property
    def counts(self) -> np.ndarray:
        return self._base + self._counts

    def collect(self):  # prometheus_client's collector protocol
        cum = np.cumsum(self.counts)
        buckets = [(f"{EDGES_S[k]:.4g}", float(cum[k])) for k in PROMETHEUS_EDGES]
        buckets.append(("+Inf", float(cum[-1])))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], buckets, sum_value=self._base_sum + self._sum)
        yield family


class ServiceMetrics:
    """Every metric the service exports."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events = Counter(
            "riskstream_events_ingested", "Market events ingested by the pipeline.", registry=r
        )
        self.ingest_rate = Gauge(
            "riskstream_ingest_rate_events_per_second",
            "Events per second over the pipeline's run.",
            registry=r,
        )
        self.md_latency = Histogram(
            "riskstream_md_latency_seconds",
            "Receipt-to-feature latency per market-data batch.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.quarantined = Gauge(
            "riskstream_quarantined_events",
            "Events quarantined by market-data validation, by reason (cumulative).",
            ["reason"],
            registry=r,
        )
        self.risk_cycle = Histogram(
            "riskstream_risk_cycle_seconds",
            "Wall time of one risk refresh.",
            buckets=_CYCLE_BUCKETS,
            registry=r,
        )
        self.snapshots = Counter(
            "riskstream_risk_snapshots", "Risk snapshots published.", registry=r
        )
        self.last_snapshot = Gauge(
            "riskstream_last_snapshot_timestamp_seconds",
            "Wall-clock time the latest risk snapshot was published (Unix seconds).",
            registry=r,
        )
        self.risk = Gauge(
            "riskstream_risk_measure",
            "Portfolio risk of the latest snapshot, base currency.",
            ["measure", "confidence", "horizon_days"],
            registry=r,
        )
        self.pnl = Gauge("riskstream_pnl", "Mark-to-market P&L, base currency.", registry=r)
        self.regime = Gauge(
            "riskstream_regime_probability",
            "Probability of each market regime in the latest snapshot.",
            ["regime"],
            registry=r,
        )
        self.utilisation = Gauge(
            "riskstream_limit_utilisation",
            "Exposure over the hard limit, per scope (scope:key) and limit type (1 = at the "
            "hard limit).",
            ["scope", "limit_type"],
            registry=r,
        )
        self.limit_state = Gauge(
            "riskstream_limit_state",
            "State of each limit, with the limits monitor's hysteresis: 0 ok, 1 warning "
            "(soft threshold), 2 breach (hard threshold).",
            ["scope", "limit_type"],
            registry=r,
        )
        self.breaches = Counter(
            "riskstream_limit_breaches",
            "Limit alerts raised, by severity.",
            ["scope", "limit_type", "severity"],
            registry=r,
        )
        self.kill_switch = Gauge(
            "riskstream_kill_switch_state",
            "Trading state of each kill switch that has moved (scope firm:firm is global): "
            "0 active, 1 reducing, 2 halted.",
            ["scope"],
            registry=r,
        )
        self.errors = Counter(
            "riskstream_errors", "Errors by component.", ["component"], registry=r
        )
        self.http_requests = Counter(
            "riskstream_http_requests",
            "HTTP requests served.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "riskstream_http_request_seconds",
            "HTTP request latency.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ws_clients = Gauge(
            "riskstream_websocket_clients", "Open WebSocket streams.", registry=r
        )
        self.tick_to_book = EventLatency(
            "riskstream_tick_to_book_seconds",
            "Per event: wall-clock receipt (ts_recv) to its book and feature update in md.",
            r,
        )
        self.tick_to_risk = EventLatency(
            "riskstream_tick_to_risk_seconds",
            "Per event: wall-clock receipt (ts_recv) to the publication of the first risk "
            "snapshot that reflects it.",
            r,
        )
        self.feed_lag = EventLatency(
            "riskstream_feed_lag_seconds",
            "Per event: how late the feed published it against its wall-clock due time.",
            r,
        )
        self.stage_up = Gauge(
            "riskstream_stage_last_report_timestamp_seconds",
            "Wall-clock time of each stage's latest statistics report (Unix seconds).",
            ["stage"],
            registry=r,
        )
        self.latest_stats: dict[str, StageStats] = {}

    _HISTOGRAMS = ("tick_to_book", "tick_to_risk", "feed_lag")

    def observe_stage(self, stats: StageStats) -> None:
        """Take in one stage's statistics report: its latency histograms and report time."""
        self.latest_stats[stats.stage] = stats
        self.stage_up.labels(stats.stage).set(stats.ts_ns / 1e9)
        for key in self._HISTOGRAMS:
            counts = stats.histograms.get(key)
            if counts is not None:
                sum_s = stats.figures.get(f"{key}_sum_s", 0.0)
                getattr(self, key).update(counts, stats.started_ns, float(sum_s or 0.0))

    def pipeline_latency(self) -> dict[str, float | None]:
        """p50 and p99 of the two end-to-end figures so far, for the dashboard."""
        from riskstream.runtime.latency import percentile_s

        out: dict[str, float | None] = {}
        for key, unit, scale in (("tick_to_book", "us", 1e6), ("tick_to_risk", "ms", 1e3)):
            counts = getattr(self, key).counts
            for q in (50, 99):
                v = percentile_s(counts, q)
                out[f"{key}_p{q}_{unit}"] = None if v is None else round(v * scale, 3)
        return out

    def render(self) -> bytes:
        """The exposition-format text of every metric."""
        return generate_latest(self.registry)


METRIC_NAMES: frozenset[str] = frozenset(
    {
        "riskstream_events_ingested_total",
        "riskstream_ingest_rate_events_per_second",
        "riskstream_md_latency_seconds_bucket",
        "riskstream_md_latency_seconds_sum",
        "riskstream_md_latency_seconds_count",
        "riskstream_quarantined_events",
        "riskstream_risk_cycle_seconds_bucket",
        "riskstream_risk_cycle_seconds_sum",
        "riskstream_risk_cycle_seconds_count",
        "riskstream_risk_snapshots_total",
        "riskstream_last_snapshot_timestamp_seconds",
        "riskstream_risk_measure",
        "riskstream_pnl",
        "riskstream_regime_probability",
        "riskstream_limit_utilisation",
        "riskstream_limit_state",
        "riskstream_limit_breaches_total",
        "riskstream_kill_switch_state",
        "riskstream_errors_total",
        "riskstream_http_requests_total",
        "riskstream_http_request_seconds_bucket",
        "riskstream_http_request_seconds_sum",
        "riskstream_http_request_seconds_count",
        "riskstream_websocket_clients",
        *(
            f"riskstream_{name}_seconds_{part}"
            for name in ("tick_to_book", "tick_to_risk", "feed_lag")
            for part in ("bucket", "sum", "count")
        ),
        "riskstream_stage_last_report_timestamp_seconds",
    }
)
"""Sample names as they appear on ``/metrics`` (counters gain ``_total``)."""
