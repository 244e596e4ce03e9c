"""Benchmark: regime detection on hard synthetic data, on real data, and its lag in market time.

Three parts (``--parts``, default all), each filtered (row t sees rows up to t only) and out
of sample:

``hard``
    The hard test bed :func:`riskstream.regime.simulate.hard_regime_model` — regimes that
    differ by correlation (0.15 / 0.5 / 0.8) as much as by volatility (1 : 1.4 : 2), mean
    spells of 50 / 20 / 12 bars, multivariate Student-t rows (5 degrees of freedom),
    ``--assets`` assets. One market (parameters), a training path (``--train-seeds``) and
    held-out test paths (``--test-seeds``). Scored side by side on the test paths (share of
    bars whose detected regime is the true one):

    * ``ceiling``: the Hamilton filter with the generator's true parameters (the Bayes
      posterior: no detector that sees only the returns does better on average);
    * ``baseline``: a trailing realised-volatility threshold — the realised variance of the
      equal-weighted portfolio of standardised returns over a trailing window, cut into
      regimes by two thresholds; window and thresholds are those that maximise training
      accuracy; ``baseline_assets``: the same on the average asset's variance (blind to
      correlation);
    * ``hmm_plain``: a Gaussian HMM fitted by EM without labels (states ordered by
      volatility);
    * every base detector of the ensemble (fitted with the training labels) and the
      ensemble; ``ensemble_fixed_smoothing``: the same ensemble with the former fixed
      smoother (q/r = 0.2) instead of the maximum-likelihood one.

    Lag: for each true change, bars until the reported regime first equals the new one
    (missed when the next change comes first), converted to seconds at ``--bar-s`` (the
    demo's bar).
``real``
    S&P 500 daily log returns (``arch.data.sp500``, 1999-2018); the ensemble (no labels: the
    demo's unsupervised path) and its detectors are fitted on 1999-2008 and filtered over
    the whole sample. Agreement (accuracy, F1, Cohen's kappa) of the detected stress state
    (``top``: the most volatile regime; ``not_calm``: any regime but the calmest) with

    * NBER recession months (``NBER_RECESSIONS``, FRED's USREC convention: the months after
      the peak through the trough), all days and the out-of-sample 2009-2018 days;
    * VIX stress days (``arch.data.vix``, 2014-2018): VIX close above 30 (the conventional
      "high fear" level) and above 20 (about the index's long-run average).
``sim``
    Detection lag in market time at the demo's real event rate, with the simulator's real
    regime chain (calm ~50 min, volatile ~12 min, crisis ~8 min — not sped up). The model is
    the one the demo runs, trained as the demo trains it (``cli.regime.fit_demo_model``: the
    tracked instruments' observed mids, 20 simulated minutes with the chain 40× faster);
    the test stream is the same sub-universe at its share of the demo's 200,000 events/s,
    through md (observed mids), ``--sim-minutes`` long, another seed.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from riskstream.regime import HMMDetector, RegimeConfig, RegimeEnsemble
from riskstream.regime.base import single_threaded
from riskstream.regime.ensemble import hysteresis_labels, local_level_filter
from riskstream.regime.simulate import hard_regime_model

# NBER business-cycle reference dates, https://www.nber.org/research/data/us-business-cycle-
# expansions-and-contractions: peak March 2001, trough November 2001; peak December 2007,
# trough June 2009. Recession months follow FRED's USREC convention (from the month after
# the peak through the trough).
NBER_RECESSIONS = (("2001-04-01", "2001-11-30"), ("2008-01-01", "2009-06-30"))
VIX_STRESS_LEVELS = (30.0, 20.0)
FORMER_SMOOTHING_RATIO = 0.2  # the ensemble's former fixed q/r (0.02 / 0.1)


# --- scoring ------------------------------------------------------------------------------


def change_lags(detected: np.ndarray, truth: np.ndarray) -> list[int | None]:
    """Bars from each true change until ``detected`` first equals the new regime (0: at the
    change's own bar); None when the next change comes first."""
    flips = np.flatnonzero(np.diff(truth)) + 1
    ends = [*flips[1:], len(truth)]
    lags: list[int | None] = []
    for start, end in zip(flips, ends, strict=True):
        hit = np.flatnonzero(detected[start:end] == truth[start])
        lags.append(int(hit[0]) if len(hit) else None)
    return lags


def lag_summary(lags: list[int | None], bar_s: float) -> dict:
    found = np.array([lag for lag in lags if lag is not None], dtype=float)
    return {
        "changes": len(lags),
        "detected": len(found),
        "lag_bars_median": float(np.median(found)) if len(found) else None,
        "lag_s_median": round(float(np.median(found)) * bar_s, 3) if len(found) else None,
        "lag_s_mean": round(float(found.mean()) * bar_s, 3) if len(found) else None,
        "lag_s_p90": round(float(np.percentile(found, 90)) * bar_s, 3) if len(found) else None,
    }


def agreement(detected: np.ndarray, label: np.ndarray) -> dict:
    """Accuracy, F1 of the positive (stress) class and Cohen's (1960) kappa of two binary
    labellings: :math:`\\kappa = (p_o - p_e)/(1 - p_e)`, with :math:`p_e` the agreement
    expected by chance from the two marginal rates."""
    d, y = detected.astype(bool), label.astype(bool)
    tp, fp, fn = (d & y).sum(), (d & ~y).sum(), (~d & y).sum()
    p_o = float((d == y).mean())
    p_e = float(d.mean() * y.mean() + (1 - d.mean()) * (1 - y.mean()))
    return {
        "accuracy": round(p_o, 4),
        "f1": round(float(2 * tp / max(2 * tp + fp + fn, 1)), 4),
        "kappa": round((p_o - p_e) / (1 - p_e), 4) if p_e < 1 else None,
        "detected_share": round(float(d.mean()), 4),
        "label_share": round(float(y.mean()), 4),
        "days": len(d),
    }


# --- the baseline ---------------------------------------------------------------------------


def trailing_mean(v: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each row (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(v)])
    t = np.arange(1, len(v) + 1)
    start = np.maximum(t - window, 0)
    return (c[t] - c[start]) / (t - start)


class RealisedVolThreshold:
    """Trailing realised-volatility threshold: regime k when the log realised variance over
    the last ``window`` bars lies between thresholds k-1 and k. ``portfolio``: the variance
    of the equal-weighted portfolio of standardised returns (sees correlation: it rises with
    it); else the average asset's variance. Window (from ``WINDOWS``) and thresholds (from a
    grid of training quantiles) maximise training accuracy."""

    WINDOWS = (4, 8, 16, 32, 64)

    def __init__(self, portfolio: bool = True):
        self.portfolio = portfolio

    def _signal(self, x: np.ndarray, window: int) -> np.ndarray:
        z = x / self.scale_
        v = z.mean(axis=1) ** 2 if self.portfolio else (z * z).mean(axis=1)
        return np.log(trailing_mean(v, window) + 1e-12)

    def fit(self, x: np.ndarray, labels: np.ndarray) -> RealisedVolThreshold:
        self.scale_ = x.std(axis=0)
        k = int(labels.max()) + 1
        best = (-1.0, 0, None)
        for window in self.WINDOWS:
            f = self._signal(x, window)
            grid = np.quantile(f, np.linspace(0.01, 0.99, 99))
            if k == 2:
                cands = [np.array([a]) for a in grid]
            else:  # three regimes: every ordered pair of grid points
                cands = [np.array([a, b]) for i, a in enumerate(grid) for b in grid[i:]]
            for cut in cands:
                acc = float((np.digitize(f, cut) == labels).mean())
                if acc > best[0]:
                    best = (acc, window, cut)
        _, self.window_, self.thresholds_ = best
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.digitize(self._signal(x, self.window_), self.thresholds_)


def fixed_smoothing_labels(ensemble: RegimeEnsemble, probs: dict[str, np.ndarray]) -> np.ndarray:
    """The ensemble's regimes had its smoother kept the former fixed q/r (from a fresh
    state), given its detectors' filtered probabilities."""
    raw = ensemble._stacked(ensemble._stack_features(probs))
    k = ensemble.n_regimes
    slow = local_level_filter(raw, FORMER_SMOOTHING_RATIO, 1.0, np.full(k, 1 / k), np.array([1e7]))
    return hysteresis_labels(slow, ensemble.hysteresis, -1)


# --- part 1: the hard synthetic test bed ------------------------------------------------------


def hard_part(args: argparse.Namespace) -> dict:
    market = hard_regime_model(n_assets=args.assets, seed=0)
    train = [market.simulate(args.train_rows, seed) for seed in args.train_seeds]
    x = np.vstack([t[0] for t in train])
    y = np.concatenate([t[1] for t in train])
    tests = [market.simulate(args.test_rows, seed) for seed in args.test_seeds]
    truth = np.concatenate([t[1] for t in tests])

    t0 = time.perf_counter()
    cfg = RegimeConfig(bar_s=args.bar_s, instruments=args.assets)
    ensemble = RegimeEnsemble.from_config(cfg).fit(x, y)
    fit_s = time.perf_counter() - t0
    plain = HMMDetector(3).fit(x)
    baselines = {"baseline": RealisedVolThreshold(True).fit(x, y),
                 "baseline_assets": RealisedVolThreshold(False).fit(x, y)}  # fmt: skip

    detected: dict[str, list[np.ndarray]] = {}

    def add(name: str, labels: np.ndarray) -> None:
        detected.setdefault(name, []).append(np.asarray(labels))

    for xt, _ in tests:  # each test path filtered from a fresh state
        add("ceiling", market.filter(xt).argmax(axis=1))
        for name, b in baselines.items():
            add(name, b.predict(xt))
        add("hmm_plain", plain.predict_proba(xt).argmax(axis=1))
        with single_threaded():
            probs = ensemble.detector_probas(xt)
        for name, p in probs.items():
            add(name, p.argmax(axis=1))
        add("ensemble", ensemble.predict(xt)[0])
        raw = ensemble._stacked(ensemble._stack_features(probs))
        k = ensemble.n_regimes
        slow = local_level_filter(
            raw, FORMER_SMOOTHING_RATIO, 1.0, np.full(k, 1 / k), np.array([1e7])
        )
        add("ensemble_fixed_smoothing", hysteresis_labels(slow, ensemble.hysteresis, -1))
    accuracy = {
        name: round(float((np.concatenate(parts) == truth).mean()), 4)
        for name, parts in detected.items()
    }
    lags = {}
    for name in ("ceiling", "baseline", "ensemble", "ensemble_fixed_smoothing", "thmm"):
        per_path = [change_lags(d, t[1]) for d, t in zip(detected[name], tests, strict=True)]
        lags[name] = lag_summary([lag for path in per_path for lag in path], args.bar_s)
        switches = sum(int((np.diff(d) != 0).sum()) for d in detected[name])
        lags[name]["switches_per_change"] = round(switches / max(lags[name]["changes"], 1), 3)
    ensemble.reset()
    walls = []
    for row in tests[0][0][:500]:
        t0 = time.perf_counter()
        ensemble.filter(row)
        walls.append(time.perf_counter() - t0)
    walls_ms = np.array(walls[50:]) * 1e3
    ens, base, ceil = accuracy["ensemble"], accuracy["baseline"], accuracy["ceiling"]
    return {
        "accuracy": accuracy,
        "ensemble_minus_baseline_pts": round(100 * (ens - base), 2),
        "ceiling_minus_ensemble_pts": round(100 * (ceil - ens), 2),
        "target_met": bool(ens - base >= 0.05 and ceil - ens <= 0.06),
        "lag": lags,
        "baseline_window_bars": baselines["baseline"].window_,
        "smoothing_ratio": round(float(ensemble.smoothing_ratio_), 4),
        "thmm_df": round(float(ensemble.detectors_["thmm"].df_), 3),
        "true_regime_share": (np.bincount(truth, minlength=3) / len(truth)).round(4).tolist(),
        "train_rows": len(x),
        "test_rows": len(truth),
        "assets": args.assets,
        "train_seeds": args.train_seeds,
        "test_seeds": args.test_seeds,
        "fit_s": round(fit_s, 2),
        "update_ms_p50": round(float(np.percentile(walls_ms, 50)), 3),
        "update_ms_p99": round(float(np.percentile(walls_ms, 99)), 3),
    }


# --- part 2: real daily data ---------------------------------------------------------------


def real_part(args: argparse.Namespace) -> dict:
    import arch.data.sp500
    import arch.data.vix
    import pandas as pd

    px = arch.data.sp500.load()["Adj Close"]
    r = np.log(px).diff().dropna()
    fit_rows = r.index <= pd.Timestamp("2008-12-31")
    ensemble = RegimeEnsemble.from_config(RegimeConfig()).fit(r.to_numpy()[fit_rows])
    regime, _ = ensemble.predict(r.to_numpy())
    with single_threaded():
        probs = ensemble.detector_probas(r.to_numpy())
    k = ensemble.n_regimes
    states = {"ensemble": regime, **{n: p.argmax(axis=1) for n, p in probs.items()}}
    nber = np.zeros(len(r), dtype=bool)
    for a, b in NBER_RECESSIONS:
        nber |= (r.index >= pd.Timestamp(a)) & (r.index <= pd.Timestamp(b))
    oos = ~fit_rows
    vix = arch.data.vix.load()["vix"].reindex(r.index)
    on_vix = vix.notna().to_numpy()
    out: dict = {"fit": "1999-2008, no labels", "labels_source": ensemble.labels_source_}
    for name, s in states.items():
        stress = {"top": s == k - 1, "not_calm": s >= 1}
        row: dict = {}
        for rule, d in stress.items():
            row[rule] = {
                "nber_all": agreement(d, nber),
                "nber_2009_2018": agreement(d[oos], nber[oos]),
                **{
                    f"vix_gt_{int(lv)}": agreement(d[on_vix], vix.to_numpy()[on_vix] > lv)
                    for lv in VIX_STRESS_LEVELS
                },
            }
        out[name] = row
    return out


# --- part 3: lag in market time at the demo's event rate --------------------------------------


def sim_part(args: argparse.Namespace) -> dict:
    from riskstream.cli.regime import (
        DEMO_FIT_MINUTES,
        DEMO_REGIME_SPEED,
        fit_demo_model,
        observed_bars,
        tracked_instruments,
    )
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.feeds.universe import generate_universe
    from riskstream.regime import load_model
    from riskstream.settings import Settings

    cfg = Settings()
    universe = generate_universe(cfg.universe)
    simulator = MarketSimulator(universe, cfg.simulator)
    ids = tracked_instruments(universe, cfg.regime.instruments)
    rate = float(simulator.arrivals_per_s[ids].sum())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "regime.model"
        fit_demo_model(cfg, universe, simulator, DEMO_FIT_MINUTES, DEMO_REGIME_SPEED, path)
        model, _ = load_model(path)
    fit_s = time.perf_counter() - t0
    test_cfg = cfg.model_copy(
        update={"regime": cfg.regime.model_copy(update={"seed": args.sim_seed})}
    )
    t0 = time.perf_counter()
    x, truth = observed_bars(universe, ids, test_cfg, args.sim_minutes, 1.0, rate)
    stream_s = time.perf_counter() - t0
    regime, _ = model.predict(x)
    with single_threaded():
        probs = model.detector_probas(x)
    bar_s = cfg.regime.bar_s
    fixed = fixed_smoothing_labels(model, probs)
    accuracy = {"ensemble": round(float((regime == truth).mean()), 4),
                "ensemble_fixed_smoothing": round(float((fixed == truth).mean()), 4)}  # fmt: skip
    accuracy.update({n: round(float((p.argmax(axis=1) == truth).mean()), 4)
                     for n, p in probs.items()})  # fmt: skip
    return {
        "events_per_s": round(rate, 1),
        "demo_events_per_s": cfg.simulator.events_per_s,
        "regime_speed": 1.0,
        "minutes": args.sim_minutes,
        "bar_s": bar_s,
        "model": f"demo's: {DEMO_FIT_MINUTES:g} min at {DEMO_REGIME_SPEED:g}x chain",
        "accuracy": accuracy,
        "lag": lag_summary(change_lags(regime, truth), bar_s),
        "true_regime_share": (np.bincount(truth, minlength=3) / len(truth)).round(4).tolist(),
        "lag_fixed_smoothing": lag_summary(change_lags(fixed, truth), bar_s),
        "switches": int((np.diff(regime) != 0).sum()),
        "switches_fixed_smoothing": int((np.diff(fixed) != 0).sum()),
        "smoothing_ratio": round(float(model.smoothing_ratio_), 4),
        "fit_s": round(fit_s, 1),
        "stream_s": round(stream_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="hard,real,sim")
    parser.add_argument("--assets", type=int, default=12)
    parser.add_argument("--train-seeds", default="1")
    parser.add_argument("--test-seeds", default="101,102,103")
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--test-rows", type=int, default=10_000)
    parser.add_argument("--bar-s", type=float, default=0.25, help="the demo's bar (s)")
    parser.add_argument("--sim-minutes", type=float, default=150.0)
    parser.add_argument("--sim-seed", type=int, default=101)
    args = parser.parse_args()
    args.train_seeds = [int(s) for s in args.train_seeds.split(",")]
    args.test_seeds = [int(s) for s in args.test_seeds.split(",")]
    if set(args.train_seeds) & set(args.test_seeds):
        raise SystemExit("test seeds must differ from training seeds")
    parts = args.parts.split(",")
    summary: dict = {"benchmark": "regime"}
    started = time.perf_counter()
    for name, run in (("hard", hard_part), ("real", real_part), ("sim", sim_part)):
        if name in parts:
            t0 = time.perf_counter()
            summary[name] = run(args)
            summary[name]["wall_s"] = round(time.perf_counter() - t0, 1)
            print(f"{name}: {json.dumps(summary[name])}", flush=True)
    if "hard" in summary:
        summary["accuracy"] = summary["hard"]["accuracy"]["ensemble"]
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    summary["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m": round(os.getloadavg()[0], 2)}  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
