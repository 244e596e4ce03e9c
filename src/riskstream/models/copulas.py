"""Elliptical copulas — Gaussian and Student-t — for the joint dependence of risk factors.

By Sklar's theorem a joint distribution splits into its marginals and a copula :math:`C`,
the joint distribution of the probability-integral transforms :math:`U_i = F_i(X_i)`. The
Monte Carlo scenario generator keeps each factor's own GARCH-t marginal and joins them with
a copula fitted to the *pseudo-observations* of the standardised residuals.

* Gaussian copula: :math:`C_R(u) = \\Phi_R(\\Phi^{-1}(u_1), \\dots, \\Phi^{-1}(u_d))` — no
  tail dependence.
* Student-t copula: :math:`C_{R,\\nu}(u) = t_{R,\\nu}(t_\\nu^{-1}(u_1), \\dots)` — joint
  extremes (tail dependence :math:`2\\,t_{\\nu+1}(-\\sqrt{(\\nu+1)(1-\\rho)/(1+\\rho)})`),
  which is why it is the default for market risk.

Fitting (McNeil, Frey and Embrechts, *Quantitative Risk Management*, 2005, §5.5):

* pseudo-observations :math:`\\hat u_{ti} = \\mathrm{rank}(x_{ti}) / (n+1)` (semi-parametric,
  Genest, Ghoudi and Rivest 1995), so the marginals need not be known;
* correlation by inverting Kendall's tau, :math:`\\rho_{ij} = \\sin(\\pi\\tau_{ij}/2)`, valid
  for every elliptical copula, then projected to the nearest positive-definite correlation;
  or (Gaussian) the correlation of the normal scores :math:`\\Phi^{-1}(\\hat u)`, the
  pseudo-likelihood estimate;
* t degrees of freedom by maximising the copula log-likelihood over :math:`\\nu` with the
  correlation held fixed (profile likelihood).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy import stats
from scipy.linalg import solve_triangular
from scipy.optimize import minimize_scalar
from scipy.special import gammaln, ndtri, stdtrit

from riskstream.core.errors import InputError, ModelError
from riskstream.models._quantile_map import scores_to_innovations
from riskstream.models._validation import check_choice, check_positive_int
from riskstream.models.base import Estimator

NU_RANGE = (2.01, 200.0)
"""Search interval of the t-copula degrees of freedom; the upper end is ~Gaussian."""

_EIG_FLOOR = 1e-8


def pseudo_observations(x: ArrayLike) -> np.ndarray:
    """Rank-transform each column to (0, 1): :math:`\\hat u_{ti} = r_{ti}/(n+1)`.

    Parameters
    ----------
    x : array_like of shape (n_obs, n_dims)
        Observations (e.g. GARCH standardised residuals). Ties get their average rank.

    Returns
    -------
    ndarray of shape (n_obs, n_dims) in the open interval (0, 1).
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError("x", f"array of shape {arr.shape}", "a 2-D array (n_obs, n_dims)")
    if not np.isfinite(arr).all():
        raise InputError("x", "non-finite values", "finite observations")
    return stats.rankdata(arr, axis=0) / (arr.shape[0] + 1.0)


def kendall_tau_matrix(u: ArrayLike) -> np.ndarray:
    """Pairwise Kendall's tau-b of the columns of ``u`` (n_obs, n_dims).

    Knight's (1966) O(n log n) algorithm per pair in a numba kernel — the one SciPy's
    ``kendalltau`` uses (its output is the test oracle) — because calling SciPy for each of
    the d(d-1)/2 pairs of a hundred factors costs seconds:

    .. math::
        \tau_b = \frac{n_c - n_d}{\\sqrt{(n_0 - n_x)(n_0 - n_y)}},

    with :math:`n_0 = n(n-1)/2` pairs, :math:`n_x, n_y` pairs tied in x or y.
    """
    arr = np.ascontiguousarray(np.asarray(u, dtype=np.float64).T)
    return _kendall_matrix(arr)


@njit(cache=True)
def _tied_pairs(v):  # pragma: no cover - numba
    """Number of pairs tied in a sorted array: sum over tie groups of t(t-1)/2."""
    total = 0
    run = 1
    for i in range(1, v.shape[0]):
        if v[i] == v[i - 1]:
            run += 1
        else:
            total += run * (run - 1) // 2
            run = 1
    return total + run * (run - 1) // 2


@njit(cache=True)
def _dense_ranks(col):  # pragma: no cover - numba
    """Dense ranks 1..k of ``col`` (ties share a rank) and the number of tied pairs."""
    order = np.argsort(col, kind="mergesort")
    ranks = np.empty(col.shape[0], dtype=np.int64)
    r = 1
    ranks[order[0]] = 1
    for i in range(1, col.shape[0]):
        if col[order[i]] != col[order[i - 1]]:
            r += 1
        ranks[order[i]] = r
    return ranks, order, _tied_pairs(col[order])


@njit(cache=True)
def _kendall_tau_b(xs, yr, x_ties, y_ties):  # pragma: no cover - numba
    """Tau-b from x sorted ascending (``xs``) and the dense y ranks in that order (``yr``);
    ``yr`` is modified (tie groups of x sorted by y, making the order lexicographic)."""
    n = xs.shape[0]
    start = 0
    for i in range(1, n + 1):  # sort y within each run of tied x (rare for returns)
        if i == n or xs[i] != xs[start]:
            if i - start > 1:
                yr[start:i] = np.sort(yr[start:i])
            start = i
    # discordant pairs = strict inversions of the y ranks, counted with a Fenwick tree
    k = 0
    for i in range(n):
        k = max(k, yr[i])
    tree = np.zeros(k + 1, dtype=np.int64)
    dis = 0
    for j in range(n):
        seen_le = 0
        i = yr[j]
        while i > 0:
            seen_le += tree[i]
            i -= i & (-i)
        dis += j - seen_le
        i = yr[j]
        while i <= k:
            tree[i] += 1
            i += i & (-i)
    joint = 0  # pairs tied in both x and y
    run = 1
    for i in range(1, n):
        if xs[i] == xs[i - 1] and yr[i] == yr[i - 1]:
            run += 1
        else:
            joint += run * (run - 1) // 2
            run = 1
    joint += run * (run - 1) // 2
    total = n * (n - 1) // 2
    if max(x_ties, y_ties) == total:  # a constant column: tau undefined
        return np.nan
    con_minus_dis = total - x_ties - y_ties + joint - 2 * dis
    return con_minus_dis / math.sqrt(float(total - x_ties)) / math.sqrt(float(total - y_ties))


@njit(cache=True)
def _kendall_matrix(cols):  # pragma: no cover - numba
    """Tau-b of every pair of rows of ``cols`` (n_dims, n_obs): sorts and ranks once per
    column, then O(n log n) per pair."""
    d, n = cols.shape
    ranks = np.empty((d, n), dtype=np.int64)
    orders = np.empty((d, n), dtype=np.int64)
    ties = np.empty(d, dtype=np.int64)
    for i in range(d):
        ranks[i], orders[i], ties[i] = _dense_ranks(cols[i])
    tau = np.eye(d)
    yr = np.empty(n, dtype=np.int64)
    for i in range(d):
        xs = cols[i][orders[i]]
        for j in range(i + 1, d):
            for m in range(n):
                yr[m] = ranks[j, orders[i, m]]
            t = _kendall_tau_b(xs, yr, ties[i], ties[j])
            tau[i, j] = t
            tau[j, i] = t
    return tau


def nearest_correlation(r: np.ndarray, floor: float = _EIG_FLOOR) -> np.ndarray:
    """Project a symmetric matrix to a positive-definite correlation matrix.

    Eigenvalues are clipped at ``floor`` and the diagonal rescaled to one — the simple
    spectral projection (Rebonato and Jäckel 1999); tau-inverted matrices need it because
    elementwise :math:`\\sin(\\pi\\tau/2)` does not preserve positive definiteness.
    """
    sym = 0.5 * (r + r.T)
    w, v = np.linalg.eigh(sym)
    out = sym if w.min() > floor else (v * np.maximum(w, floor)) @ v.T
    d = np.sqrt(np.diag(out))
    out = out / np.outer(d, d)
    np.fill_diagonal(out, 1.0)
    return out


def _validate_uniforms(u: ArrayLike, field: str = "u") -> np.ndarray:
    arr = np.asarray(u, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise InputError(field, f"array of shape {arr.shape}", "a 2-D array (n_obs, n_dims)")
    if arr.shape[0] < 10:
        raise InputError(f"{field}.n_obs", arr.shape[0], "at least 10 observations")
    if not np.isfinite(arr).all():
        raise InputError(field, "non-finite values", "pseudo-observations in (0, 1)")
    if arr.min() <= 0.0 or arr.max() >= 1.0:
        bad = arr.min() if arr.min() <= 0.0 else arr.max()
        raise InputError(field, float(bad), "pseudo-observations strictly inside (0, 1)")
    return arr


def t_copula_loglik(
    u: np.ndarray, corr: np.ndarray, nu: float, normal_scores: np.ndarray | None = None
) -> float:
    """Log-likelihood of the Student-t copula at pseudo-observations ``u`` (n_obs, d).

    .. math::
        \\ln c(u) = \\ln t_{R,\\nu}(x) - \\sum_i \\ln t_\\nu(x_i), \\quad x_i = t_\\nu^{-1}(u_i).

    ``normal_scores`` (:math:`\\Phi^{-1}(u)`, optional) switches the quantiles to the
    tabulated spline map (error ~1e-12), an order of magnitude faster than
    ``scipy.special.stdtrit`` — used inside the profile likelihood over :math:`\\nu`.
    """
    n, d = u.shape
    if normal_scores is None:
        x = stdtrit(nu, u)
    else:
        x = scores_to_innovations(normal_scores, np.inf, np.full(d, nu), standardize=False)
    chol = np.linalg.cholesky(corr)
    y = solve_triangular(chol, x.T, lower=True)  # (d, n)
    maha = np.einsum("ij,ij->j", y, y)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    joint = (
        n
        * (
            gammaln(0.5 * (nu + d))
            - gammaln(0.5 * nu)
            - 0.5 * d * np.log(nu * np.pi)
            - 0.5 * logdet
        )
        - 0.5 * (nu + d) * np.log1p(maha / nu).sum()
    )
    # univariate t log-densities of every score
    margins = (
        n * d * (gammaln(0.5 * (nu + 1.0)) - gammaln(0.5 * nu) - 0.5 * np.log(nu * np.pi))
        - 0.5 * (nu + 1.0) * np.log1p(x * x / nu).sum()
    )
    return float(joint - margins)


def gaussian_copula_loglik(u: np.ndarray, corr: np.ndarray) -> float:
    """Log-likelihood of the Gaussian copula: :math:`-\\tfrac12\\ln|R| - \\tfrac12 x^\\top
    (R^{-1} - I) x`, :math:`x = \\Phi^{-1}(u)`."""
    x = ndtri(u)
    chol = np.linalg.cholesky(corr)
    y = np.linalg.solve(chol, x.T)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    return float(-0.5 * (u.shape[0] * logdet + np.sum(y * y) - np.sum(x * x)))


class GaussianCopula(Estimator):
    """Gaussian copula fitted to pseudo-observations.

    Parameters
    ----------
    method : {"normal_scores", "kendall"}, default "normal_scores"
        Correlation estimator: sample correlation of the normal scores
        :math:`\\Phi^{-1}(\\hat u)` (pseudo maximum likelihood), or Kendall's tau inversion.

    Attributes
    ----------
    correlation_ : ndarray of shape (n_dims, n_dims)
        Copula correlation matrix :math:`R` (positive definite).
    nu_ : float
        ``inf`` — the Gaussian copula is the t copula's limit as :math:`\\nu \\to \\infty`.
    loglikelihood_ : float
        Copula log-likelihood at the fit.
    warnings_ : list of str
        Always empty (closed-form fit); kept for the common estimator shape.
    """

    def __init__(self, method: str = "normal_scores") -> None:
        self.method = method

    def fit(self, u: ArrayLike) -> GaussianCopula:
        """Fit to pseudo-observations ``u`` (n_obs, n_dims) in (0, 1); returns self."""
        method = check_choice(self.method, "method", ("normal_scores", "kendall"))
        arr = _validate_uniforms(u)
        self._start_warnings()  # closed form: nothing to converge
        if method == "kendall":
            corr = np.sin(0.5 * np.pi * kendall_tau_matrix(arr))
        else:
            corr = np.atleast_2d(np.corrcoef(ndtri(arr), rowvar=False))
        self.correlation_ = nearest_correlation(corr)
        self.nu_ = float("inf")
        self.loglikelihood_ = gaussian_copula_loglik(arr, self.correlation_)
        self._chol = np.linalg.cholesky(self.correlation_)
        return self

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` uniforms (n, n_dims): :math:`u = \\Phi(L z)`, :math:`LL^\\top = R`."""
        return stats.norm.cdf(self.sample_scores(n, rng))

    def sample_scores(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` correlated standard normals (n, n_dims) — :math:`\\Phi^{-1}(u)` of
        :meth:`sample`, without the round trip through uniforms."""
        _check_fitted(self)
        n = check_positive_int(n, "n")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return gen.standard_normal((n, self._chol.shape[0])) @ self._chol.T


class StudentTCopula(Estimator):
    """Student-t copula fitted to pseudo-observations.

    Parameters
    ----------
    method : {"kendall", "normal_scores"}, default "kendall"
        Correlation estimator (Kendall's tau inversion is the standard choice for the t
        copula; "normal_scores" is faster for many dimensions but biased for small ν).
    nu : float, optional
        Fix the degrees of freedom instead of estimating them.

    Attributes
    ----------
    correlation_ : ndarray of shape (n_dims, n_dims)
        Copula correlation :math:`R`.
    nu_ : float
        Degrees of freedom, maximising the copula likelihood with :math:`R` fixed.
    loglikelihood_ : float
        Copula log-likelihood at (:math:`R`, :math:`\\nu`).
    warnings_ : list of str
        Fit warnings (empty: a failed search over :math:`\\nu` raises ModelError).
    """

    def __init__(self, method: str = "kendall", nu: float | None = None) -> None:
        self.method = method
        self.nu = nu

    def fit(self, u: ArrayLike) -> StudentTCopula:
        """Fit to pseudo-observations ``u`` (n_obs, n_dims) in (0, 1); returns self."""
        method = check_choice(self.method, "method", ("kendall", "normal_scores"))
        if self.nu is not None and not (np.isfinite(self.nu) and self.nu > 0):
            raise InputError("nu", self.nu, "a positive number of degrees of freedom")
        arr = _validate_uniforms(u)
        self._start_warnings()
        if method == "kendall":
            corr = np.sin(0.5 * np.pi * kendall_tau_matrix(arr))
        else:
            corr = np.atleast_2d(np.corrcoef(ndtri(arr), rowvar=False))
        self.correlation_ = nearest_correlation(corr)
        if self.nu is not None:
            nu = float(self.nu)
        else:
            # profile likelihood over log ν (the likelihood is flat in ν for large ν)
            scores = ndtri(arr)
            res = minimize_scalar(
                lambda log_nu: (
                    -t_copula_loglik(arr, self.correlation_, float(np.exp(log_nu)), scores)
                ),
                bounds=(np.log(NU_RANGE[0]), np.log(NU_RANGE[1])),
                method="bounded",
                options={"xatol": 1e-4},
            )
            if not res.success:
                raise ModelError(f"t-copula degrees of freedom did not converge: {res.message}")
            nu = float(np.exp(res.x))
        self.nu_ = nu
        self.loglikelihood_ = t_copula_loglik(arr, self.correlation_, nu)
        self._chol = np.linalg.cholesky(self.correlation_)
        return self

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` uniforms (n, n_dims): :math:`x = Lz/\\sqrt{W/\\nu}`,
        :math:`W \\sim \\chi^2_\\nu`, :math:`u_i = t_\\nu(x_i)`."""
        return stats.t.cdf(self.sample_scores(n, rng), self.nu_)

    def sample_scores(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` multivariate-t vectors (n, n_dims) with correlation :math:`R` and
        :math:`\\nu` dof — :math:`t_\\nu^{-1}(u)` of :meth:`sample`."""
        _check_fitted(self)
        n = check_positive_int(n, "n")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        z = gen.standard_normal((n, self._chol.shape[0])) @ self._chol.T
        w = gen.chisquare(self.nu_, size=n) / self.nu_
        return z / np.sqrt(w)[:, None]


def _check_fitted(copula: object) -> None:
    if not hasattr(copula, "_chol"):
        raise ModelError(f"{type(copula).__name__} is not fitted: call fit(u) first")


def make_copula(name: str) -> GaussianCopula | StudentTCopula:
    """``"gaussian"`` or ``"t"`` → an unfitted copula with default settings (for the CLI
    and settings; in code, pass an instance)."""
    kind = check_choice(name, "copula", ("gaussian", "t"))
    return GaussianCopula() if kind == "gaussian" else StudentTCopula()
