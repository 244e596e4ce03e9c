"""What every request handler shares: config, reference DB, keys, feed, limits, metrics."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from riskstream.core.clock import Clock
from riskstream.service.auth import KeyStore
from riskstream.service.cache import RiskCache
from riskstream.service.config import ServiceConfig
from riskstream.service.feed import SnapshotFeed
from riskstream.service.limits import LimitProvider
from riskstream.service.metrics import ServiceMetrics
from riskstream.service.portfolio import PortfolioView
from riskstream.store.refdb import RefDB


@dataclass
class ServiceContext:
    config: ServiceConfig
    db: RefDB
    keys: KeyStore
    cache: RiskCache
    feed: SnapshotFeed
    limits: LimitProvider
    metrics: ServiceMetrics
    clock: Clock
    follow_cache: bool = False
    position_listeners: list[Callable[[PortfolioView], None]] = field(default_factory=list)
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def portfolio(self) -> PortfolioView:
        return self.feed.portfolio

    def reload_portfolio(self) -> PortfolioView:
        """Re-read positions from the reference DB and tell the listeners (e.g. the
        pipeline's risk engine, wired by the demo)."""
        view = PortfolioView(self.db.load_universe())
        self.feed.set_portfolio(view)
        for listener in self.position_listeners:
            listener(view)
        return view
