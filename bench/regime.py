"""Benchmark: regime detection on the market simulator's true regimes.

Fits the regime ensemble on bars sampled from simulator runs with training seeds (labels:
the simulator's true regimes), then streams held-out seeds — never used for fitting —
through :class:`riskstream.regime.RegimeStage` batch by batch, exactly as the pipeline does,
and scores:

* out-of-sample accuracy of every base detector and of the ensemble (share of updates whose
  regime equals the true regime at that moment);
* detection lag: for each true regime change (from ``regime_log``), the event time until
  the ensemble's reported regime first equals the new regime (a change that is superseded
  before it is detected counts as missed);
* the wall time of one ensemble update (p50/p99, ms).

The simulator's regime chain (calm ~50 min, volatile ~12 min, crisis ~8 min) runs
``--regime-speed`` times faster (default 10: dwell times of minutes), so an hour of
simulated time holds dozens of changes; the volatility of each regime is unchanged.
``--prices observed`` trains and streams on md's observed mids (quotes through the
market-data stage, as the demo's regime stage sees them) instead of the simulator's latent
fair mids. ``--source synthetic`` streams the Markov-switching factor model of
:mod:`riskstream.regime.simulate` instead (no market simulator needed).
The last line is one JSON object; ``accuracy`` and ``lag_s`` (median) are the ensemble's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from riskstream.cli.regime import simulator_bars, sped_up_chain, tracked_instruments
from riskstream.regime import RegimeConfig, RegimeEnsemble, RegimeStage, simulate_regime_returns


class SimulatorStream:
    """Bars of fair mids and true regimes from ``riskstream.feeds.simulator``."""

    def __init__(self, args: argparse.Namespace):
        from riskstream.feeds.config import SimulatorConfig, UniverseConfig
        from riskstream.feeds.universe import generate_universe

        self.universe = generate_universe(UniverseConfig(instruments=args.universe, seed=7))
        self.ids = tracked_instruments(self.universe, args.assets)
        self.args = args
        self.config = SimulatorConfig

    def simulator(self, seed: int):
        from riskstream.feeds.config import RegimeConfig
        from riskstream.feeds.simulator import MarketSimulator

        chain = sped_up_chain(RegimeConfig(), self.args.regime_speed)
        cfg = self.config(seed=seed, events_per_s=self.args.events_per_s,
                          batch_events=self.args.batch_events, regimes=chain)  # fmt: skip
        return MarketSimulator(self.universe, cfg)

    def md(self):
        """A market-data stage over the universe (``--prices observed``), else None."""
        if self.args.prices != "observed":
            return None
        from riskstream.core import MarketState
        from riskstream.md.config import MdConfig
        from riskstream.md.stage import MdStage

        n = len(self.universe)
        return MdStage(n, MdConfig(), MarketState(n))

    def bars(self, seed: int, minutes: float) -> tuple[np.ndarray, np.ndarray]:
        return simulator_bars(self.simulator(seed), self.ids, self.args.bar_s, minutes, self.md())

    def stream(self, seed: int, minutes: float):
        """A fresh simulator of ``seed``, the price source of the tracked instruments (fair
        or md's observed mids) and the md stage to feed each batch (or None)."""
        sim = self.simulator(seed)
        md = self.md()
        mids = sim.fair_mid if md is None else md.market_state.mid
        prices = lambda: np.asarray(mids[self.ids])  # noqa: E731
        return sim, prices, md


def synthetic_bars(seed: int, minutes: float, args) -> tuple[np.ndarray, np.ndarray]:
    from riskstream.feeds.config import RegimeConfig

    # the simulator's chain, sped up, over one bar: P_bar = exp((speed * bar_s / 60) log P_min)
    per_bar = sped_up_chain(RegimeConfig(), args.regime_speed * args.bar_s / 60.0)
    n = int(minutes * 60 / args.bar_s)
    return simulate_regime_returns(n, n_assets=args.assets, seed=seed,
                                   transition=np.array(per_bar.transition_per_min))  # fmt: skip


def evaluate(stage_ts, stage_regime, true_ts, true_regime, changes) -> list[float | None]:
    """Detection lag (s) of each true change; None when superseded before detection."""
    lags: list[float | None] = []
    for i, (t_change, new) in enumerate(changes):
        t_next = changes[i + 1][0] if i + 1 < len(changes) else np.iinfo(np.int64).max
        after = (stage_ts >= t_change) & (stage_ts < t_next) & (stage_regime == new)
        hit = np.flatnonzero(after)
        lags.append(float((stage_ts[hit[0]] - t_change) / 1e9) if len(hit) else None)
    return lags


def run_stream(model, args, seed, source) -> dict:
    """Stream one held-out seed through the RegimeStage; per-update records."""
    names = list(model.detectors_)
    records = {"ts": [], "ens": [], "truth": [], **{n: [] for n in names}}
    walls: list[float] = []

    def publish(ts: int, regime: int, probs: np.ndarray) -> None:
        records["ts"].append(ts)
        records["ens"].append(regime)
        for n in names:
            records[n].append(int(np.argmax(model.detector_probs_[n])))

    if source == "simulator":
        sim, prices, md = args.stream.stream(seed, args.test_minutes)
        stage = RegimeStage(model, prices, args.bar_s, publish=publish)
        for events, now_ns in sim.batches(args.test_minutes * 60):
            if md is not None:
                md.on_batch(events, now_ns)
            t0 = time.perf_counter()
            before = stage.updates
            stage.on_batch(events, now_ns)
            if stage.updates > before:
                walls.append(time.perf_counter() - t0)
                records["truth"].append(sim.regime)
        log = sim.regime_log()
        changes = list(zip(log["ts"].to_list()[1:], log["regime"].to_list()[1:], strict=True))
    else:
        x, truth = synthetic_bars(seed, args.test_minutes, args)
        px = 100 * np.exp(np.vstack([np.zeros(x.shape[1]), x]).cumsum(axis=0))
        state = {"i": -1}

        def prices() -> np.ndarray:
            state["i"] += 1
            return px[state["i"]]

        stage = RegimeStage(model, prices, args.bar_s, publish=publish)
        bar_ns = round(args.bar_s * 1e9)
        for i in range(len(px)):
            t0 = time.perf_counter()
            stage.on_batch(np.empty(0), i * bar_ns)
            if i:
                walls.append(time.perf_counter() - t0)
                records["truth"].append(int(truth[i - 1]))
        ts = np.arange(1, len(px)) * bar_ns
        flips = np.flatnonzero(np.diff(truth)) + 1
        changes = [(int(ts[j]), int(truth[j])) for j in flips]
    out = {k: np.asarray(v) for k, v in records.items()}
    out["lags"] = evaluate(out["ts"], out["ens"], None, None, changes)
    out["walls"] = np.asarray(walls)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["simulator", "synthetic"], default="simulator")
    parser.add_argument(
        "--prices", choices=["latent", "observed"], default="latent",
        help="simulator source: its latent fair mids, or md's observed mids (as the demo)",
    )  # fmt: skip
    parser.add_argument("--train-seeds", default="1,2")
    parser.add_argument("--test-seeds", default="101,102,103")
    parser.add_argument("--train-minutes", type=float, default=120.0)
    parser.add_argument("--test-minutes", type=float, default=60.0)
    parser.add_argument("--assets", type=int, default=8)
    parser.add_argument("--bar-s", type=float, default=0.25)
    parser.add_argument("--universe", type=int, default=200)
    parser.add_argument("--events-per-s", type=float, default=4000.0)
    parser.add_argument("--batch-events", type=int, default=256)
    parser.add_argument(
        "--regime-speed", type=float, default=10.0,
        help="run the simulator's regime chain this many times faster (more changes/hour)",
    )  # fmt: skip
    args = parser.parse_args()
    train_seeds = [int(s) for s in args.train_seeds.split(",")]
    test_seeds = [int(s) for s in args.test_seeds.split(",")]
    if set(train_seeds) & set(test_seeds):
        raise SystemExit("test seeds must differ from training seeds")
    if args.source == "simulator":
        args.stream = SimulatorStream(args)

    t0 = time.perf_counter()
    xs, ys = [], []
    for seed in train_seeds:
        x, y = (args.stream.bars(seed, args.train_minutes) if args.source == "simulator"
                else synthetic_bars(seed, args.train_minutes, args))  # fmt: skip
        xs.append(x)
        ys.append(y)
    collect_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cfg = RegimeConfig(bar_s=args.bar_s, instruments=args.assets)
    model = RegimeEnsemble.from_config(cfg).fit(np.vstack(xs), np.concatenate(ys))
    fit_s = time.perf_counter() - t0

    runs = [run_stream(model, args, seed, args.source) for seed in test_seeds]
    truth = np.concatenate([r["truth"] for r in runs])
    accuracy = {
        name: round(float((np.concatenate([r[name] for r in runs]) == truth).mean()), 4)
        for name in ["ens", *model.detectors_]
    }
    lags = [lag for r in runs for lag in r["lags"]]
    found = np.array([lag for lag in lags if lag is not None])
    walls = np.concatenate([r["walls"] for r in runs]) * 1e3
    for name, acc in accuracy.items():
        print(f"{name:>8}: accuracy {acc:.3f}")
    print(f"changes {len(lags)}, detected {len(found)}, lag median "
          f"{np.median(found) if len(found) else float('nan'):.2f} s")  # fmt: skip
    summary = {
        "benchmark": "regime",
        "source": args.source,
        "prices": args.prices if args.source == "simulator" else None,
        "accuracy": accuracy.pop("ens"),
        "lag_s": round(float(np.median(found)), 3) if len(found) else None,
        "lag_mean_s": round(float(found.mean()), 3) if len(found) else None,
        "lag_p90_s": round(float(np.percentile(found, 90)), 3) if len(found) else None,
        "changes": len(lags),
        "changes_detected": len(found),
        "detector_accuracy": accuracy,
        "true_regime_share": np.bincount(truth, minlength=3).round(0).tolist(),
        "update_ms_p50": round(float(np.percentile(walls, 50)), 3),
        "update_ms_p99": round(float(np.percentile(walls, 99)), 3),
        "updates": len(truth),
        "train_rows": int(sum(len(x) for x in xs)),
        "train_seeds": train_seeds,
        "test_seeds": test_seeds,
        "bar_s": args.bar_s,
        "regime_speed": args.regime_speed,
        "assets": args.assets,
        "collect_s": round(collect_s, 2),
        "fit_s": round(fit_s, 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
