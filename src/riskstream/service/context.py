"""What every request handler shares: config, reference DB, keys, feed, limits, metrics and
the client of the position keeper."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from riskstream.core.clock import Clock
from riskstream.positions import PositionRequester
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
    """The service's shared state.

    ``positions`` sends position changes to the keeper (the one writer of positions) and
    waits for its answer; the portfolio view follows the keeper's published versions
    (:meth:`SnapshotFeed.follow_positions`), never the database directly.
    """

    config: ServiceConfig
    db: RefDB
    keys: KeyStore
    cache: RiskCache
    feed: SnapshotFeed
    limits: LimitProvider
    metrics: ServiceMetrics
    clock: Clock
    positions: PositionRequester
    follow_cache: bool = False
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def portfolio(self) -> PortfolioView:
        return self.feed.portfolio
