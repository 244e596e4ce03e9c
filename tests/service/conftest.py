"""Fixtures of the service tests: a small multi-asset universe in a SQLite reference DB, a
real risk engine on it (the risk package's test helpers), an app with one key per role,
a moving market that yields a fresh snapshot on each call, and the pipeline's risk → limits
→ service stages on that market (the limits package's real stage, publishing to the app)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from riskstream.core.clock import ManualClock
from riskstream.core.events import empty_events
from riskstream.core.instruments import Universe
from riskstream.limits.config import LimitsConfig
from riskstream.limits.stage import LimitsStage, build_limits_stage
from riskstream.risk.engine import RiskEngine
from riskstream.risk.snapshot import RiskSnapshot
from riskstream.risk.stage import RiskStage
from riskstream.service import KeyStore, Role, ServiceConfig, ServiceStage, create_app
from riskstream.store.limits_repo import LimitRepository
from riskstream.store.refdb import RefDB
from tests.risk.helpers import AS_OF_NS, make_engine, make_universe


class MovingMarket:
    """A seeded random walk of every price, refreshed through the real risk engine."""

    def __init__(self, engine: RiskEngine, seed: int = 5, vol: float = 0.004):
        self.engine = engine
        self.rng = np.random.default_rng(seed)
        self.vol = vol
        self.clock: ManualClock = engine.clock

    def step(self, dt_ms: int = 250) -> RiskSnapshot:
        market = self.engine.market
        move = np.exp(self.vol * self.rng.standard_normal(market.n_instruments))
        market.mid[:] *= move
        market.last[:] = market.mid
        market.seq[:] += 1
        market.updated[:] = True
        self.clock.advance(dt_ms * 1_000_000)
        return self.engine.refresh(self.clock.now_ns())


class LimitsPipeline:
    """The demo's risk → limits → service stages on the moving market, stepped by hand.

    The limits stage sizes the reference limits on its first snapshot, overlays the limits
    stored in the app's reference DB and persists kill switches there. Breaches halt their
    scope rather than reduce (``auto_reduce=False``), so the session's engine keeps its
    positions.
    """

    def __init__(self, app, market: MovingMarket, db: RefDB):
        self.market = market
        self.risk = RiskStage(market.engine)
        repo = LimitRepository(db)
        self.limits: LimitsStage = build_limits_stage(
            self.risk,
            None,
            config=LimitsConfig(auto_reduce=False),
            switch_store=repo,
            limit_store=repo,
        )
        feed = app.state.ctx.feed
        self.service = ServiceStage(feed, self.risk, min_interval_s=0.0, limits_stage=self.limits)

    def step(self, dt_ms: int = 250) -> RiskSnapshot:
        """A new snapshot, checked by the limits stage and pushed to the service."""
        self.risk.last = self.market.step(dt_ms)
        self.risk.refresh_ms.append(1.0)
        now = self.market.clock.now_ns()
        for stage in (self.limits, self.service):
            stage.on_batch(empty_events(0), now)
        return self.risk.last


@pytest.fixture(scope="session")
def universe() -> Universe:
    return make_universe()


@pytest.fixture(scope="session")
def market(universe: Universe) -> MovingMarket:
    return MovingMarket(make_engine(universe, n_scenarios=1000, clock=ManualClock(AS_OF_NS)))


@pytest.fixture()
def db(tmp_path: Path, universe: Universe) -> Iterator[RefDB]:
    refdb = RefDB(f"sqlite:///{tmp_path / 'refdata.db'}")
    refdb.migrate()
    refdb.save_universe(universe)
    yield refdb
    refdb.close()


@pytest.fixture()
def config() -> ServiceConfig:
    return ServiceConfig(stale_after_s=5.0, snapshot_ttl_s=60.0, push_interval_ms=100)


@pytest.fixture()
def app(db: RefDB, config: ServiceConfig):
    return create_app(config, db)


@pytest.fixture()
def pipeline(app, market: MovingMarket, db: RefDB) -> LimitsPipeline:
    return LimitsPipeline(app, market, db)


@pytest.fixture()
def keys(app) -> dict[str, str]:
    store: KeyStore = app.state.ctx.keys
    return {r.label: store.create(f"test-{r.label}", r) for r in Role}


@pytest.fixture()
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def auth(keys: dict[str, str], role: str) -> dict[str, str]:
    return {"X-API-Key": keys[role]}
