"""The live market-abuse stage: the feed's order audit trail in, alerts out.

:class:`SurveillanceNode` reads :class:`~riskstream.core.messages.OrderAudit` (the events of
each published batch and their member-level audit records, ``SUBJECTS["order_audit"]``),
runs :class:`~riskstream.surveillance.market_abuse.AbuseDetector` over them as they come,
and publishes what it raises as :class:`~riskstream.core.messages.AbuseAlerts` on
``SUBJECTS["abuse"]`` (read by the service: ``GET /surveillance/abuse/alerts`` and the
compliance page). A feed whose source names no accounts publishes no audit trail, and the
stage idles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from riskstream.bus.topics import Topics
from riskstream.core.audit import TYPOLOGY_NAMES
from riskstream.core.messages import SUBJECTS, AbuseAlerts
from riskstream.surveillance.config import AbuseConfig
from riskstream.surveillance.market_abuse import AbuseDetector


class SurveillanceNode:
    """Market-abuse detection on the audit trail (module docstring).

    Parameters
    ----------
    topics : Topics
    n_instruments : int
    config : AbuseConfig, optional
    """

    name = "surveillance"

    def __init__(self, topics: Topics, n_instruments: int, config: AbuseConfig | None = None):
        self.topics = topics
        self.n_instruments = n_instruments
        self.config = config
        self.detector: AbuseDetector | None = None  # built on the first audit batch
        self.seq = topics.last_seq(SUBJECTS["order_audit"])
        self.sub = topics.subscribe(SUBJECTS["order_audit"], start_after=self.seq)
        self.batches = 0
        self.alerts = 0
        self.by_typology: dict[str, int] = {}

    def step(self) -> bool:
        got = self.sub.fetch(64, 0.02)
        for seq, message in got:
            self.seq = seq
            events = message.events
            if self.detector is None:
                self.detector = AbuseDetector(self.n_instruments, self.config)
            alerts = self.detector.update(events, message.audit)
            self.batches += 1
            if len(alerts):
                self._publish(alerts, int(events["ts_event"][-1]))
        return bool(got)

    def _publish(self, alerts: np.ndarray, ts_ns: int) -> None:
        self.topics.publish(SUBJECTS["abuse"], AbuseAlerts(ts_ns=ts_ns, alerts=alerts))
        self.alerts += len(alerts)
        for code in alerts["typology"]:
            name = TYPOLOGY_NAMES.get(int(code), "none")
            self.by_typology[name] = self.by_typology.get(name, 0) + 1

    def idle(self) -> bool:
        return self.seq >= self.topics.last_seq(SUBJECTS["order_audit"])

    def summary(self) -> dict[str, Any]:
        return {
            "surveillance_events": self.detector.events if self.detector else 0,
            "surveillance_batches": self.batches,
            "surveillance_alerts": self.alerts,
            "surveillance_alerts_by_typology": dict(self.by_typology),
        }

    def histograms(self) -> dict[str, np.ndarray]:
        return {}

    def view(self) -> list[tuple[str, str]]:
        return [("abuse alerts", f"{self.alerts:,}")]

    def close(self) -> None:
        if self.detector is not None:
            tail = self.detector.flush()
            if len(tail):
                self._publish(tail, int(tail["ts_alert"].max()))
        self.sub.close()
