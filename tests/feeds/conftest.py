"""Fixtures of the simulator tests: a small hand-built universe of every asset class."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.instruments import Universe
from riskstream.feeds.simulator import MarketSimulator
from tests.feeds.universes import small_universe


@pytest.fixture(scope="session")
def universe() -> Universe:
    return small_universe()


def collect(sim: MarketSimulator, seconds: float) -> np.ndarray:
    """Every event of the next ``seconds`` of simulated time, in one array."""
    return np.concatenate([events for events, _ in sim.batches(seconds)])
