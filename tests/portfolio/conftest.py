"""Shared data of the portfolio tests: He & Litterman's seven countries and S&P 500 returns."""

from __future__ import annotations

import numpy as np
import pytest

COUNTRIES = ["AU", "CA", "FR", "DE", "JP", "UK", "US"]
# He & Litterman (1999), "The intuition behind Black-Litterman model portfolios", Goldman
# Sachs Investment Management Research, Table 1 (correlations of the equity index returns)
HL_CORRELATION = np.array(
    [
        [1.000, 0.488, 0.478, 0.515, 0.439, 0.512, 0.491],
        [0.488, 1.000, 0.664, 0.655, 0.310, 0.608, 0.779],
        [0.478, 0.664, 1.000, 0.861, 0.355, 0.783, 0.668],
        [0.515, 0.655, 0.861, 1.000, 0.354, 0.777, 0.653],
        [0.439, 0.310, 0.355, 0.354, 1.000, 0.405, 0.306],
        [0.512, 0.608, 0.783, 0.777, 0.405, 1.000, 0.652],
        [0.491, 0.779, 0.668, 0.653, 0.306, 0.652, 1.000],
    ]
)
# Table 2: volatilities and market-capitalisation weights
HL_VOL = np.array([0.160, 0.203, 0.248, 0.271, 0.210, 0.200, 0.187])
HL_WEIGHTS = np.array([0.016, 0.022, 0.052, 0.055, 0.116, 0.124, 0.615])
HL_COV = HL_CORRELATION * np.outer(HL_VOL, HL_VOL)
# View 1: Germany outperforms the rest of Europe (France and the UK, split by market
# capitalisation) by 5%; view 2: Canada outperforms the US by 3%.
_FR, _UK = (
    HL_WEIGHTS[2] / (HL_WEIGHTS[2] + HL_WEIGHTS[5]),
    HL_WEIGHTS[5] / (HL_WEIGHTS[2] + HL_WEIGHTS[5]),
)
HL_PICKS = np.array([[0, 0, -_FR, 1, 0, -_UK, 0], [0, 1, 0, 0, 0, 0, -1.0]])
HL_VIEWS = np.array([0.05, 0.03])


@pytest.fixture(scope="session")
def sp500_returns() -> np.ndarray:
    """Daily simple returns of skfolio's packaged S&P 500 constituents (20 stocks,
    1990-2022), the last 1,000 days: real data, no download."""
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset().to_numpy()[-1001:]
    return prices[1:] / prices[:-1] - 1.0
