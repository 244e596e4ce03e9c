"""``riskstream regime fit`` and ``riskstream regime detect``: regime models from files.

Input: a Parquet file with a timestamp column ``ts`` and one column of returns per asset
(log returns, one row per sampling interval, oldest first). ``fit`` writes a versioned model
file; ``detect`` writes ``ts``, ``regime`` and ``p_0 .. p_{K-1}`` per row, each row filtered
from the rows up to it only (never smoothed over the future).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import typer

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError
from riskstream.settings import Settings

TRACKED_CLASSES = ("equity", "future", "fx")

regime_app = typer.Typer(help="Fit regime models and detect regimes.", no_args_is_help=True)
app.add_typer(regime_app, name="regime")


def read_returns(
    path: Path, assets: list[str] | None = None, label_column: str | None = None
) -> tuple[pl.Series, np.ndarray, list[str], np.ndarray | None]:
    """(ts, returns (n_obs, n_assets), asset names, labels or None) from a Parquet file.

    Raises
    ------
    InputError
        Missing file or ``ts`` column, no return columns, a non-numeric column, or (with
        ``assets``) a column the model was fitted on is missing.
    """
    if not path.is_file():
        raise InputError("input", str(path), "an existing Parquet file")
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # pyarrow/polars raise many types for a bad file
        raise InputError("input", str(path), f"a readable Parquet file ({exc})") from None
    if "ts" not in frame.columns:
        raise InputError("columns", frame.columns, "a 'ts' timestamp column", str(path))
    labels = None
    if label_column is not None:
        if label_column not in frame.columns:
            raise InputError("label column", label_column, f"one of {frame.columns}", str(path))
        labels = frame[label_column].to_numpy()
    names = assets or [c for c in frame.columns if c not in ("ts", label_column)]
    if not names:
        raise InputError("columns", frame.columns, "at least one column of returns", str(path))
    for name in names:
        if name not in frame.columns:
            raise InputError("columns", name, "a column the model was fitted on", str(path))
        if not frame[name].dtype.is_numeric():
            raise InputError(f"column {name}", str(frame[name].dtype), "numeric returns")
    returns = frame.select(names).cast(pl.Float64).to_numpy()
    return frame["ts"], returns, names, labels


@regime_app.command("fit")
def fit_cmd(
    ctx: typer.Context,
    input: Path = typer.Option(..., "--input", help="Parquet: ts + one return column per asset."),
    regimes: int = typer.Option(3, "--regimes", min=2, max=6, help="Number of regimes K."),
    model: Path = typer.Option(..., "--model", help="Model file to write."),
    labels: str | None = typer.Option(
        None, "--labels", help="Column of known regimes (else the HMM's Viterbi path)."
    ),
    detectors: str | None = typer.Option(
        None, "--detectors", help="Comma-separated base detectors (default: all)."
    ),
) -> None:
    """Fit the regime ensemble on a returns file and save it."""
    from riskstream.regime import RegimeEnsemble, save_model

    cfg = settings(ctx).regime.model_copy(update={"n_regimes": regimes})
    _, returns, names, lab = read_returns(input, label_column=labels)
    chosen = None if detectors is None else [d.strip() for d in detectors.split(",")]
    ensemble = RegimeEnsemble.from_config(cfg, chosen).fit(returns, lab)
    save_model(model, ensemble, names)
    print_json(
        {
            "model": str(model),
            "rows": len(returns),
            "assets": len(names),
            "regimes": regimes,
            "detectors": ensemble.names_,
            "labels": ensemble.labels_source_,
        }
    )


@regime_app.command("detect")
def detect_cmd(
    model: Path = typer.Option(..., "--model", help="Model file from `regime fit`."),
    input: Path = typer.Option(..., "--input", help="Parquet: ts + the fitted return columns."),
    out: Path = typer.Option(..., "--out", help="Parquet to write: ts, regime, p_0..p_{K-1}."),
) -> None:
    """Filtered regime and probabilities of every row of a returns file."""
    from riskstream.regime import REGIME_NAMES, load_model

    ensemble, header = load_model(model)
    ts, returns, _, _ = read_returns(input, assets=header["assets"])
    regime, probs = ensemble.predict(returns)
    frame = pl.DataFrame({"ts": ts, "regime": regime.astype(np.int8)}).with_columns(
        [pl.Series(f"p_{k}", probs[:, k]) for k in range(probs.shape[1])]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(out)
    counts = np.bincount(regime, minlength=probs.shape[1])
    print_json(
        {
            "out": str(out),
            "rows": len(frame),
            "regime_share": {
                REGIME_NAMES.get(k, str(k)) if probs.shape[1] == 3 else str(k): round(
                    float(c) / len(frame), 4
                )
                for k, c in enumerate(counts)
            },
            "last_regime": int(regime[-1]),
        }
    )


def tracked_instruments(universe: Any, n: int) -> np.ndarray:
    """Ids of the ``n`` most liquid (by ADV) equities, futures and FX pairs: the cross-asset
    panel the real-time regime model watches."""
    inst = universe.instruments
    pool = inst.filter(pl.col("asset_class").is_in(TRACKED_CLASSES)).sort(
        ["adv", "instrument_id"], descending=[True, False]
    )
    return pool["instrument_id"].to_numpy()[:n].astype(np.int64)


def simulator_bars(simulator: Any, ids: np.ndarray, bar_s: float, minutes: float, md: Any = None):
    """(log returns (n_bars, n_ids), true regime per bar) of the simulator's fair mids, or
    with ``md`` (an :class:`~riskstream.md.stage.MdStage` over the simulator's universe, fed
    every batch) of md's observed mids; bars whose returns are not finite (before the
    first quotes) are dropped."""
    n = int(minutes * 60 / bar_s)
    px = np.empty((n + 1, len(ids)))
    regimes = np.empty(n, dtype=np.int64)
    mids = simulator.fair_mid if md is None else md.market_state.mid
    px[0] = mids[ids]
    for i in range(n):
        for events, now_ns in simulator.batches(bar_s):
            if md is not None:
                md.on_batch(events, now_ns)
        px[i + 1] = mids[ids]
        regimes[i] = simulator.regime
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = np.diff(np.log(px), axis=0)
    ok = np.isfinite(returns).all(axis=1)
    return returns[ok], regimes[ok]


def sped_up_chain(chain: Any, speed: float) -> Any:
    r"""The simulator's regime chain (``feeds.config.RegimeConfig``) run ``speed`` times
    faster: same regimes and volatilities, dwell times divided by ``speed``. In continuous
    time the per-minute matrix becomes :math:`P' = \exp(\text{speed}\,\log P)`."""
    from scipy.linalg import expm, logm

    p = np.clip(np.real(expm(logm(np.array(chain.transition_per_min)) * speed)), 0.0, None)
    p /= p.sum(axis=1, keepdims=True)
    return chain.model_copy(update={"transition_per_min": tuple(tuple(map(float, r)) for r in p)})


def observed_bars(
    universe: Any, ids: np.ndarray, cfg: Settings, minutes: float, regime_speed: float,
    events_per_s: float,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(log returns (n_bars, n_ids), true regime per bar) of the OBSERVED mids — what md's
    market state shows the demo's regime stage — of instruments ``ids`` of ``universe``.

    Only those instruments are simulated (a sub-universe; their drivers and factor
    loadings are drawn afresh but from the same model), at ``events_per_s`` (their share of
    the full simulator's event rate, so quotes arrive as often as in the demo), with the
    regime chain ``regime_speed`` times faster so a short run holds many regime changes.
    Bars whose returns are not finite (before the first quotes) are dropped.
    """
    from riskstream.core import MarketState, Universe
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.md.stage import MdStage

    inst = universe.instruments[ids].with_columns(
        pl.int_range(len(ids), dtype=universe.instruments["instrument_id"].dtype).alias(
            "instrument_id"
        ),
        pl.lit(None, dtype=universe.instruments["underlying_id"].dtype).alias("underlying_id"),
    )
    sub = Universe(inst, universe.books, universe.positions.clear(), universe.base_currency,
                   universe.fx_to_base, universe.as_of)  # fmt: skip
    sim_cfg = cfg.simulator.model_copy(update={
        "seed": cfg.regime.seed, "events_per_s": events_per_s, "batch_events": 256,
        "regimes": sped_up_chain(cfg.simulator.regimes, regime_speed),
        "manipulation": None,  # the market's regimes, not its manipulators
    })  # fmt: skip
    sim = MarketSimulator(sub, sim_cfg)
    state = MarketState(len(ids))
    md = MdStage(len(ids), cfg.md, state)
    n = int(minutes * 60 / cfg.regime.bar_s)
    px = np.empty((n + 1, len(ids)))
    regimes = np.empty(n + 1, dtype=np.int64)
    for i in range(n + 1):
        for events, now_ns in sim.batches(cfg.regime.bar_s):
            md.on_batch(events, now_ns)
        px[i], regimes[i] = state.mid, sim.regime
    md.close()
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = np.diff(np.log(px), axis=0)
    ok = np.isfinite(returns).all(axis=1)
    return returns[ok], regimes[1:][ok]


def fit_demo_model(
    cfg: Settings, universe: Any, simulator: Any, minutes: float, regime_speed: float,
    path: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Fit the ensemble on the observed mids of the ``regime.instruments`` most liquid
    instruments of ``universe`` (labels: the simulator's true regimes) and save it to
    ``path`` (default :func:`default_model_path`); a summary of the fit."""
    from riskstream.regime import RegimeEnsemble, save_model

    ids = tracked_instruments(universe, cfg.regime.instruments)
    rate = float(simulator.arrivals_per_s[ids].sum())
    returns, labels = observed_bars(universe, ids, cfg, minutes, regime_speed, rate)
    ensemble = RegimeEnsemble.from_config(cfg.regime).fit(returns, labels)
    symbols = universe.instruments["symbol"].to_numpy()[ids].tolist()
    saved = save_model(path or default_model_path(cfg), ensemble, symbols)
    return {"model": str(saved), "rows": len(returns), "assets": symbols,
            "regime_share": np.bincount(labels, minlength=3).tolist()}  # fmt: skip


def default_model_path(cfg: Settings) -> Path:
    """Where the demo looks for its regime model: ``regime.model_path`` or
    ``<store.data_dir>/regime.model``."""
    return cfg.regime.model_path or cfg.store.data_dir / "regime.model"


# The demo trains its model at first start when none exists: 20 simulated minutes with the
# regime chain 40x faster (calm ~75 s, volatile ~18 s, crisis ~12 s on average) hold every
# regime several times; ~15 s on a laptop core.
DEMO_FIT_MINUTES = 20.0
DEMO_REGIME_SPEED = 40.0


@regime_app.command("fit-sim")
def fit_sim_cmd(
    ctx: typer.Context,
    minutes: float = typer.Option(60.0, "--minutes", min=1.0, help="Simulated minutes."),
    regime_speed: float = typer.Option(
        1.0, "--regime-speed", min=1.0, help="Run the simulator's regime chain this much faster."
    ),
    model: Path | None = typer.Option(None, "--model", help="Model file (default: the demo's)."),
) -> None:
    """Fit the ensemble on the market simulator's true regimes (the demo's model)."""
    from riskstream.cli.universe import ensure_universe
    from riskstream.feeds.simulator import MarketSimulator

    cfg = settings(ctx)
    universe = ensure_universe(cfg)
    simulator = MarketSimulator(universe, cfg.simulator)
    print_json(fit_demo_model(cfg, universe, simulator, minutes, regime_speed, model))


def ensure_demo_model(cfg: Settings, universe: Any, simulator: Any, say: Callable[[str], None]
                      ) -> Path:  # fmt: skip
    """The demo's regime model file, trained and cached at :func:`default_model_path` when
    missing (``say`` announces the training)."""
    from riskstream.regime.io import read_header

    path = default_model_path(cfg)
    if not path.is_file():
        say("training the regime model (first run) ...")
        fit_demo_model(cfg, universe, simulator, DEMO_FIT_MINUTES, DEMO_REGIME_SPEED, path)
        return path
    try:
        read_header(path)
    except InputError as exc:
        if exc.field != "model version":  # not ours to overwrite: say what is wrong
            raise
        # a model saved by an earlier release cannot be read by this one: train it again
        say(f"the regime model was saved by another release ({exc.value}); training it again")
        fit_demo_model(cfg, universe, simulator, DEMO_FIT_MINUTES, DEMO_REGIME_SPEED, path)
    return path


def demo_regime_stage(cfg: Settings, universe: Any, market_state: Any) -> Any | None:
    """The demo's RegimeStage when a model file exists (else None). Prices are the observed
    mids in md's market state of the model's instruments (matched by symbol); a bar where
    one is still missing (NaN before the first quotes) is skipped and counted."""
    from riskstream.regime import RegimeStage, load_model
    from riskstream.regime.stage import warm_up

    path = default_model_path(cfg)
    if not path.is_file():
        return None
    model, header = load_model(path)
    symbols = universe.instruments["symbol"].to_list()
    index = {s: i for i, s in enumerate(symbols)}
    missing = [s for s in header["assets"] if s not in index]
    if missing:
        raise InputError("regime model assets", missing[:5], "symbols of the current universe",
                         str(path))  # fmt: skip
    ids = np.array([index[s] for s in header["assets"]], dtype=np.int64)
    warm_up(model, len(ids))  # compiled before the clock starts, not on the first bar
    return RegimeStage(model, lambda: market_state.mid[ids], cfg.regime.bar_s)


class RegimeSwitch:
    """Regime-conditional risk: turns the regime stage's publications into
    :class:`~riskstream.core.messages.RegimeChanged` messages for the risk engine
    (``risk.regime_conditional``).

    Called as the :class:`~riskstream.regime.RegimeStage`'s ``publish`` at every update; a
    message goes out only when the reported regime (the ensemble's, with hysteresis)
    differs from the one last published and its smoothed probability is at least
    ``regime.switch_probability``. Each regime's conditioning (s, θ) is computed once,
    here, from the model's regime covariances
    (:func:`riskstream.regime.conditioning.model_moments`); with ``regime.stress_only`` a
    calm regime maps to the unconditional scenarios (s = θ = 1). The engine applies the
    message at the top of its next refresh (``engine.send``, or over the bus from the
    regime node); nothing here calls into the engine. Also a pipeline stage (by shape)
    that reports the switches.

    Parameters
    ----------
    publish : callable
        Receives each :class:`RegimeChanged` (e.g. ``engine.send``, or a topic publisher).
    model : fitted regime model (``n_regimes``, regime covariances)
    config : RegimeConfig
    """

    name = "regime-risk"

    def __init__(self, publish: Callable[[Any], object], model: Any, config: Any):
        from riskstream.regime import REGIME_NAMES
        from riskstream.regime.conditioning import model_moments

        self.publish = publish
        self.threshold = config.switch_probability
        self.moments = model_moments(model)
        self.names = [REGIME_NAMES.get(k, str(k)) for k in range(model.n_regimes)]
        self.table = [
            self.moments.conditioning(k, config.stress_only) for k in range(model.n_regimes)
        ]
        self.regime = -1  # regime last published
        self.switches = 0
        self.log: list[tuple[int, str]] = []  # (ts_ns, conditioning switched to)

    def __call__(self, ts_ns: int, regime: int, probabilities: np.ndarray) -> None:
        from riskstream.core.messages import RegimeChanged

        if regime < 0 or regime == self.regime or probabilities[regime] < self.threshold:
            return
        first = self.regime < 0
        self.regime = regime
        s, theta = self.table[regime]
        identity = s == 1.0 and theta == 1.0
        if first and identity:
            return  # the engine starts unconditional: nothing to change
        self.publish(
            RegimeChanged(
                ts_ns=int(ts_ns),
                regime=int(regime),
                name=self.names[regime],
                probabilities=tuple(float(p) for p in probabilities),
                vol_multiplier=float(s),
                market_variance_ratio=float(theta),
            )
        )
        self.switches += 1
        self.log.append((int(ts_ns), "unconditional" if identity else self.names[regime]))

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        pass

    def summary(self) -> dict[str, Any]:
        return {
            "risk_regime_conditional": True,
            "risk_regime_switches": self.switches,
            "risk_regime_table": {
                name: {"vol_multiplier": round(s, 4), "market_variance_ratio": round(t, 4)}
                for name, (s, t) in zip(self.names, self.table, strict=True)
            },
        }

    def view(self) -> list[tuple[str, str]]:
        return [("regime switches of risk", f"{self.switches}, at p >= {self.threshold:.2f}")]

    def close(self) -> None:
        pass
