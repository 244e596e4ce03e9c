"""POST /api/v1/portfolio/optimise and /hedge with arrays: the CLI contracts' answers, roles."""

from __future__ import annotations

import numpy as np
import pytest

from tests.portfolio.conftest import COUNTRIES, HL_COV, HL_PICKS, HL_VIEWS, HL_WEIGHTS
from tests.portfolio.test_hedging import HULL_DF, HULL_DS
from tests.service.conftest import auth


def test_black_litterman_route_reproduces_he_litterman(client, keys):
    body = {
        "covariance": {"assets": COUNTRIES, "matrix": HL_COV.tolist()},
        "black_litterman": {
            "market_weights": dict(zip(COUNTRIES, HL_WEIGHTS.tolist(), strict=True)),
            "views": [
                {
                    "picks": {a: float(x) for a, x in zip(COUNTRIES, row, strict=True) if x},
                    "q": float(q),
                }
                for row, q in zip(HL_PICKS, HL_VIEWS, strict=True)
            ],
        },
    }
    r = client.post("/api/v1/portfolio/optimise", json=body, headers=auth(keys, "analyst"))
    assert r.status_code == 200, r.text
    # He & Litterman (1999), Table 5
    w = [round(v * 100, 1) for v in r.json()["weights"].values()]
    assert w == [1.5, 41.9, -3.4, 33.6, 11.0, -8.2, 18.8]


def test_optimise_prices_and_erc_routes(client, keys):
    rng = np.random.default_rng(3)
    px = 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.01, size=(300, 4)), axis=0))
    prices = {f"A{j}": px[:, j].tolist() for j in range(4)}
    r = client.post(
        "/api/v1/portfolio/optimise",
        json={"prices": prices, "objective": "min-volatility", "frontier": 5},
        headers=auth(keys, "analyst"),
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert sum(out["weights"].values()) == pytest.approx(1.0)
    assert len(out["frontier"]["volatilities"]) == 5
    cov = {"assets": ["x", "y"], "matrix": [[0.04, 0.0], [0.0, 0.01]]}
    r = client.post("/api/v1/portfolio/optimise", json={"covariance": cov, "objective": "erc"},
                    headers=auth(keys, "analyst"))  # fmt: skip
    # ERC of two uncorrelated assets: inverse volatility, 1/3 and 2/3 (MRT 2010)
    assert r.json()["weights"] == pytest.approx({"x": 1 / 3, "y": 2 / 3}, abs=1e-6)


def test_hedge_ratio_route_reproduces_hull(client, keys):
    body = {"ratio": {"spot_change": HULL_DS, "futures_change": HULL_DF,
                      "exposure": 2_000_000, "contract_size": 42_000}}  # fmt: skip
    r = client.post("/api/v1/portfolio/hedge", json=body, headers=auth(keys, "analyst"))
    assert r.status_code == 200, r.text
    assert r.json()["contracts"] == 37  # Hull (9th ed.), Example 3.3


def test_roles_and_bad_bodies(client, keys):
    body = {"covariance": {"assets": ["x"], "matrix": [[0.04]]}, "objective": "erc"}
    assert client.post("/api/v1/portfolio/optimise", json=body).status_code == 401
    r = client.post("/api/v1/portfolio/optimise", json=body, headers=auth(keys, "viewer"))
    assert r.status_code == 403
    r = client.post(
        "/api/v1/portfolio/optimise",
        json={"covariance": {"assets": ["x", "y"], "matrix": [[1.0]]}, "objective": "erc"},
        headers=auth(keys, "analyst"),
    )
    assert r.status_code == 422 and "covariance.matrix" in r.text
    r = client.post("/api/v1/portfolio/hedge", json={}, headers=auth(keys, "analyst"))
    assert r.status_code == 422 and "exactly one of ratio, book" in r.text
    # the book needs a history store; this app has none
    r = client.post("/api/v1/portfolio/hedge", json={"book": {}}, headers=auth(keys, "analyst"))
    assert r.status_code == 503
