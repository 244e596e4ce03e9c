"""Fixtures of the service tests: a small multi-asset universe in a SQLite reference DB, a
real risk engine on it (the risk package's test helpers), an app with one key per role,
and a moving market that yields a fresh snapshot on each call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from riskstream.core.clock import ManualClock
from riskstream.core.instruments import Universe
from riskstream.risk.engine import RiskEngine
from riskstream.risk.snapshot import RiskSnapshot
from riskstream.service import KeyStore, Role, ServiceConfig, create_app
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
def keys(app) -> dict[str, str]:
    store: KeyStore = app.state.ctx.keys
    return {r.label: store.create(f"test-{r.label}", r) for r in Role}


@pytest.fixture()
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def auth(keys: dict[str, str], role: str) -> dict[str, str]:
    return {"X-API-Key": keys[role]}
