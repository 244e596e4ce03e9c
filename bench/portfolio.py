"""Benchmark of portfolio construction and hedging at reference size.

Two figures, each the median of ``--repeats`` runs after one warm-up (imports, numba and
cvxpy's first compilation excluded):

* ``max_sharpe_500_s`` — a 500-asset max-Sharpe rebalance **with costs and constraints**, as
  ``riskstream optimise book`` solves it: the reference universe's first 500 equities, their
  compounded mean and sample covariance from ``--days`` days of the simulator's daily
  history (the same market model as its ticks), Almgren-Chriss costs from each stock's
  spread and ADV on a $500M book (:class:`riskstream.portfolio.costs.TradingCosts`),
  long-only, at most 2% per stock, at most 25% per GICS sector (11 group constraints), a
  one-way turnover of at most 50% from the current equal weights. Timed: building and
  solving the cvxpy problem (:func:`riskstream.portfolio.optimise.optimise`).
* ``hedge_10k_s`` — the 10,000-instrument reference book's hedge proposal, beta + delta +
  duration (:func:`riskstream.construction.propose_hedges`): option deltas of every held
  option, the equities' betas regressed on the index's history (the returns pivot of ~3,500
  series from the in-memory history frames included), the key-rate durations of every held
  bond per currency and the least-squares hedge, lot rounding and costs of every trade.
  Not timed: marking the book at the stored closes (``mark_s``, reported; the risk engine
  shares that step).

Target (issue 16): < 2 s and < 1 s on this machine. Each figure also comes as process CPU
time (``*_cpu_s``, all threads), which a machine shared with other work inflates less than
wall time. Prints one JSON object as the last line.

    PYTHONPATH=src python bench/portfolio.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np


def timed(fn, repeats: int) -> tuple[float, list[float], float, object]:
    """Median wall time, every run's wall time, median process CPU time (all threads), and
    the last result."""
    fn()  # warm-up
    times, cpu, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), times, statistics.median(cpu), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from riskstream.cli.engine import simulated_history
    from riskstream.construction import mark_book, propose_hedges, trading_costs
    from riskstream.feeds.config import UniverseConfig
    from riskstream.feeds.universe import generate_universe
    from riskstream.portfolio.config import PortfolioConfig
    from riskstream.portfolio.estimation import covariance, expected_returns
    from riskstream.portfolio.optimise import Constraints, GroupBound, optimise

    cfg = PortfolioConfig()
    t0 = time.perf_counter()
    universe = generate_universe(UniverseConfig(instruments=args.instruments))
    history = simulated_history(universe, args.days, args.seed)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    book = mark_book(universe, history, universe.as_of, 0.0)
    mark_s = time.perf_counter() - t0

    # ---- 500-asset max-Sharpe with costs and constraints
    inst = universe.instruments
    eq = np.flatnonzero(inst["asset_class"].to_numpy() == "equity")[: args.assets]
    symbols = inst["symbol"].to_numpy()[eq].tolist()
    from riskstream.construction import price_returns

    names, r, _ = price_returns(history, symbols, universe.as_of, args.days)
    idx = eq[[symbols.index(s) for s in names]]
    n = len(names)
    mu = expected_returns(r, "compounded")
    cov = covariance(r, "sample")
    costs = trading_costs(book, idx, 500e6, cfg)
    sectors = inst["sector"].to_numpy()[idx]
    groups = tuple(
        GroupBound(str(s), np.flatnonzero(sectors == s), upper=0.25) for s in np.unique(sectors)
    )
    w0 = np.full(n, 1.0 / n)
    spec = Constraints(max_weight=0.02, groups=groups, max_turnover=1.0)

    def solve():
        return optimise(mu, cov, "max_sharpe", spec, 0.0, w0, costs)

    sharpe_s, sharpe_all, sharpe_cpu, alloc = timed(solve, args.repeats)

    # ---- 10k book: beta + delta + duration hedge proposal
    def hedge():
        return propose_hedges(book, history, cfg, ("delta", "beta", "duration"), "SPX", 0.0)

    hedge_s, hedge_all, hedge_cpu, proposal = timed(hedge, args.repeats)
    n_trades = {k: len(v) for k, v in proposal.trades.items()}
    print(
        json.dumps(
            {
                "benchmark": "portfolio",
                "max_sharpe_500_s": round(sharpe_s, 4),
                "max_sharpe_500_runs_s": [round(x, 4) for x in sharpe_all],
                "max_sharpe_500_cpu_s": round(sharpe_cpu, 4),
                "max_sharpe_assets": n,
                "max_sharpe_groups": len(groups),
                "max_sharpe_turnover": round(float(np.abs(alloc.trades).sum()), 4),
                "max_sharpe_cost": round(alloc.cost, 6),
                "hedge_10k_s": round(hedge_s, 4),
                "hedge_10k_runs_s": [round(x, 4) for x in hedge_all],
                "hedge_10k_cpu_s": round(hedge_cpu, 4),
                "hedge_trades": n_trades,
                "hedge_options": proposal.figures["delta"]["options"],
                "instruments": args.instruments,
                "positions": universe.positions.height,
                "history_days": args.days,
                "setup_s": round(setup_s, 2),
                "mark_s": round(mark_s, 3),
                "targets": {"max_sharpe_500_s": 2.0, "hedge_10k_s": 1.0},
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "note": "shared machine",
                },
            }
        )
    )


if __name__ == "__main__":
    main()
