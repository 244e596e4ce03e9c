"""Settings of the regime detectors, their ensemble and the real-time regime stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from riskstream.core.config import ConfigModel


class RegimeConfig(ConfigModel):
    """Regime detection: how many regimes, how the stream is sampled, how probabilities are
    smoothed. Regimes are ordered by volatility: 0 is the calmest (0 calm, 1 volatile,
    2 crisis with three)."""

    n_regimes: Annotated[int, Field(ge=2, le=6)] = 3
    seed: Annotated[int, Field(ge=0)] = 7
    bar_s: Annotated[float, Field(gt=0, le=3600)] = 0.25  # sampling interval of the stream (s)
    instruments: Annotated[int, Field(ge=1, le=256)] = 8  # instruments the stage tracks
    # Kalman (local-level) smoothing of the ensemble's probabilities: process and noise
    # variances; their ratio q/r sets the steady-state gain (larger: faster, more flicker).
    # None: the ratio is estimated by maximum likelihood on the stacker's rows at fit time
    # (Harvey 1989, §3.4), and smoothing_r is unused.
    smoothing_q: Annotated[float, Field(gt=0)] | None = None
    smoothing_r: Annotated[float, Field(gt=0)] = 0.1
    hysteresis: Annotated[float, Field(ge=0, lt=1)] = 0.1  # margin a new regime must win by
    lstm_window: Annotated[int, Field(ge=4, le=512)] = 32
    lstm_hidden: Annotated[int, Field(ge=2, le=256)] = 16
    lstm_epochs: Annotated[int, Field(ge=1, le=500)] = 6
    # Regime-conditional risk (risk.regime_conditional): the engine switches to a regime's
    # volatility and correlation when the reported regime changes and its smoothed
    # probability is at least switch_probability; stress_only floors the conditioning at
    # the unconditional law (a calm regime never lowers risk below it).
    switch_probability: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6
    stress_only: bool = True
    # model the demo's regime stage runs (from `riskstream regime fit-sim`); None: the
    # default file <store.data_dir>/regime.model when it exists, else no regime stage
    model_path: Path | None = None
