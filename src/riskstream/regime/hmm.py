"""Gaussian hidden Markov model of cross-asset returns, fitted by EM, filtered online.

The market is in one of :math:`K` hidden states :math:`s_t` following a Markov chain with
transition matrix :math:`P`; given the state, the vector of returns is Gaussian,
:math:`r_t \\mid s_t = k \\sim N(\\mu_k, \\Sigma_k)` (Hamilton 1989; Rabiner 1989, *A tutorial on
hidden Markov models*, Proc. IEEE 77(2)). Parameters are estimated by Baum–Welch EM: with
the state means fixed at zero (the default, :math:`\\mu_k = 0`) by the zero-mean EM here on
the numba :func:`forward_backward`; with free means by ``hmmlearn`` (the well-kept library,
whose M-step fails when its means are held fixed). The online forward filter is
:func:`riskstream.regime.base.hamilton_filter`, so each update costs :math:`O(K^2 + K N^2)`.
States are relabelled by the trace of :math:`\\Sigma_k` (label 0 the calmest).
"""

from __future__ import annotations

from typing import Self

import numpy as np
from hmmlearn.hmm import GaussianHMM
from numba import njit
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
    student_t_log_density,
    volatility_order,
)

MIN_OBS_PER_PARAM = 5


def _labels_suffice(lab: np.ndarray | None, n_regimes: int, n_assets: int) -> bool:
    """Whether the labels allow the closed-form (complete-data) fit: every regime labelled at
    least ``MIN_OBS_PER_PARAM`` × (n_assets + 1) times, enough rows for its mean and
    covariance."""
    return lab is not None and np.bincount(lab, minlength=n_regimes).min() >= (
        MIN_OBS_PER_PARAM * (n_assets + 1)
    )


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
    zero_mean : bool, default True
        Fix every state's mean return at zero, so states differ by covariance only. Regimes
        here are states of volatility and correlation, and at bar or daily horizons a
        state's mean return is not estimable apart from noise (Merton 1980, "On estimating
        the expected return on the market", *J. Financial Economics* 8): with free means,
        EM on daily S&P 500 returns splits a calm period into two states of equal variance
        and opposite drift.

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

    def __init__(
        self,
        n_regimes: int = 3,
        n_init: int = 2,
        n_iter: int = 100,
        seed: int = 7,
        zero_mean: bool = True,
    ):
        self.n_regimes = n_regimes
        self.n_init = n_init
        self.n_iter = n_iter
        self.seed = seed
        self.zero_mean = zero_mean

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
            if _labels_suffice(lab, k, n_assets):
                return self._fit_supervised(z, lab)
            if self.zero_mean:
                return self._fit_zero_mean_em(z, lab)
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

    def _fit_zero_mean_em(self, z: np.ndarray, lab: np.ndarray | None) -> Self:
        """Baum-Welch with the state means fixed at zero (Rabiner 1989, §III.C, with the mean
        update dropped: each covariance is the posterior-weighted second moment about zero).
        Restarts scale the sample covariance by spread multipliers (jittered by seed), so the
        states start apart; the best likelihood wins."""
        k, n = self.n_regimes, z.shape[1]
        base = np.cov(z, rowvar=False).reshape(n, n)
        rng = np.random.default_rng(self.seed)
        best = None
        for i in range(self.n_init):
            mult = np.geomspace(0.4, 2.5, k) * (np.exp(rng.normal(0, 0.2, k)) if i else 1.0)
            self.means_ = np.zeros((k, n))
            self.covars_ = mult[:, None, None] * base[None] + 1e-4 * np.eye(n)
            self.transmat_ = np.full((k, k), 0.05 / max(k - 1, 1)) + np.eye(k) * (
                0.95 - 0.05 / max(k - 1, 1)
            )
            self.startprob_ = np.full(k, 1.0 / k)
            history: list[float] = []
            for _ in range(self.n_iter):
                self._prepare()
                gamma, xi_sum, loglik = forward_backward(
                    self.log_emission(z), self.transmat_, self.startprob_
                )
                history.append(float(loglik))
                if len(history) >= 2 and history[-1] - history[-2] < 1e-4:
                    break
                self.transmat_ = (xi_sum + 1e-10) / (xi_sum + 1e-10).sum(axis=1, keepdims=True)
                self.startprob_ = gamma[0]
                weight = gamma.sum(axis=0)
                self.covars_ = np.einsum("tk,ti,tj->kij", gamma, z, z) / weight[
                    :, None, None
                ] + 1e-4 * np.eye(n)
            if best is None or history[-1] > best[0]:
                best = (history[-1], self.covars_, self.transmat_, self.startprob_, history)
        score, covars, transmat, startprob, history = best
        self.converged_ = len(history) >= 2 and history[-1] - history[-2] < 1e-4
        if not self.converged_:
            self._warn(
                ConvergenceWarning,
                f"zero-mean EM stopped after {self.n_iter} iterations without meeting its "
                "tolerance 0.0001; the best restart is kept",
            )
        self.covars_, self.transmat_, self.startprob_ = covars, transmat, startprob
        self._prepare()
        order = volatility_order(np.trace(self.covars_, axis1=1, axis2=2))
        if lab is not None:
            order = align_states(self.predict_proba(z * self.scale_), lab)
        self.means_ = np.zeros((k, n))
        self.covars_ = self.covars_[order]
        self.transmat_ = self.transmat_[np.ix_(order, order)]
        self.startprob_ = self.startprob_[order]
        self.loglik_ = float(score)
        self._prepare()
        self.reset()
        return self

    def _fit_supervised(self, z: np.ndarray, lab: np.ndarray) -> Self:
        k = self.n_regimes
        counts = np.ones((k, k))  # add-one (Laplace) smoothing: no transition impossible
        np.add.at(counts, (lab[:-1], lab[1:]), 1.0)
        self.transmat_ = counts / counts.sum(axis=1, keepdims=True)
        self.startprob_ = np.bincount(lab, minlength=k) / len(lab)
        n = z.shape[1]
        if self.zero_mean:  # second moments about zero
            self.means_ = np.zeros((k, n))
            self.covars_ = np.array(
                [z[lab == j].T @ z[lab == j] / (lab == j).sum() for j in range(k)]
            ) + 1e-4 * np.eye(n)
        else:
            self.means_ = np.array([z[lab == j].mean(axis=0) for j in range(k)])
            self.covars_ = np.array(
                [np.cov(z[lab == j], rowvar=False).reshape(n, n) for j in range(k)]
            ) + 1e-4 * np.eye(n)
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


DF_BOUNDS = (2.1, 200.0)  # degrees of freedom searched: finite variance .. all but Gaussian


@njit(cache=True)
def forward_backward(log_emission, transition, startprob):  # pragma: no cover - numba
    """Scaled forward-backward pass (Rabiner 1989, §V.A): smoothed state probabilities
    :math:`\\gamma_{t,k}` (n_obs, K), expected transition counts :math:`\\sum_t \\xi_{t,ij}`
    (K, K) and the log-likelihood — the E-step of Baum-Welch. Offline (uses the future):
    for fitting only."""
    n_obs, k = log_emission.shape
    shift = np.empty(n_obs)
    dens = np.empty((n_obs, k))
    for t in range(n_obs):
        shift[t] = log_emission[t].max()
        for j in range(k):
            dens[t, j] = np.exp(log_emission[t, j] - shift[t])
    alpha = np.empty((n_obs, k))
    scale = np.empty(n_obs)
    pred = startprob.copy()
    for t in range(n_obs):
        total = 0.0
        for j in range(k):
            alpha[t, j] = pred[j] * dens[t, j]
            total += alpha[t, j]
        total = max(total, 1e-300)
        scale[t] = total
        alpha[t] /= total
        pred = transition.T @ alpha[t]
    beta = np.ones((n_obs, k))
    xi_sum = np.zeros((k, k))
    for t in range(n_obs - 2, -1, -1):
        nxt = dens[t + 1] * beta[t + 1]
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += transition[i, j] * nxt[j]
                xi_sum[i, j] += alpha[t, i] * transition[i, j] * nxt[j] / scale[t + 1]
            beta[t, i] = acc / scale[t + 1]
    gamma = alpha * beta
    for t in range(n_obs):
        gamma[t] /= gamma[t].sum()
    loglik = (np.log(scale) + shift).sum()
    return gamma, xi_sum, loglik


class StudentTHMMDetector(HMMDetector):
    """Hidden Markov model with multivariate Student-t emissions (full scale matrix per
    state, one shared degrees of freedom :math:`\\nu`).

    Returns are fat-tailed even within a regime (Cont 2001, "Empirical properties of asset
    returns: stylized facts and statistical issues", *Quantitative Finance* 1): under a
    Gaussian emission one market-wide outlier row is overwhelming evidence of the most
    volatile state, so the filter jumps there and back. Under a t emission the evidence of a
    row grows only logarithmically with its Mahalanobis distance, so the *shape* of the row
    (how correlated the moves are) weighs as much as its size. With :math:`u` the latent
    precision of a row, the t is a Gaussian scale mixture, and EM for it is weighted
    Gaussian EM with weights :math:`u_{t,k} = (\\nu + p)/(\\nu + \\delta_{t,k})` (Peel &
    McLachlan 2000, "Robust mixture modelling using the t distribution", *Statistics and
    Computing* 10; the HMM form: Bulla 2011, "Hidden Markov models with t components",
    *Computational Statistics & Data Analysis* 55). :math:`\\nu` is updated by maximising the
    observed likelihood over ``DF_BOUNDS`` (ECME: Liu & Rubin 1995, *Statistica Sinica* 5).

    Parameters
    ----------
    n_regimes, n_init, n_iter, seed, zero_mean
        As :class:`HMMDetector` (``n_init``/``n_iter`` drive the Gaussian EM that starts the
        t EM when no labels are given).
    df : float, optional
        Fix :math:`\\nu`; default None: estimated.
    t_iter : int, default 30
        EM iterations of the t fit.

    Attributes
    ----------
    As :class:`HMMDetector`, with ``covars_`` the *scale* matrices :math:`S_k` (the
    covariance of state k is :math:`\\nu/(\\nu-2)\\,S_k`), and ``df_`` the fitted
    :math:`\\nu`.
    """

    name = "thmm"

    def __init__(
        self,
        n_regimes: int = 3,
        n_init: int = 2,
        n_iter: int = 100,
        seed: int = 7,
        zero_mean: bool = True,
        df: float | None = None,
        t_iter: int = 30,
    ):
        super().__init__(n_regimes, n_init, n_iter, seed, zero_mean)
        self.df = df
        self.t_iter = t_iter

    def fit(self, returns: ArrayLike, labels: ArrayLike | None = None) -> Self:
        """Fit on ``returns`` (n_obs, n_assets). Starts from the Gaussian fit of
        :meth:`HMMDetector.fit` (closed form with labels, else Baum-Welch), then runs
        ``t_iter`` EM iterations of the t emissions: with enough labels the state of each row
        is known (complete-data EM of each state's t law), else the states are posteriors of
        the forward-backward pass. States keep the Gaussian fit's order."""
        self.df_ = np.inf  # the Gaussian start (the t's limit) scores with Gaussian emissions
        super().fit(returns, labels)  # Gaussian start; sets scale_, transmat_, order
        with single_threaded():
            k = self.n_regimes
            r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
            z = r / self.scale_
            lab = None if labels is None else check_labels(labels, len(r), k)
            supervised = _labels_suffice(lab, k, z.shape[1])
            gamma = np.eye(k)[lab] if supervised else None
            self.df_ = float(self.df) if self.df is not None else 8.0
            # a t with nu degrees of freedom and scale S has covariance nu/(nu-2) S
            self.covars_ = self.covars_ * (self.df_ - 2.0) / self.df_
            self._prepare()
            previous = -np.inf
            for _ in range(self.t_iter):
                log_e, delta = self._log_emission_delta(z)
                if not supervised:
                    gamma, xi_sum, loglik = forward_backward(log_e, self.transmat_, self.startprob_)
                    self.transmat_ = (xi_sum + 1e-6) / (xi_sum + 1e-6).sum(axis=1, keepdims=True)
                    self.startprob_ = gamma[0]
                else:
                    loglik = float((gamma * log_e).sum())
                p = z.shape[1]
                u = (self.df_ + p) / (self.df_ + delta)  # E[precision | row, state]
                w = gamma * u
                if not self.zero_mean:
                    self.means_ = (w.T @ z) / w.sum(axis=0)[:, None]
                covs = []
                for j in range(k):
                    dev = z - self.means_[j]
                    covs.append((dev * w[:, j, None]).T @ dev / gamma[:, j].sum())
                self.covars_ = np.array(covs) + 1e-6 * np.eye(p)
                self._prepare()
                if self.df is None:
                    self.df_ = self._best_df(z, gamma, supervised)
                if abs(loglik - previous) < 1e-4 * abs(loglik):
                    break
                previous = loglik
            self.loglik_ = self.score(r)
            self.reset()
            return self

    def _best_df(self, z: np.ndarray, gamma: np.ndarray, supervised: bool) -> float:
        """ECME step: the nu maximising the observed log-likelihood (the labelled one when
        the states are known)."""
        from scipy.optimize import minimize_scalar

        def nll(log_df: float) -> float:
            self.df_ = float(np.exp(log_df))
            log_e, _ = self._log_emission_delta(z)
            if supervised:
                return -float((gamma * log_e).sum())
            return -hamilton_filter(log_e, self.transmat_, self.startprob_.copy())[2]

        lo, hi = np.log(DF_BOUNDS[0]), np.log(DF_BOUNDS[1])
        return float(np.exp(minimize_scalar(nll, bounds=(lo, hi), method="bounded").x))

    def _log_emission_delta(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logdet = -2.0 * self._log_norm - z.shape[1] * np.log(2 * np.pi)  # log|S_k|
        return student_t_log_density(z, self.means_, self._chol_inv, logdet, self.df_)

    def log_emission(self, z: np.ndarray) -> np.ndarray:
        """Log t density of each standardised row under each state, shape (n_obs, K)."""
        if np.isinf(self.df_):
            return super().log_emission(z)
        return self._log_emission_delta(z)[0]
