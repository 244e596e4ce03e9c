"""Benchmark: stress testing of the 10,000-instrument reference book.

1. **50 scenarios, full revaluation** — the 11 packaged scenarios (7 historical episodes,
   3 climate pathways, the Fed's 2025 severely adverse) plus the first 39 rungs of the
   sensitivity ladders (spot, vol, rates, twist, credit), resolved onto the book's factors
   and revalued in full (every option by its model, every bond off its shocked curve),
   summarised by asset
   class, desk, factor and top positions: :func:`riskstream.stress.run.run_scenarios`, the
   path of ``riskstream stress run``. Target < 2 s.
2. **Reverse stress with options** — the most likely move (minimum Mahalanobis distance)
   losing $25M, full revaluation, covariance of the book's held factors from 250 daily
   moves of the simulator's history (whitened by SVD), 20 principal components searched
   by SLSQP: :func:`riskstream.stress.reverse.reverse_stress`, the path of ``riskstream
   stress reverse --loss``. Target < 5 s.

The book is marked at the generated universe's reference prices (implied vols solved from
them, as ``riskstream risk`` does without a stored surface). Each figure is the median of
5 runs after one warm-up (numba compilation excluded). Prints one JSON object as its last
line.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time

import numpy as np

from riskstream.cli.engine import implied_vols, option_rates, simulated_history
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.risk.factor_history import build_factor_history
from riskstream.risk.factors import build_factor_space
from riskstream.stress.book import build_book
from riskstream.stress.historical import StressContext
from riskstream.stress.library import builtin_scenarios
from riskstream.stress.reverse import reverse_stress
from riskstream.stress.run import run_scenarios
from riskstream.stress.sensitivity import LADDERS, ladder_matrix

REPEATS = 5
LOSS = 25e6


class MatrixScenario:
    """A ladder rung as a scenario object (moves given directly)."""

    kind = "sensitivity"
    version = "ladder"
    description = "sensitivity ladder rung"

    def __init__(self, name: str, moves: np.ndarray, points: np.ndarray) -> None:
        self.name, self._moves, self._points = name, moves, points

    def resolve(self, book, context=None):
        return self._moves, self._points, []


def timed(fn, repeats: int = REPEATS) -> tuple[float, list[float], object]:
    fn()  # warm-up: numba compilation, caches
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, out


def main() -> None:
    universe = generate_universe(UniverseConfig(instruments=10_000))
    day = universe.as_of
    rates = option_rates(universe, day)
    iv = implied_vols(universe, day, rates, 0.0)
    book = build_book(universe, universe.instruments["ref_price"].to_numpy(), iv, rates, day)
    context = StressContext(universe.instruments)
    packaged = list(builtin_scenarios().values())
    ladders = {k: LADDERS[k] for k in ("spot", "vol", "rates", "twist", "credit")}
    matrix, _ = ladder_matrix(book, ladders)
    rungs = [
        MatrixScenario(matrix.names[i], matrix.moves[i], matrix.vol_points[i])
        for i in range(50 - len(packaged))
    ]
    scenarios = packaged + rungs
    assert len(scenarios) == 50
    run_s, run_times, run = timed(lambda: run_scenarios(book, scenarios, context))

    history = simulated_history(universe, 300, seed=11)
    space = build_factor_space(universe.instruments, universe.base_currency)
    fh = build_factor_history(
        space, universe.instruments, universe.base_currency, history, 250, 1, day
    )
    moves = np.where(space.kind == 0, np.expm1(fh.moves), fh.moves)
    held = sorted(
        {
            int(c)
            for c in np.concatenate(
                [
                    book.spot_col,
                    book.vol_col,
                    book.ccy_col,
                    book.fx_base_col,
                    book.fx_quote_col,
                    book.rate_table.ravel(),
                ]
            )
            if c >= 0 and book.kind[c] != 3
        }
    )
    factors = [space.keys[c] for c in held]
    rev_s, rev_times, rev = timed(
        lambda: reverse_stress(book, factors, LOSS, moves=moves[:, held]), repeats=3
    )
    worst = min(run.results, key=lambda r: r.pnl)
    print(
        json.dumps(
            {
                "benchmark": "stress",
                "instruments": len(universe),
                "positions": book.n_positions,
                "options": int((book.asset_class == "option").sum()),
                "bonds": int((book.asset_class == "bond").sum()),
                "factors": book.n_factors,
                "scenarios": len(scenarios),
                "run_50_scenarios_s": round(run_s, 4),
                "run_50_scenarios_runs_s": [round(t, 4) for t in run_times],
                "target_run_s": 2.0,
                "worst_scenario": worst.name,
                "worst_pnl": round(worst.pnl),
                "reverse_with_options_s": round(rev_s, 4),
                "reverse_runs_s": [round(t, 4) for t in rev_times],
                "target_reverse_s": 5.0,
                "reverse_factors": len(factors),
                "reverse_mahalanobis": round(rev.mahalanobis, 4),
                "reverse_pnl": round(rev.pnl),
                "reverse_converged": rev.details["converged"],
                "reverse_revaluations": rev.details["revaluations"],
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_1m": round(os.getloadavg()[0], 2),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
