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

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from scipy.optimize import minimize_scalar
from scipy.special import gammaln, ndtri

from riskstream.core.errors import InputError, ModelError
from riskstream.models._validation import check_choice, check_positive_int

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


def kendall_tau_matrix(u: np.ndarray) -> np.ndarray:
    """Pairwise Kendall's tau-b of the columns of ``u`` (n_obs, n_dims); O(d² n log n)."""
    d = u.shape[1]
    tau = np.eye(d)
    for i in range(d):
        for j in range(i + 1, d):
            tau[i, j] = tau[j, i] = stats.kendalltau(u[:, i], u[:, j]).statistic
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


def t_copula_loglik(u: np.ndarray, corr: np.ndarray, nu: float) -> float:
    """Log-likelihood of the Student-t copula at pseudo-observations ``u`` (n_obs, d).

    .. math::
        \\ln c(u) = \\ln t_{R,\\nu}(x) - \\sum_i \\ln t_\\nu(x_i), \\quad x_i = t_\\nu^{-1}(u_i).
    """
    d = corr.shape[0]
    x = stats.t.ppf(u, nu)
    chol = np.linalg.cholesky(corr)
    y = np.linalg.solve(chol, x.T)  # (d, n)
    maha = np.einsum("ij,ij->j", y, y)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    joint = (
        gammaln(0.5 * (nu + d))
        - gammaln(0.5 * nu)
        - 0.5 * d * np.log(nu * np.pi)
        - 0.5 * logdet
        - 0.5 * (nu + d) * np.log1p(maha / nu)
    )
    margins = stats.t.logpdf(x, nu).sum(axis=1)
    return float(np.sum(joint - margins))


def gaussian_copula_loglik(u: np.ndarray, corr: np.ndarray) -> float:
    """Log-likelihood of the Gaussian copula: :math:`-\\tfrac12\\ln|R| - \\tfrac12 x^\\top
    (R^{-1} - I) x`, :math:`x = \\Phi^{-1}(u)`."""
    x = ndtri(u)
    chol = np.linalg.cholesky(corr)
    y = np.linalg.solve(chol, x.T)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    return float(-0.5 * (u.shape[0] * logdet + np.sum(y * y) - np.sum(x * x)))


class GaussianCopula:
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
    """

    def __init__(self, method: str = "normal_scores") -> None:
        self.method = method

    def fit(self, u: ArrayLike) -> GaussianCopula:
        """Fit to pseudo-observations ``u`` (n_obs, n_dims) in (0, 1); returns self."""
        method = check_choice(self.method, "method", ("normal_scores", "kendall"))
        arr = _validate_uniforms(u)
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


class StudentTCopula:
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
        if method == "kendall":
            corr = np.sin(0.5 * np.pi * kendall_tau_matrix(arr))
        else:
            corr = np.atleast_2d(np.corrcoef(ndtri(arr), rowvar=False))
        self.correlation_ = nearest_correlation(corr)
        if self.nu is not None:
            nu = float(self.nu)
        else:
            # profile likelihood over log ν (the likelihood is flat in ν for large ν)
            res = minimize_scalar(
                lambda log_nu: -t_copula_loglik(arr, self.correlation_, float(np.exp(log_nu))),
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
    """``"gaussian"`` or ``"t"`` → an unfitted copula with default settings."""
    kind = check_choice(name, "copula", ("gaussian", "t"))
    return GaussianCopula() if kind == "gaussian" else StudentTCopula()
