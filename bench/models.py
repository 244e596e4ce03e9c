"""Benchmark of the scenario models at risk-engine size: fit and generate times.

Factor space: ``--factors`` risk factors (default 100) × ``--obs`` daily returns (default
2,500, ten years), simulated as correlated GARCH(1,1)-t series. Times: GARCH panel fit,
copula fits, FHS/MC/HS generation of ``--scenarios`` (default 10,000) scenarios at 1 and
10 days, DCC on the first 10 factors, EWMA on all. Each figure is the median of
``--repeat`` runs after one warm-up (numba compilation excluded). Prints one JSON object as
the last line.

    PYTHONPATH=src nice python bench/models.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np

from riskstream.models import (
    DCCGarch,
    EWMACovariance,
    FilteredHistoricalSimulation,
    GarchPanel,
    GaussianCopula,
    HistoricalSimulation,
    MonteCarloSimulation,
    StudentTCopula,
    pseudo_observations,
)


def simulate_factors(n_obs: int, n_factors: int, seed: int) -> np.ndarray:
    """Correlated GARCH(1,1)-t(6) daily log returns (decimal), one-factor correlation 0.4."""
    rng = np.random.default_rng(seed)
    corr = 0.4 * np.ones((n_factors, n_factors)) + 0.6 * np.eye(n_factors)
    chol = np.linalg.cholesky(corr)
    nu = 6.0
    w = np.sqrt(rng.chisquare(nu, (n_obs, 1)) / (nu - 2.0))
    z = rng.standard_normal((n_obs, n_factors)) @ chol.T / w
    omega, alpha, beta = 0.02, 0.08, 0.90
    s2 = np.full(n_factors, omega / (1 - alpha - beta))
    y = np.empty_like(z)
    for t in range(n_obs):
        y[t] = np.sqrt(s2) * z[t]
        s2 = omega + alpha * y[t] ** 2 + beta * s2
    return y / 100.0


def timed(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: numba compilation, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(1000.0 * statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factors", type=int, default=100)
    parser.add_argument("--obs", type=int, default=2500)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    x = simulate_factors(args.obs, args.factors, seed=1)
    n, r = args.scenarios, args.repeat
    u = pseudo_observations(GarchPanel().fit(x).standardized_residuals_)
    hs = HistoricalSimulation(paths="bootstrap").fit(x)
    fhs = FilteredHistoricalSimulation().fit(x)
    mc = MonteCarloSimulation().fit(x)
    result = {
        "benchmark": "models",
        "factors": args.factors,
        "obs": args.obs,
        "scenarios": n,
        "garch_panel_fit_ms": timed(lambda: GarchPanel().fit(x), 1),
        "t_copula_fit_kendall_ms": timed(lambda: StudentTCopula().fit(u), 1),
        "gaussian_copula_fit_ms": timed(lambda: GaussianCopula().fit(u), r),
        "hs_bootstrap_generate_1d_ms": timed(lambda: hs.generate(n, 1, seed=1), r),
        "fhs_generate_1d_ms": timed(lambda: fhs.generate(n, 1, seed=1), r),
        "fhs_generate_10d_ms": timed(lambda: fhs.generate(n, 10, seed=1), r),
        "mc_generate_1d_ms": timed(lambda: mc.generate(n, 1, seed=1), r),
        "mc_generate_10d_ms": timed(lambda: mc.generate(n, 10, seed=1), r),
        "dcc_fit_10_factors_ms": timed(lambda: DCCGarch().fit(x[:, :10]), 1),
        "ewma_fit_ms": timed(lambda: EWMACovariance().fit(x), r),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
