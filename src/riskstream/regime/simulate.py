"""Returns simulated from a Markov-switching factor model with known regimes — the test bed
of the detectors (each detector's own model has its own simulator beside it, e.g.
:func:`riskstream.regime.msgarch.simulate_msgarch`).

.. math::
    r_{t,i} = m^F_{s_t} \\beta_i f_t + m^I_{s_t} \\sigma_i e_{t,i},\\qquad
    f_t, e_{t,i} \\sim N(0,1)\\ \\text{i.i.d.},

with :math:`s_t` a Markov chain with transition matrix :math:`P`: systematic volatility
rises more than idiosyncratic volatility in stress, so correlations rise with volatility
(the multipliers default to the market simulator's: factor 1, 1.7, 2.8; idiosyncratic 1,
1.3, 1.6).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_TRANSITION = ((0.99, 0.008, 0.002), (0.02, 0.975, 0.005), (0.01, 0.03, 0.96))


def simulate_regime_returns(
    n_obs: int,
    n_assets: int = 6,
    seed: int = 0,
    transition: ArrayLike = DEFAULT_TRANSITION,
    factor_mult: ArrayLike = (1.0, 1.7, 2.8),
    idio_mult: ArrayLike = (1.0, 1.3, 1.6),
    vol: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate (returns (n_obs, n_assets), regimes (n_obs,)) starting in regime 0.

    Betas are drawn in [0.6, 1.2] and idiosyncratic volatilities in [0.5, 1.0] × ``vol``;
    ``vol`` is the factor's volatility per row in the calm regime.
    """
    p = np.asarray(transition, dtype=np.float64)
    fm, im = (np.asarray(v, dtype=np.float64) for v in (factor_mult, idio_mult))
    rng = np.random.default_rng(seed)
    beta = rng.uniform(0.6, 1.2, n_assets)
    idio = rng.uniform(0.5, 1.0, n_assets) * vol
    cum = np.cumsum(p, axis=1)
    u = rng.random(n_obs)
    states = np.empty(n_obs, dtype=np.int64)
    s = 0
    for t in range(n_obs):
        if t:
            s = min(int(np.searchsorted(cum[s], u[t] * cum[s, -1])), len(p) - 1)
        states[t] = s
    f = rng.standard_normal(n_obs) * vol * fm[states]
    e = rng.standard_normal((n_obs, n_assets)) * idio * im[states][:, None]
    return f[:, None] * beta[None, :] + e, states


# --- the hard test bed: regimes that differ by correlation as much as by volatility ---------

HARD_VOL_MULT = (1.0, 1.4, 2.0)
HARD_CORRELATION = (0.15, 0.5, 0.8)
HARD_SPELL_BARS = (50.0, 20.0, 12.0)
# where a spell goes when it ends (rows: from calm, volatile, crisis; the diagonal is unused):
# stress builds through the volatile regime more often than it jumps to crisis, and a crisis
# mostly eases into the volatile regime first
HARD_EXIT = ((0.0, 0.8, 0.2), (0.6, 0.0, 0.4), (0.3, 0.7, 0.0))


class SwitchingStudentT:
    r"""Markov-switching multivariate Student-t returns with known parameters: a data
    generator, and the forward filter that knows the truth (the ceiling of any detector).

    .. math::
        r_t \mid s_t = k \;\sim\; t_\nu\!\left(0,\ \tfrac{\nu-2}{\nu}\,\Sigma_k\right),\qquad
        \Sigma_k = m_k^2\, D\, C(\rho_k)\, D,

    with :math:`D = \mathrm{diag}(\sigma_i)`, :math:`C(\rho)` the equicorrelation matrix
    (ones on the diagonal, :math:`\rho` off it) and :math:`s_t` a Markov chain with transition
    matrix :math:`P`. The scale :math:`(\nu-2)/\nu` makes :math:`\Sigma_k` the covariance
    itself. One chi-square mixing variable per row scales every asset at once (the
    multivariate t: McNeil, Frey & Embrechts 2015, *Quantitative Risk Management*, §6.2), so
    a heavy-tailed row is a market-wide shock — which a volatility detector can mistake for
    a change of regime.

    Parameters
    ----------
    transition : ndarray of shape (K, K)
        :math:`P_{ij} = \Pr(s_t = j \mid s_{t-1} = i)`, rows summing to one.
    covariances : ndarray of shape (K, n_assets, n_assets)
        :math:`\Sigma_k` (the covariance of the returns in regime k).
    df : float
        Degrees of freedom :math:`\nu > 2`.

    The chain starts from its stationary law (the filter's prior for the first row).
    """

    def __init__(self, transition: ArrayLike, covariances: ArrayLike, df: float):
        from riskstream.core.errors import InputError
        from riskstream.regime.base import stationary_distribution

        self.transition = np.asarray(transition, dtype=np.float64)
        self.covariances = np.asarray(covariances, dtype=np.float64)
        k = self.transition.shape[0]
        if self.transition.shape != (k, k) or not np.allclose(self.transition.sum(axis=1), 1):
            raise InputError("transition", self.transition.shape, "a (K, K) stochastic matrix")
        if self.covariances.ndim != 3 or self.covariances.shape[0] != k:
            raise InputError("covariances", self.covariances.shape, f"shape ({k}, n, n)")
        if not df > 2:
            raise InputError("df", df, "degrees of freedom above 2 (a finite variance)")
        self.df = float(df)
        self.startprob = stationary_distribution(self.transition)
        scale = self.covariances * (self.df - 2.0) / self.df
        chol = np.linalg.cholesky(scale)  # raises on a covariance that is not positive definite
        self._chol = chol
        self._chol_inv = np.linalg.inv(chol)
        self._logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)

    @property
    def n_regimes(self) -> int:
        return self.transition.shape[0]

    @property
    def n_assets(self) -> int:
        return self.covariances.shape[1]

    def simulate(self, n_obs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(returns (n_obs, n_assets), regimes (n_obs,)), the chain started from its
        stationary law."""
        rng = np.random.default_rng(seed)
        k = self.n_regimes
        cum = np.cumsum(self.transition, axis=1)
        u = rng.random(n_obs)
        states = np.empty(n_obs, dtype=np.int64)
        s = int(rng.choice(k, p=self.startprob))
        for t in range(n_obs):
            if t:
                s = min(int(np.searchsorted(cum[s], u[t] * cum[s, -1])), k - 1)
            states[t] = s
        z = rng.standard_normal((n_obs, self.n_assets))
        w = rng.chisquare(self.df, n_obs)
        correlated = np.einsum("tij,tj->ti", self._chol[states], z)
        return correlated * np.sqrt(self.df / w)[:, None], states

    def log_density(self, returns: ArrayLike) -> np.ndarray:
        """Log density of each row (n_obs, n_assets) under each regime, shape (n_obs, K):
        the multivariate t of :func:`riskstream.regime.base.student_t_log_density` with
        scale :math:`S_k = \\tfrac{\\nu-2}{\\nu}\\Sigma_k`."""
        from riskstream.regime.base import student_t_log_density

        r = np.atleast_2d(np.asarray(returns, dtype=np.float64))
        zero = np.zeros((self.n_regimes, self.n_assets))
        return student_t_log_density(r, zero, self._chol_inv, self._logdet, self.df)[0]

    def filter(self, returns: ArrayLike) -> np.ndarray:
        """Filtered probabilities :math:`\\Pr(s_t = k \\mid r_{1..t})` of every row (n_obs, K)
        with the true parameters — the Hamilton (1989) filter of
        :func:`riskstream.regime.base.hamilton_filter`; no detector that sees only the
        returns can do better on average (it is the Bayes posterior)."""
        from riskstream.regime.base import hamilton_filter

        probs, _, _ = hamilton_filter(
            self.log_density(returns), self.transition, self.startprob.copy()
        )
        return probs


def hard_regime_model(
    n_assets: int = 12,
    seed: int = 0,
    vol_mult: ArrayLike = HARD_VOL_MULT,
    correlation: ArrayLike = HARD_CORRELATION,
    spell_bars: ArrayLike = HARD_SPELL_BARS,
    exit_probs: ArrayLike = HARD_EXIT,
    df: float = 5.0,
    vol: float = 1e-4,
) -> SwitchingStudentT:
    """The hard test bed of the detectors: three regimes whose volatilities differ less than
    the simulator's (1 : 1.4 : 2 instead of 1 : 1.7 : 2.8) while their average pairwise
    correlation jumps (0.15, 0.5, 0.8), short spells (mean 50, 20 and 12 rows) and Student-t
    tails (``df`` 5: excess kurtosis 6).

    ``seed`` draws the assets' calm volatilities, uniform in [0.6, 1.4] × ``vol`` per row; the
    market's parameters are then fixed, and :meth:`SwitchingStudentT.simulate` draws paths
    from it with any seed (training and test paths of the same market).
    """
    from riskstream.core.errors import InputError

    m = np.asarray(vol_mult, dtype=np.float64)
    rho = np.asarray(correlation, dtype=np.float64)
    spells = np.asarray(spell_bars, dtype=np.float64)
    exits = np.asarray(exit_probs, dtype=np.float64)
    k = len(m)
    if not (len(rho) == len(spells) == k and exits.shape == (k, k)):
        raise InputError("regime parameters", (len(m), len(rho), len(spells)), "K of each")
    if np.any(spells <= 1):
        raise InputError("spell_bars", spells.tolist(), "mean spells longer than one row")
    if np.any(rho <= -1 / max(n_assets - 1, 1)) or np.any(rho >= 1):
        raise InputError("correlation", rho.tolist(), f"in (-1/{n_assets - 1}, 1)")
    off = exits * (1 - np.eye(k))
    off = off / off.sum(axis=1, keepdims=True)
    stay = 1.0 - 1.0 / spells  # geometric spells: mean 1 / (1 - P_kk)
    transition = off * (1.0 - stay)[:, None] + np.diag(stay)
    sigma = np.random.default_rng(seed).uniform(0.6, 1.4, n_assets) * vol
    eye = np.eye(n_assets)
    covariances = np.array(
        [m[j] ** 2 * np.outer(sigma, sigma) * (rho[j] + (1 - rho[j]) * eye) for j in range(k)]
    )
    return SwitchingStudentT(transition, covariances, df)
