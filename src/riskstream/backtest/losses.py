"""Loss functions that rank VaR/ES forecasts, and the model confidence set.

Backtests answer "is this model acceptable?"; losses answer "which model is better?". A
*strictly consistent* scoring function is minimised in expectation by the true risk
measure, so the model with the lowest average loss forecasts best:

- the **quantile (tick) loss** is strictly consistent for VaR (Gneiting 2011). With P&L
  :math:`X_t`, tail probability :math:`\\alpha` and the quantile :math:`q_t = -\\mathrm{VaR}_t`:

  .. math:: L^Q_t = (\\alpha - 1\\{X_t < q_t\\}) (X_t - q_t)

- ES alone is not elicitable, but (VaR, ES) jointly are (Fissler & Ziegel 2016). The
  **FZ0 loss** of Patton, Ziegel & Chen (2019), the member of the Fissler-Ziegel family
  that is zero-homogeneous and therefore comparable across volatility regimes, with
  :math:`v_t = -\\mathrm{VaR}_t < 0` and :math:`e_t = -\\mathrm{ES}_t \\le v_t`:

  .. math:: L^{FZ0}_t = -\\frac{1}{\\alpha e_t} 1\\{X_t \\le v_t\\} (v_t - X_t)
                       + \\frac{v_t}{e_t} + \\ln(-e_t) - 1

The **model confidence set** (Hansen, Lunde & Nason 2011) is the set of models that cannot
be statistically distinguished from the best at a given confidence, found by repeated
equal-predictive-ability tests on a block bootstrap of the loss differences. It uses
``arch.bootstrap.MCS`` (Sheppard's implementation) rather than a hand-written copy.

References
----------
Gneiting, T. (2011). Making and evaluating point forecasts. *JASA* 106, 746-762.
Fissler, T. and Ziegel, J. (2016). Higher order elicitability and Osband's principle.
*Annals of Statistics* 44(4), 1680-1707.
Patton, A., Ziegel, J. and Chen, R. (2019). Dynamic semiparametric models for expected
shortfall (and value-at-risk). *Journal of Econometrics* 211(2), 388-413.
Hansen, P., Lunde, A. and Nason, J. (2011). The model confidence set. *Econometrica* 79(2),
453-497.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from riskstream.backtest.inputs import check_aligned, check_level, check_series
from riskstream.core.errors import InputError


def quantile_loss(pnl: ArrayLike, var: ArrayLike, confidence: float) -> np.ndarray:
    """Tick loss of VaR forecasts, shape (n_obs,).

    Parameters
    ----------
    pnl : array_like of shape (n_obs,)
        Realised P&L (profit positive).
    var : array_like of shape (n_obs,)
        VaR forecasts as positive losses.
    confidence : float
        VaR confidence :math:`c`; :math:`\\alpha = 1 - c`.
    """
    x = check_series(pnl, "pnl")
    q = -check_series(var, "var")
    check_aligned(pnl=x, var=q)
    alpha = 1.0 - check_level(confidence)
    return (alpha - (x < q)) * (x - q)


def fz0_loss(pnl: ArrayLike, var: ArrayLike, es: ArrayLike, confidence: float) -> np.ndarray:
    """FZ0 joint VaR-ES loss of Patton, Ziegel & Chen (2019), shape (n_obs,).

    Parameters
    ----------
    pnl : array_like of shape (n_obs,)
        Realised P&L (profit positive).
    var, es : array_like of shape (n_obs,)
        VaR and ES forecasts as positive losses; ES must be positive (the loss uses
        :math:`\\ln \\mathrm{ES}`).
    confidence : float
        Confidence :math:`c`; :math:`\\alpha = 1 - c`.
    """
    x = check_series(pnl, "pnl")
    v = -check_series(var, "var")
    e = -check_series(es, "es")
    check_aligned(pnl=x, var=v, es=e)
    alpha = 1.0 - check_level(confidence)
    if np.any(e >= 0):
        row = int(np.flatnonzero(e >= 0)[0])
        raise InputError("es", float(-e[row]), "a positive loss amount", f"row {row}")
    return -((x <= v) * (v - x)) / (alpha * e) + v / e + np.log(-e) - 1.0


@dataclass(frozen=True)
class ModelConfidenceSet:
    """Result of the model confidence set procedure.

    Attributes
    ----------
    included : list of str
        Models in the set (cannot be rejected as worse than the best).
    excluded : list of str
        Models eliminated, in elimination order.
    p_values : dict of str to float
        MCS p-value of each model; a model is in the set when its p-value exceeds
        ``1 - confidence``.
    mean_loss : dict of str to float
        Average loss of each model (lower is better).
    """

    included: list[str]
    excluded: list[str]
    p_values: dict[str, float]
    mean_loss: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "included": self.included,
            "excluded": self.excluded,
            "p_values": self.p_values,
            "mean_loss": self.mean_loss,
        }


def model_confidence_set(
    losses: Mapping[str, ArrayLike],
    confidence: float = 0.90,
    block_size: int = 10,
    reps: int = 1000,
    seed: int = 0,
) -> ModelConfidenceSet:
    """Hansen-Lunde-Nason model confidence set over per-day losses of competing models.

    Parameters
    ----------
    losses : mapping of model name to array_like of shape (n_obs,)
        Aligned daily losses of each model (e.g. :func:`quantile_loss`).
    confidence : float, default 0.90
        Confidence of the set (``size = 1 - confidence`` in ``arch``).
    block_size : int, default 10
        Mean block length of the stationary bootstrap (losses are serially dependent).
    reps : int, default 1000
        Bootstrap replications.
    seed : int, default 0
    """
    from arch.bootstrap import MCS

    if len(losses) < 2:
        raise InputError("losses", list(losses), "losses of at least two models to compare")
    names = list(losses)
    columns = [check_series(losses[name], f"losses[{name}]") for name in names]
    check_aligned(**dict(zip(names, columns, strict=True)))
    matrix = np.column_stack(columns)
    level = check_level(confidence)
    mcs = MCS(
        matrix,
        size=1.0 - level,
        reps=reps,
        block_size=block_size,
        method="R",
        bootstrap="stationary",
        seed=seed,
    )
    mcs.compute()
    pvalues = mcs.pvalues.iloc[:, 0]
    return ModelConfidenceSet(
        included=[names[int(i)] for i in mcs.included],
        excluded=[names[int(i)] for i in mcs.excluded],
        p_values={names[int(i)]: float(p) for i, p in pvalues.items()},
        mean_loss={name: float(col.mean()) for name, col in zip(names, columns, strict=True)},
    )
