"""Benchmark: the FRTB internal-models capital of a generated book (``riskstream frtb ima``'s
computation, :func:`riskstream.cli.frtb_ima.ima_on_book`).

The generated universe (``--instruments``, default 1,000; equities, futures, options, FX,
bonds over its desks) with the simulator's daily history (``--days`` business days, default
1,000), every stored close a real observation. Timed: one whole run — marks, the factor
history over the whole stored history, the eligibility test of every factor, each desk's
250-day backtest and PLA (the engine revalues 500 daily moves; the hypothetical P&L from 251
days of marks), the stressed-window search over every 10-day window, the cascade ES of the
whole set and each risk class over 60 days, SES. Prints one JSON object as its last line.

    python bench/frtb_ima.py [--instruments N] [--days D]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time


def main() -> None:
    import polars as pl

    from riskstream.cli.engine import simulated_history
    from riskstream.cli.frtb_ima import ima_on_book
    from riskstream.feeds.config import UniverseConfig
    from riskstream.feeds.universe import generate_universe
    from riskstream.risk.config import RiskConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--instruments", type=int, default=1000)
    parser.add_argument("--days", type=int, default=1000)
    args = parser.parse_args()
    universe = generate_universe(UniverseConfig(instruments=args.instruments, seed=11))
    history = simulated_history(universe, args.days, seed=11)
    observed = {
        "prices": history.prices.select(pl.col("symbol").alias("series"), "date").unique(),
        "curves": history.curves.select(pl.col("currency").alias("series"), "date").unique(),
        "vols": history.vols.select(pl.col("underlying").alias("series"), "date").unique(),
    }
    day = history.prices["date"].max()
    start = time.perf_counter()
    out = ima_on_book(universe, history, observed, day, RiskConfig())
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "benchmark": "frtb_ima",
                "instruments": args.instruments,
                "history_days": args.days,
                "factors": out["factors"],
                "desks": len(out["desks"]),
                "capital": out["capital"],
                "stress_window": out["stress_window"],
                "seconds": round(seconds, 2),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            }
        )
    )


if __name__ == "__main__":
    main()
