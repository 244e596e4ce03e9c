"""``riskstream regime fit`` and ``riskstream regime detect``: regime models from files.

Input: a Parquet file with a timestamp column ``ts`` and one column of returns per asset
(log returns, one row per sampling interval, oldest first). ``fit`` writes a versioned model
file; ``detect`` writes ``ts``, ``regime`` and ``p_0 .. p_{K-1}`` per row, each row filtered
from the rows up to it only (never smoothed over the future).
"""

from __future__ import annotations

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
    ensemble = RegimeEnsemble(cfg, chosen).fit(returns, lab)
    save_model(model, ensemble, names)
    print_json(
        {
            "model": str(model),
            "rows": len(returns),
            "assets": len(names),
            "regimes": regimes,
            "detectors": ensemble.names,
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


def simulator_bars(simulator: Any, ids: np.ndarray, bar_s: float, minutes: float):
    """(log returns (n_bars, n_ids), true regime per bar) of the simulator's fair mids."""
    n = int(minutes * 60 / bar_s)
    px = np.empty((n + 1, len(ids)))
    regimes = np.empty(n, dtype=np.int64)
    px[0] = simulator.fair_mid[ids]
    for i in range(n):
        for _ in simulator.batches(bar_s):
            pass
        px[i + 1] = simulator.fair_mid[ids]
        regimes[i] = simulator.regime
    return np.diff(np.log(px), axis=0), regimes


def default_model_path(cfg: Settings) -> Path:
    """Where the demo looks for its regime model: ``regime.model_path`` or
    ``<store.data_dir>/regime.model``."""
    return cfg.regime.model_path or cfg.store.data_dir / "regime.model"


@regime_app.command("fit-sim")
def fit_sim_cmd(
    ctx: typer.Context,
    minutes: float = typer.Option(60.0, "--minutes", min=1.0, help="Simulated minutes."),
    model: Path | None = typer.Option(None, "--model", help="Model file (default: the demo's)."),
) -> None:
    """Fit the ensemble on the market simulator's true regimes (the demo's model)."""
    from riskstream.cli.universe import ensure_universe
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.regime import RegimeEnsemble, save_model

    cfg = settings(ctx)
    universe = ensure_universe(cfg)
    ids = tracked_instruments(universe, cfg.regime.instruments)
    sim = MarketSimulator(universe, cfg.simulator)
    returns, labels = simulator_bars(sim, ids, cfg.regime.bar_s, minutes)
    ensemble = RegimeEnsemble(cfg.regime).fit(returns, labels)
    symbols = universe.instruments["symbol"].to_numpy()[ids].tolist()
    path = save_model(model or default_model_path(cfg), ensemble, symbols)
    print_json({"model": str(path), "rows": len(returns), "assets": symbols,
                "regime_share": np.bincount(labels, minlength=3).tolist()})  # fmt: skip


def demo_regime_stage(cfg: Settings, universe: Any, simulator: Any) -> Any | None:
    """The demo's RegimeStage when a model file exists (else None): prices are the
    simulator's fair mids of the model's instruments (matched by symbol)."""
    from riskstream.regime import RegimeStage, load_model

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
    return RegimeStage(model, lambda: np.asarray(simulator.fair_mid[ids]), cfg.regime.bar_s)
