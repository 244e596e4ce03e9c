"""Gaussian hidden Markov model of cross-asset returns, fitted by EM, filtered online.

The market is in one of :math:`K` hidden states :math:`s_t` following a Markov chain with
transition matrix :math:`P`; given the state, the vector of returns is Gaussian,
:math:`r_t \\mid s_t = k \\sim N(\\mu_k, \\Sigma_k)` (Hamilton 1989; Rabiner 1989, *A tutorial on
hidden Markov models*, Proc. IEEE 77(2)). Parameters are estimated by Baum–Welch EM with
``hmmlearn`` (the well-kept library); the online forward filter is
:func:`riskstream.regime.base.hamilton_filter`, so each update costs :math:`O(K^2 + K N^2)`.
States are relabelled by the trace of :math:`\\Sigma_k` (label 0 the calmest).
"""

from __future__ import annotations

from typing import Self

import numpy as np
from hmmlearn.hmm import GaussianHMM
from numpy.typing import ArrayLike

from riskstream.core.errors import ModelError
from riskstream.core.warnings import ConvergenceWarning
from riskstream.models.base import Estimator
from riskstream.regime.base import (
    align_states,
    check_labels,
    check_returns,
    check_row,
    hamilton_filter,
    require_fitted,
    single_threaded,
    volatility_order,
)

MIN_OBS_PER_PARAM = 5


def _em_converged(monitor: object) -> bool:
    """Whether EM met its tolerance: the last log-likelihood gain below ``tol``.

    hmmlearn's own ``ConvergenceMonitor.converged`` also answers True when the iteration
    cap is reached, which is exactly the case to flag.
    """
    history = list(monitor.history)
    return len(history) >= 2 and history[-1] - history[-2] < monitor.tol


class HMMDetector(Estimator):
    """Gaussian HMM regime detector (full covariance per state).

    Parameters
    ----------
    n_regimes : int, default 3
        Number of hidden states :math:`K`.
    n_init : int, default 2
        EM restarts from different seeds; the best likelihood wins (EM finds local optima).
    n_iter : int, default 100
        Maximum EM iterations per restart.
    seed : int, default 7
        Seed of the restarts.

    Attributes
    ----------
    scale_ : ndarray of shape (n_assets,)
        Training standard deviation of each asset; inputs are divided by it.
    means_ : ndarray of shape (K, n_assets)
        State means of the standardised returns, ordered by volatility.
    covars_ : ndarray of shape (K, n_assets, n_assets)
        State covariances of the standardised returns.
    transmat_ : ndarray of shape (K, K)
        :math:`P_{ij} = \\Pr(s_t=j \\mid s_{t-1}=i)`.
    startprob_ : ndarray of shape (K,)
        Law of the first state.
    loglik_ : float
        Log-likelihood of the training sample (standardised units).
    converged_ : bool
        Whether EM met its tolerance on the restart kept (the log-likelihood gain of its
        last iteration below ``tol``; reaching ``n_iter`` first is not convergence).
    warnings_ : list of str
        Convergence warnings of the fit.
    """

    name = "hmm"

    def __init__(self, n_regimes: int = 3, n_init: int = 2, n_iter: int = 100, seed: int = 7):
        self.n_regimes = n_regimes
        self.n_init = n_init
        self.n_iter = n_iter
        self.seed = seed

    def fit(self, returns: ArrayLike, labels: ArrayLike | None = None) -> Self:
        """Fit on ``returns`` (n_obs, n_assets).

        Without ``labels``: Baum-Welch EM, states ordered by volatility. With ``labels``
        (n_obs,) and every regime present at least ``MIN_OBS_PER_PARAM`` × (n_assets + 1)
        times: the complete-data maximum likelihood, in closed form (state frequencies,
        transition counts, per-state means and covariances — Rabiner 1989, §III.C with the
        posteriors replaced by the known states). Otherwise EM, with the states relabelled to
        agree best with the labels (:func:`~riskstream.regime.base.align_states`).

        Raises
        ------
        InputError
            Too few rows for the number of parameters, NaN/inf, constant columns.
        ModelError
            EM produced a degenerate fit on every restart.
        """
        with single_threaded():
            self._start_warnings()
            self.converged_ = True
            k = self.n_regimes
            n_assets = np.asarray(returns).reshape(len(returns), -1).shape[1]
            n_params = k * (k - 1) + k * (n_assets + n_assets * (n_assets + 1) // 2)
            r = check_returns(returns, min_obs=max(50, MIN_OBS_PER_PARAM * n_params))
            self.scale_ = r.std(axis=0)
            z = r / self.scale_
            lab = None if labels is None else check_labels(labels, len(r), k)
            if lab is not None and np.bincount(lab, minlength=k).min() >= MIN_OBS_PER_PARAM * (
                n_assets + 1
            ):
                return self._fit_supervised(z, lab)
            best: GaussianHMM | None = None
            best_score = -np.inf
            for i in range(self.n_init):
                model = GaussianHMM(
                    n_components=k,
                    covariance_type="full",
                    n_iter=self.n_iter,
                    tol=1e-4,
                    random_state=self.seed + i,
                    min_covar=1e-4,
                )
                model.fit(z)
                score = model.score(z)
                if np.isfinite(score) and score > best_score:
                    best, best_score = model, score
            if best is None:
                raise ModelError("Gaussian HMM: EM failed to converge on every restart")
            self.converged_ = _em_converged(best.monitor_)
            if not self.converged_:
                self._warn(
                    ConvergenceWarning,
                    f"EM stopped after {best.monitor_.iter} iterations without meeting its "
                    f"tolerance {best.monitor_.tol} (n_iter={self.n_iter}); the best "
                    "restart is kept",
                )
            order = volatility_order(np.trace(best.covars_, axis1=1, axis2=2))
            if lab is not None:
                order = align_states(best.predict_proba(z), lab)
            self.means_ = best.means_[order]
            self.covars_ = best.covars_[order]
            self.transmat_ = best.transmat_[np.ix_(order, order)]
            self.startprob_ = best.startprob_[order]
            self.loglik_ = float(best_score)
            self._prepare()
            self.reset()
            return self

    def _fit_supervised(self, z: np.ndarray, lab: np.ndarray) -> Self:
        k = self.n_regimes
        counts = np.ones((k, k))  # add-one (Laplace) smoothing: no transition impossible
        np.add.at(counts, (lab[:-1], lab[1:]), 1.0)
        self.transmat_ = counts / counts.sum(axis=1, keepdims=True)
        self.startprob_ = np.bincount(lab, minlength=k) / len(lab)
        self.means_ = np.array([z[lab == j].mean(axis=0) for j in range(k)])
        n = z.shape[1]
        self.covars_ = np.array(
            [np.cov(z[lab == j], rowvar=False).reshape(n, n) + 1e-4 * np.eye(n) for j in range(k)]
        )
        self._prepare()
        self.reset()
        self.loglik_ = self.score(z * self.scale_)
        return self

    def _prepare(self) -> None:
        chol = np.linalg.cholesky(self.covars_)
        self._chol_inv = np.linalg.inv(chol)
        n = self.means_.shape[1]
        logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        self._log_norm = -0.5 * (n * np.log(2 * np.pi) + logdet)

    def log_emission(self, z: np.ndarray) -> np.ndarray:
        """Log density of each standardised row under each state, shape (n_obs, K)."""
        dev = z[:, None, :] - self.means_[None, :, :]  # (n, K, N)
        white = np.einsum("kij,nkj->nki", self._chol_inv, dev)
        return self._log_norm[None, :] - 0.5 * (white**2).sum(axis=2)

    def reset(self) -> None:
        """Start the online filter at the law of the first state."""
        require_fitted(self, "transmat_")
        self._pred = self.startprob_.copy()

    def filter(self, r_t: ArrayLike) -> np.ndarray:
        """Absorb one row of returns (n_assets,); filtered probabilities now, shape (K,)."""
        row = check_row(r_t, len(self.scale_)) / self.scale_
        probs, self._pred, _ = hamilton_filter(
            self.log_emission(row[None, :]), self.transmat_, self._pred
        )
        return probs[0]

    def predict_proba(self, returns: ArrayLike) -> np.ndarray:
        """Filtered probabilities of every row (n_obs, K), from the law of the first state."""
        require_fitted(self, "transmat_")
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        probs, _, _ = hamilton_filter(
            self.log_emission(r / self.scale_), self.transmat_, self.startprob_.copy()
        )
        return probs

    def score(self, returns: ArrayLike) -> float:
        """Log-likelihood of ``returns`` (standardised units) by the forward filter."""
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        _, _, loglik = hamilton_filter(
            self.log_emission(r / self.scale_), self.transmat_, self.startprob_.copy()
        )
        return float(loglik)

    def smoothed_states(self, returns: ArrayLike) -> np.ndarray:
        """Most likely state path (Viterbi) of a whole sample — uses the future; for
        training labels and offline analysis only, never for detection."""
        require_fitted(self, "transmat_")
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        log_e = self.log_emission(r / self.scale_)
        log_p = np.log(np.maximum(self.transmat_, 1e-300))
        delta = np.log(np.maximum(self.startprob_, 1e-300)) + log_e[0]
        back = np.empty(log_e.shape, dtype=np.int64)
        for t in range(1, len(log_e)):
            cand = delta[:, None] + log_p
            back[t] = cand.argmax(axis=0)
            delta = cand.max(axis=0) + log_e[t]
        path = np.empty(len(log_e), dtype=np.int64)
        path[-1] = int(delta.argmax())
        for t in range(len(log_e) - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path
