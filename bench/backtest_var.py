"""Benchmark: rolling out-of-sample VaR/ES validation on the S&P 500 (arch.data).

Walks each model forward over 1999-2018 (window 500 days, 99%, GARCH models re-estimated
every 20 days and filtered daily in between), then runs every backtest. Prints one JSON
object as its last line: seconds per model for the walk-forward and for the validation
(Kupiec, Christoffersen, duration, traffic light, Acerbi-Székely with 2,000 null
simulations, losses, drift), the total for the four default models, and each model's
exception count and traffic-light zone.
"""

from __future__ import annotations

import json
import os
import platform
import time

from riskstream.backtest.data import load_returns
from riskstream.backtest.rolling import MODELS, walk_forward
from riskstream.backtest.validation import validate_run

DEFAULT_MODELS = ("hs", "fhs", "garch-t", "ewma")


def main() -> None:
    series = load_returns("sp500")
    walk_forward(series.returns[:700], series.dates[:700], "garch-t", window=500)  # JIT warm-up
    figures: dict[str, dict[str, float | int | str]] = {}
    for model in MODELS:
        start = time.perf_counter()
        run = walk_forward(series.returns, series.dates, model, confidence=0.99, window=500)
        walk = time.perf_counter() - start
        start = time.perf_counter()
        validation = validate_run(run, n_simulations=2000)
        check = time.perf_counter() - start
        figures[model] = {
            "walk_forward_s": round(walk, 3),
            "validation_s": round(check, 3),
            "forecasts": validation.backtest.observations,
            "exceptions": validation.backtest.exceptions,
            "zone": validation.backtest.traffic_light.zone,
        }
    total = sum(
        float(figures[m]["walk_forward_s"]) + float(figures[m]["validation_s"])
        for m in DEFAULT_MODELS
    )
    print(
        json.dumps(
            {
                "benchmark": "backtest_var",
                "data": "sp500",
                "window_days": 500,
                "confidence": 0.99,
                "refit_every_days": 20,
                "models": figures,
                "four_models_total_s": round(total, 3),
                "four_models": list(DEFAULT_MODELS),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            }
        )
    )


if __name__ == "__main__":
    main()
