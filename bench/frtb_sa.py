"""Benchmark of the FRTB standardised approach on the reference book: SA capital, sensitivities
included.

The reference universe (``--instruments``, default 10,000: equities, futures, 3,000 options,
70 % of them American, FX spot and forwards, sovereign and corporate bonds) at its reference
prices; the options' implied vols are solved from those prices once, before the clock runs
(marking the book is the risk engine's job; its time is reported apart as ``mark_s``).

One *run* is what ``riskstream frtb sa`` computes from a marked book:

* sensitivities per instrument by the MAR21.19-21.25 definitions, options by full
  revaluation (base, delta, repo, rate, two vega bumps, two equity and two GIRR curvature
  shocks: ten revaluations of every option with Barone-Adesi-Whaley or Black-Scholes /
  Black-76), bonds' cash flows onto the
  GIRR and CSR tenors, then times each desk's positions (:func:`book_crif`);
* the SBM for every risk class and measure under the three correlation scenarios (MAR21.4-21.7),
  DRC (MAR22) and RRAO (MAR23) of the bank: ``sa_s``;
* the same for each desk on its own as well (the report by desk): ``report_s``.

Each figure is the median (and max) over ``--repeats`` runs after one warm-up. Prints one
JSON object as the last line.

    PYTHONPATH=src python bench/frtb_sa.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from riskstream.cli.engine import implied_vols, option_rates
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.regulatory.sa.drc import book_exposures, drc_capital
from riskstream.regulatory.sa.report import sa_report
from riskstream.regulatory.sa.rrao import book_rrao
from riskstream.regulatory.sa.sbm import sbm_capital
from riskstream.regulatory.sa.sensitivities import book_crif, unit_sensitivities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    universe = generate_universe(UniverseConfig(instruments=args.instruments, seed=args.seed))
    day = universe.as_of
    started = time.perf_counter()
    rates = option_rates(universe, day)
    iv = implied_vols(universe, day, rates, 0.0)
    mark_s = time.perf_counter() - started
    price = universe.instruments["ref_price"].to_numpy().astype(np.float64)
    fx_map = universe.fx_to_base
    fx = np.array([fx_map[c] for c in universe.instruments["currency"]])
    mult = universe.instruments["multiplier"].to_numpy()

    def sa() -> tuple[float, int]:
        unit = unit_sensitivities(universe, universe.base_currency, fx_map, price, iv, rates, day)
        crif = book_crif(universe, unit)
        sbm = sbm_capital(crif, universe.base_currency).capital
        drc = drc_capital(book_exposures(universe, price, fx, day, iv, rates).drop("desk")).total
        rrao = book_rrao(universe, np.abs(price * mult * fx), {})["total"]
        return sbm + drc + rrao, crif.height

    def report() -> float:
        unit = unit_sensitivities(universe, universe.base_currency, fx_map, price, iv, rates, day)
        rep = sa_report(
            book_crif(universe, unit),
            book_exposures(universe, price, fx, day, iv, rates),
            book_rrao(universe, np.abs(price * mult * fx), {}),
            universe.base_currency,
        )
        return rep["total"]["capital"]

    sa()  # warm-up
    times, report_times = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        capital, rows = sa()
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        report()
        report_times.append(time.perf_counter() - t0)
    result = {
        "benchmark": "frtb-sa",
        "instruments": len(universe),
        "positions": universe.positions.height,
        "sensitivity_rows": rows,
        "capital": capital,
        "mark_s": round(mark_s, 3),
        "sa_s": round(float(np.median(times)), 3),
        "sa_max_s": round(float(np.max(times)), 3),
        "report_s": round(float(np.median(report_times)), 3),
        "report_max_s": round(float(np.max(report_times)), 3),
        "target_s": 5.0,
        "repeats": args.repeats,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
