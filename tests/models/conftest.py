"""Shared data: the S&P 500 daily series shipped with ``arch`` (arch.data.sp500, 1999-2018)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def sp500_prices() -> np.ndarray:
    """Adjusted closes of the S&P 500, 1999-01-04 .. 2018-12-31 (5,031 days)."""
    import arch.data.sp500

    return arch.data.sp500.load()["Adj Close"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="session")
def sp500_simple(sp500_prices: np.ndarray) -> np.ndarray:
    """Daily simple returns (decimal) — what the arch documentation models (×100)."""
    return sp500_prices[1:] / sp500_prices[:-1] - 1.0


@pytest.fixture(scope="session")
def sp500_log(sp500_prices: np.ndarray) -> np.ndarray:
    """Daily log returns (decimal), 5,030 observations."""
    return np.diff(np.log(sp500_prices))
