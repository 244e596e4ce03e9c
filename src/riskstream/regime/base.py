"""What every regime detector shares: input checks, the Hamilton forward filter, ordering by
volatility, and the detector protocol.

A detector maps a stream of cross-asset returns to probabilities over ``K`` regimes ordered
by volatility (label 0 is the calmest). Every detector has the same shape:

* ``fit(returns, labels=None)`` learns from a sample and returns ``self``;
* ``reset()`` starts the online state; ``filter(r_t)`` absorbs one row of returns and
  returns the probabilities of the regime *now*, given only rows up to now;
* ``predict_proba(returns)`` runs ``reset`` then ``filter`` over every row (vectorised where
  the model allows), so row ``t`` of its output never depends on rows after ``t``.
"""

from __future__ import annotations

from typing import Protocol, Self

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from riskstream.core.errors import InputError, ModelError

PROB_FLOOR = 1e-12  # keeps log-probabilities finite where a regime is all but ruled out


class RegimeDetector(Protocol):
    """A regime detector (see the module docstring)."""

    name: str
    n_regimes: int

    def fit(self, returns: ArrayLike, labels: ArrayLike | None = None) -> Self: ...

    def reset(self) -> None: ...

    def filter(self, r_t: ArrayLike) -> np.ndarray: ...

    def predict_proba(self, returns: ArrayLike) -> np.ndarray: ...


def check_returns(
    returns: ArrayLike, min_obs: int, field: str = "returns", n_assets: int | None = None
) -> np.ndarray:
    """Validate a returns sample and return it as float64 of shape (n_obs, n_assets).

    Parameters
    ----------
    returns : array_like of shape (n_obs, n_assets) or (n_obs,)
        Returns, oldest first (log returns in decimal, any sampling interval).
    min_obs : int
        Fewest rows accepted.
    field : str
        Name used in error messages.
    n_assets : int, optional
        Required number of columns (the number the model was fitted on).

    Raises
    ------
    InputError
        Too few rows, a NaN or infinite value (named by row and column), the wrong number of
        columns, or a column that never moves (a constant series carries no regime).
    """
    arr = np.asarray(returns, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(field, f"array of shape {arr.shape}", "a 2-D array (n_obs, n_assets)")
    if arr.shape[0] < min_obs:
        raise InputError(f"{field} rows", arr.shape[0], f"at least {min_obs} observations")
    if n_assets is not None and arr.shape[1] != n_assets:
        raise InputError(f"{field} columns", arr.shape[1], f"{n_assets} assets (as fitted)")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{field}[{row}, {col}]", float(arr[row, col]), "a finite return")
    flat = np.ptp(arr, axis=0) == 0.0
    if flat.any():
        col = int(np.flatnonzero(flat)[0])
        raise InputError(f"{field}[:, {col}]", f"constant {arr[0, col]!r}", "a series that varies")
    return arr


def check_row(r_t: ArrayLike, n_assets: int) -> np.ndarray:
    """Validate one online row of returns, shape (n_assets,)."""
    row = np.asarray(r_t, dtype=np.float64).reshape(-1)
    if row.shape != (n_assets,):
        raise InputError("r_t", f"array of shape {row.shape}", f"shape ({n_assets},)")
    if not np.isfinite(row).all():
        i = int(np.flatnonzero(~np.isfinite(row))[0])
        raise InputError(f"r_t[{i}]", float(row[i]), "a finite return")
    return row


def check_labels(labels: ArrayLike, n_obs: int, n_regimes: int) -> np.ndarray:
    """Validate regime labels: integers in [0, n_regimes), one per row."""
    lab = np.asarray(labels)
    if lab.shape != (n_obs,):
        raise InputError("labels", f"array of shape {lab.shape}", f"shape ({n_obs},)")
    if not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0 or lab.max() >= n_regimes:
        raise InputError(
            "labels", f"values in [{lab.min()}, {lab.max()}]", f"integers in [0, {n_regimes})"
        )
    return lab.astype(np.int64)


def single_threaded() -> threadpool_limits:
    """Context limiting BLAS/OpenMP to one thread: the detectors' matrices are tiny, and
    on a shared machine thread start-up and contention cost more than they save (an HMM
    fit runs ~10x faster single-threaded on 2 busy cores)."""
    return threadpool_limits(limits=1)


def require_fitted(model: object, attr: str) -> None:
    """Raise :class:`ModelError` when ``model`` has not been fitted."""
    if not hasattr(model, attr):
        raise ModelError(f"{type(model).__name__} is not fitted; call fit() first")


def align_states(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Permutation of a detector's states that best matches known labels.

    ``order[new] = old``: the state relabelled ``new`` is the old state that agrees most with
    label ``new`` (exhaustive over the K! permutations; K ≤ 6). Used when an unsupervised
    detector is fitted on a sample whose regimes are known, so its labels mean the same.
    """
    from itertools import permutations

    k = probs.shape[1]
    hits = np.zeros((k, k))  # hits[old, label]
    np.add.at(hits, (probs.argmax(axis=1), labels), 1.0)
    best = max(permutations(range(k)), key=lambda perm: sum(hits[perm[j], j] for j in range(k)))
    return np.array(best)


def volatility_order(variances: ArrayLike) -> np.ndarray:
    """Permutation sorting states by ascending variance: ``order[new] = old``."""
    return np.argsort(np.asarray(variances, dtype=np.float64), kind="stable")


@njit(cache=True)
def hamilton_filter(log_emission, transition, predicted):  # pragma: no cover - numba
    """Hamilton (1989) forward filter of a K-state Markov chain, in probability space.

    .. math::
        \\xi_{t|t} = \\frac{\\xi_{t|t-1} \\odot f_t}{\\mathbf 1^\\top(\\xi_{t|t-1}\\odot f_t)},
        \\qquad \\xi_{t+1|t} = P^\\top \\xi_{t|t},

    with :math:`f_{t,k}` the density of observation :math:`t` in state :math:`k` and
    :math:`P_{ij} = \\Pr(s_t = j \\mid s_{t-1} = i)`. The log-likelihood is the sum of the log
    normalisers. ``predicted`` is :math:`\\xi_{1|0}` (the law of the first row's state).

    Returns filtered probabilities (n_obs, K), the prediction for the next row (K,) and the
    log-likelihood.
    """
    n_obs, k = log_emission.shape
    out = np.empty((n_obs, k))
    pred = predicted.copy()
    xi = np.empty(k)
    loglik = 0.0
    for t in range(n_obs):
        shift = log_emission[t].max()
        total = 0.0
        for j in range(k):
            xi[j] = pred[j] * np.exp(log_emission[t, j] - shift)
            total += xi[j]
        if total <= 0.0 or not np.isfinite(total):  # every state impossible: restart flat
            xi[:] = 1.0 / k
            total = 1.0
        else:
            xi /= total
        loglik += np.log(total) + shift
        out[t] = xi
        pred = transition.T @ xi
    return out, pred, loglik


def student_t_log_density(
    x: np.ndarray, means: np.ndarray, chol_inv: np.ndarray, logdet: np.ndarray, df: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""Log density of each row under each of K multivariate Student-t laws, and the
    squared Mahalanobis distances :math:`\delta_{t,k}` (both shape (n_obs, K)).

    .. math::
        \log f_k(x) = \log\Gamma\!\left(\tfrac{\nu+p}{2}\right)
        - \log\Gamma\!\left(\tfrac{\nu}{2}\right) - \tfrac p2\log(\nu\pi)
        - \tfrac12\log|S_k| - \tfrac{\nu+p}{2}\log\!\left(1+\tfrac{\delta_k}{\nu}\right),
        \qquad \delta_k = (x-\mu_k)^\top S_k^{-1}(x-\mu_k)

    (McNeil, Frey & Embrechts 2015, *Quantitative Risk Management*, §6.2.3), with
    :math:`S_k` the scale matrix — the covariance is :math:`\nu/(\nu-2)\,S_k`.

    Parameters
    ----------
    x : ndarray of shape (n_obs, p)
    means : ndarray of shape (K, p)
    chol_inv : ndarray of shape (K, p, p)
        Inverse of the Cholesky factor of each :math:`S_k`.
    logdet : ndarray of shape (K,)
        :math:`\log|S_k|`.
    df : float
        :math:`\nu > 0`.
    """
    from scipy.special import gammaln

    p = x.shape[1]
    dev = x[:, None, :] - means[None, :, :]
    white = np.einsum("kij,nkj->nki", chol_inv, dev)
    delta = (white**2).sum(axis=2)
    const = gammaln((df + p) / 2) - gammaln(df / 2) - 0.5 * p * np.log(df * np.pi)
    return const - 0.5 * logdet[None, :] - 0.5 * (df + p) * np.log1p(delta / df), delta


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    """Stationary law :math:`\\pi = P^\\top \\pi` of an ergodic transition matrix."""
    k = transition.shape[0]
    a = np.vstack([transition.T - np.eye(k), np.ones(k)])
    b = np.zeros(k + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def standardise(returns: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Returns divided by each asset's training standard deviation (unit-free inputs)."""
    return returns / scale
