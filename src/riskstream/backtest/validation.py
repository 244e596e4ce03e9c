"""Validate a model's out-of-sample forecasts: every backtest, loss and monitor in one place.

A :class:`ForecastRun` is what a walk-forward produces for one model: for each day, the
VaR, ES and tail quantiles forecast the day before, and the P&L that followed.
:func:`validate_run` turns it into a :class:`ModelValidation` (the per-model block of
``riskstream backtest var --json``); :func:`compare_runs` ranks the models by loss and
computes their model confidence set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from riskstream.backtest.drift import DriftReport, monitor_model
from riskstream.backtest.es_tests import (
    AcerbiSzekely,
    FRTBExceptions,
    acerbi_szekely,
    frtb_exception_counts,
)
from riskstream.backtest.inputs import check_aligned, check_level, check_series
from riskstream.backtest.losses import (
    ModelConfidenceSet,
    fz0_loss,
    model_confidence_set,
    quantile_loss,
)
from riskstream.backtest.var_tests import VaRBacktest, backtest_hits, exceptions
from riskstream.core.errors import InputError


@dataclass(frozen=True)
class ForecastRun:
    """One model's out-of-sample forecasts and the realised P&L.

    Attributes
    ----------
    model : str
        Model name (``"hs"``, ``"garch-t"``, ...).
    confidence : float
        VaR/ES confidence, e.g. 0.99.
    dates : ndarray of shape (n_days,)
        The day each forecast is *for* (the P&L day).
    pnl : ndarray of shape (n_days,)
        Realised P&L (returns of a unit position; profit positive).
    var, es : ndarray of shape (n_days,)
        One-day VaR and ES forecasts, positive losses, made the day before.
    tail_quantiles : ndarray of shape (n_days, K)
        The forecast distribution's quantiles at :func:`~riskstream.backtest.es_tests.
        tail_levels` (the null of the Acerbi-Székely tests).
    var_99, var_975 : ndarray of shape (n_days,) or None
        VaR forecasts at the FRTB backtesting levels (MAR32.5), when the model made them.
    fit_seconds : float
        Wall time of the walk-forward, for the report.
    """

    model: str
    confidence: float
    dates: np.ndarray
    pnl: np.ndarray
    var: np.ndarray
    es: np.ndarray
    tail_quantiles: np.ndarray
    var_99: np.ndarray | None = None
    var_975: np.ndarray | None = None
    fit_seconds: float = 0.0

    def __post_init__(self) -> None:
        check_level(self.confidence)
        for name in ("pnl", "var", "es"):
            check_series(getattr(self, name), name)
        check_aligned(dates=self.dates, pnl=self.pnl, var=self.var, es=self.es)
        if self.tail_quantiles.shape[0] != self.pnl.size:
            raise InputError(
                "tail_quantiles",
                f"array of shape {self.tail_quantiles.shape}",
                f"one row per day ({self.pnl.size})",
            )

    @property
    def hits(self) -> np.ndarray:
        """Exception indicators :math:`1\\{X_t < -\\mathrm{VaR}_t\\}`, int8 (n_days,)."""
        return exceptions(self.pnl, self.var)

    @property
    def scaled_residuals(self) -> np.ndarray:
        """P&L in units of the model's own scale: :math:`X_t z_c / \\mathrm{VaR}_t`.

        Whatever the model, VaR is its forecast of scale; dividing by VaR (times the normal
        quantile :math:`z_c`, so a normal model gives standard-normal residuals) makes the
        residuals comparable through time, which is what the drift monitors need.
        """
        z = stats.norm.ppf(self.confidence)
        return self.pnl * z / np.maximum(self.var, 1e-12)


@dataclass(frozen=True)
class ModelValidation:
    """All validation results of one model.

    Attributes
    ----------
    backtest : VaRBacktest
        Kupiec, Christoffersen, duration test and traffic light.
    es_test : AcerbiSzekely
        Z1 and Z2 with simulated p-values.
    quantile_loss, fz0_loss : float
        Average losses (lower is better).
    drift : DriftReport
        Monitors on inputs, residuals and exceptions.
    frtb : FRTBExceptions or None
        Exception counts at 99% and 97.5% (when the run has both VaR levels).
    """

    model: str
    backtest: VaRBacktest
    es_test: AcerbiSzekely
    quantile_loss: float
    fz0_loss: float
    drift: DriftReport
    fit_seconds: float
    frtb: FRTBExceptions | None = None

    def as_dict(self) -> dict[str, object]:
        """The per-model block of ``riskstream backtest var --json``."""
        out = self.backtest.as_dict(duration=True)
        out["exception_rate"] = self.backtest.exceptions / max(self.backtest.observations, 1)
        out["acerbi_szekely"] = self.es_test.as_dict()
        out["frtb_exceptions"] = self.frtb.as_dict() if self.frtb else None
        out["losses"] = {"quantile": self.quantile_loss, "fz0": self.fz0_loss}
        out["drift"] = self.drift.as_dict()
        out["seconds"] = self.fit_seconds
        return out


def validate_run(run: ForecastRun, n_simulations: int = 2000, seed: int = 0) -> ModelValidation:
    """Run every backtest, loss and monitor on one model's forecasts."""
    hits = run.hits
    return ModelValidation(
        model=run.model,
        backtest=backtest_hits(hits, run.confidence),
        es_test=acerbi_szekely(
            run.pnl, run.var, run.es, run.confidence, run.tail_quantiles, n_simulations, seed
        ),
        quantile_loss=float(quantile_loss(run.pnl, run.var, run.confidence).mean()),
        fz0_loss=float(fz0_loss(run.pnl, run.var, run.es, run.confidence).mean()),
        drift=monitor_model(run.pnl, run.scaled_residuals, hits, run.confidence, dates=run.dates),
        fit_seconds=run.fit_seconds,
        frtb=(
            frtb_exception_counts(run.pnl, run.var_99, run.var_975)
            if run.var_99 is not None and run.var_975 is not None
            else None
        ),
    )


def compare_runs(
    runs: Sequence[ForecastRun], loss: str = "fz0", reps: int = 500, seed: int = 0
) -> ModelConfidenceSet:
    """Model confidence set (90%) of several models' forecasts over the same days.

    Parameters
    ----------
    runs : sequence of ForecastRun
        At least two, with identical dates.
    loss : {"fz0", "quantile"}, default "fz0"
        The loss the models are ranked by.
    """
    if loss not in ("fz0", "quantile"):
        raise InputError("loss", loss, "one of fz0, quantile")
    first = runs[0]
    for run in runs[1:]:
        if run.dates.shape != first.dates.shape or np.any(run.dates != first.dates):
            raise InputError("dates", run.model, f"the same forecast days as model '{first.model}'")
    losses = {
        run.model: (
            fz0_loss(run.pnl, run.var, run.es, run.confidence)
            if loss == "fz0"
            else quantile_loss(run.pnl, run.var, run.confidence)
        )
        for run in runs
    }
    return model_confidence_set(losses, reps=reps, seed=seed)
