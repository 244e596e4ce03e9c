"""Fixtures of the regime tests: simulated regime data, BLAS on one thread."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from riskstream.regime import simulate_regime_returns


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread() -> Iterator[None]:
    # the models' matrices are tiny: threads only add contention on a shared machine
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def regime_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train returns, train regimes, test returns, test regimes) from the Markov-switching
    factor model (the market simulator's volatility multipliers), different seeds."""
    x, s = simulate_regime_returns(4000, n_assets=6, seed=1)
    xt, st = simulate_regime_returns(2000, n_assets=6, seed=2)
    return x, s, xt, st
