"""Benchmark of the pricers on the risk engine's workload.

Times (a) the revaluation of 2,000 European options on a grid of 21 spot x 11 volatility
shocks (the risk engine's full revaluation), by the numba kernel (serial and threaded) and by
numpy broadcasting;
(b) analytic Greeks of 10,000 options; (c) 100,000 implied volatilities; (d) 2,000 American
options on a 201-step Leisen-Reimer tree; (e) PDE Greeks of 100 American options.
Prints one JSON object as its last line. Run: ``PYTHONPATH=src python bench/pricing.py``.
"""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np

from riskstream.pricing import (
    american_greeks,
    american_price,
    bsm_greeks,
    bsm_implied_vol,
    bsm_price,
    bsm_price_grid,
    bsm_price_grid_parallel,
)


def book(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    S = rng.uniform(20, 500, n)
    return (
        S,
        S * rng.uniform(0.7, 1.3, n),
        rng.uniform(0.02, 2.0, n),
        rng.uniform(0.0, 0.08, n),
        rng.uniform(0.0, 0.05, n),
        rng.uniform(0.1, 0.8, n),
        rng.random(n) < 0.5,
    )


def timed_ms(fn, repeats: int) -> dict[str, float]:
    fn()  # warm up (numba compilation, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}


def main() -> None:
    S, K, T, r, q, sigma, is_call = book(2_000, seed=1)
    spot_factors = np.exp(np.linspace(-0.25, 0.25, 21))
    vol_factors = np.linspace(0.6, 1.8, 11)
    grid_numba = timed_ms(
        lambda: bsm_price_grid(S, K, T, r, q, sigma, is_call, spot_factors, vol_factors), 50
    )
    grid_parallel = timed_ms(
        lambda: bsm_price_grid_parallel(S, K, T, r, q, sigma, is_call, spot_factors, vol_factors),
        50,
    )
    col = (slice(None), None, None)
    grid_numpy = timed_ms(
        lambda: bsm_price(
            S[col] * spot_factors[None, :, None],
            K[col],
            T[col],
            r[col],
            q[col],
            sigma[col] * vol_factors[None, None, :],
            is_call[col],
        ),
        20,
    )
    big = book(10_000, seed=2)
    greeks = timed_ms(lambda: bsm_greeks(*big), 20)
    iv_book = book(100_000, seed=3)
    prices = bsm_price(*iv_book)
    implied = timed_ms(lambda: bsm_implied_vol(prices, *iv_book[:5], iv_book[6]), 5)
    tree = timed_ms(lambda: american_price(S, K, T, r, q, sigma, is_call), 5)
    small = tuple(x[:100] for x in (S, K, T, r, q, sigma, is_call))
    pde = timed_ms(lambda: american_greeks(*small), 3)
    result = {
        "benchmark": "pricing",
        "grid_options": 2_000,
        "grid_points": 21 * 11,
        "grid_numba_p50_ms": grid_numba["p50_ms"],
        "grid_numba_p99_ms": grid_numba["p99_ms"],
        "grid_numba_parallel_p50_ms": grid_parallel["p50_ms"],
        "grid_numba_parallel_p99_ms": grid_parallel["p99_ms"],
        "grid_numpy_p50_ms": grid_numpy["p50_ms"],
        "greeks_10k_p50_ms": greeks["p50_ms"],
        "implied_vol_100k_p50_ms": implied["p50_ms"],
        "american_lr201_2k_p50_ms": tree["p50_ms"],
        "american_pde_greeks_100_p50_ms": pde["p50_ms"],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
