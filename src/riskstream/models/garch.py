"""GARCH-family volatility with Student-t innovations.

The GJR-GARCH(p, o, q) model of a daily log return (Bollerslev 1986; Glosten, Jagannathan
and Runkle 1993), as ``arch`` (K. Sheppard) parameterises it:

.. math::
    r_t = \\mu + \\epsilon_t, \\qquad \\epsilon_t = \\sigma_t z_t, \\qquad
    \\sigma_t^2 = \\omega + \\sum_{i=1}^{p} \\alpha_i \\epsilon_{t-i}^2
    + \\sum_{j=1}^{o} \\gamma_j \\epsilon_{t-j}^2 \\mathbf{1}[\\epsilon_{t-j} < 0]
    + \\sum_{k=1}^{q} \\beta_k \\sigma_{t-k}^2 ,

with :math:`z_t` i.i.d. standardised Student-t (unit variance, :math:`\\nu > 2` degrees of
freedom; Bollerslev 1987) or standard normal. Parameters are estimated by maximum likelihood;
the unconditional variance :math:`\\omega / (1 - \\sum\\alpha - \\sum\\gamma/2 - \\sum\\beta)`
exists while the persistence is below one.

**Units.** Inputs are daily log returns in decimal. The optimisers are badly conditioned on
decimal returns (:math:`\\omega \\sim 10^{-6}`), so both models here multiply returns by
:data:`SCALE` = 100 (percent returns) before estimation, as ``arch`` recommends. Hence
``params_`` (:math:`\\mu` in percent, :math:`\\omega` in percent²) are in percent units —
directly comparable with published ``arch`` output — while every volatility, residual,
forecast and simulated return is given back in decimal units. Both estimators are
scale-equivariant in practice: a series far from daily-return size (a P&L in currency, a
calm spread) is rescaled further for the optimiser — :class:`GarchPanel` to unit variance,
:class:`GarchVolatility` by a power of ten (``scale_``) — and the estimates mapped back.

Two estimators:

* :class:`GarchVolatility` — one series, any (p, o, q), wrapping ``arch.arch_model``.
* :class:`GarchPanel` — many series at once, GARCH(1,1) or GJR(1,1,1): a numba likelihood
  and SciPy's SLSQP per column, about ten times faster than ``arch`` per series. Fitting
  10,000 instrument-level GARCHes every refresh is not feasible in any library; the risk
  engine therefore filters volatility in *factor* space (tens to hundreds of risk factors)
  and maps instruments onto factors. This is the class the scenario generators use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from riskstream.core.errors import InputError, ModelError
from riskstream.core.warnings import ConvergenceWarning, DataScaleWarning, third_party_warnings
from riskstream.models._validation import (
    as_return_row,
    as_returns_matrix,
    as_returns_vector,
    check_choice,
    check_nonnegative_int,
    check_positive_int,
)
from riskstream.models.base import Estimator

SCALE = 100.0
"""Returns are multiplied by this (decimal → percent) before GARCH estimation."""

MIN_GARCH_OBS = 100
"""Fewest observations a GARCH model is fitted on: below this the likelihood is too flat
for :math:`\\alpha, \\beta, \\nu` to be identified."""

NU_BOUNDS = (2.05, 500.0)

MAX_ZERO_SHARE = 0.5
"""A column with more than this share of returns exactly zero draws a
:class:`~riskstream.core.warnings.DataScaleWarning`: its resolution (the price tick, or a
stale quote carried forward) is coarse against its daily moves, so the likelihood is
dominated by the quantisation, not by the volatility dynamics. The magnitude of a series is
no concern: the estimators are scale-equivariant (any unit fits alike)."""

_DISTS = ("normal", "t")
_MEANS = ("constant", "zero")


def standardized_t_scale(nu: ArrayLike) -> np.ndarray:
    """Factor :math:`\\sqrt{(\\nu-2)/\\nu}` turning a Student-t(ν) draw into unit variance."""
    nu = np.asarray(nu, dtype=np.float64)
    return np.sqrt((nu - 2.0) / nu)


def draw_innovations(
    rng: np.random.Generator, size: tuple[int, ...], nu: ArrayLike | None
) -> np.ndarray:
    """Standardised innovations :math:`z` (zero mean, unit variance) of shape ``size``.

    ``nu`` None draws standard normals; otherwise standardised Student-t with ``nu`` degrees of
    freedom (broadcast along the last axis, one per asset).
    """
    if nu is None:
        return rng.standard_normal(size)
    nu_arr = np.broadcast_to(np.asarray(nu, dtype=np.float64), size)
    return rng.standard_t(nu_arr) * standardized_t_scale(nu_arr)


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# ---------------------------------------------------------------------------------------
# numba kernels (percent units). Plain-Python twins live in tests/models/test_garch.py.
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _garch11_variance(y, mu, omega, alpha, gamma, beta, backcast):  # pragma: no cover - numba
    """Conditional variances σ²_t of a GJR-GARCH(1,1,1) filter, started at ``backcast``.

    Same start-up convention as ``arch``: before the sample, ε² is replaced by the backcast
    and the asymmetric term by half of it.
    """
    n = y.shape[0]
    s2 = np.empty(n)
    s2[0] = omega + (alpha + 0.5 * gamma + beta) * backcast
    for t in range(1, n):
        e = y[t - 1] - mu
        e2 = e * e
        v = omega + alpha * e2 + beta * s2[t - 1]
        if e < 0.0:
            v += gamma * e2
        s2[t] = v
    return s2


@njit(cache=True)
def _garch11_nll(theta, y, backcast, has_mu, has_gamma, dist_t):  # pragma: no cover - numba
    """Negative log-likelihood of GJR-GARCH(1,1,1) with normal or standardised-t errors.

    ``theta`` = [mu]?, omega, alpha, [gamma]?, beta, [nu]? (flags say which are present).
    Student-t density of :math:`\\epsilon = \\sigma z` with unit-variance :math:`z`:

    .. math::
        \\ell = \\ln\\Gamma(\\tfrac{\\nu+1}{2}) - \\ln\\Gamma(\\tfrac{\\nu}{2})
        - \\tfrac12\\ln(\\pi(\\nu-2)) - \\tfrac12\\ln\\sigma^2
        - \\tfrac{\\nu+1}{2}\\ln\\!\\left(1 + \\frac{\\epsilon^2}{\\sigma^2(\\nu-2)}\\right).
    """
    k = 0
    mu = 0.0
    if has_mu:
        mu = theta[0]
        k = 1
    omega = theta[k]
    alpha = theta[k + 1]
    gamma = 0.0
    if has_gamma:
        gamma = theta[k + 2]
        k += 1
    beta = theta[k + 2]
    nu = 0.0
    if dist_t:
        nu = theta[k + 3]
    s2 = _garch11_variance(y, mu, omega, alpha, gamma, beta, backcast)
    n = y.shape[0]
    total = 0.0
    if dist_t:
        const = (
            math.lgamma(0.5 * (nu + 1.0))
            - math.lgamma(0.5 * nu)
            - 0.5 * math.log(math.pi * (nu - 2.0))
        )
        for t in range(n):
            if s2[t] <= 0.0:
                return 1e100
            e = y[t] - mu
            total += const - 0.5 * math.log(s2[t])
            total -= 0.5 * (nu + 1.0) * math.log(1.0 + e * e / (s2[t] * (nu - 2.0)))
    else:
        const = -0.5 * math.log(2.0 * math.pi)
        for t in range(n):
            if s2[t] <= 0.0:
                return 1e100
            e = y[t] - mu
            total += const - 0.5 * (math.log(s2[t]) + e * e / s2[t])
    return -total


@njit(cache=True)
def _garch_simulate(mu, omega, alpha, gamma, beta, eps_hist, sigma2_hist, z):  # pragma: no cover
    """Simulate GJR-GARCH(p, o, q) paths of one series from its observed state.

    Parameters (percent units)
    ----------
    alpha, gamma, beta : 1-D arrays of lengths p, o, q.
    eps_hist : last ``max(p, o, 1)`` residuals, oldest first.
    sigma2_hist : last ``max(q, 1)`` conditional variances, oldest first.
    z : (n_paths, horizon) standardised innovations.

    Returns
    -------
    (n_paths, horizon) simulated returns :math:`\\mu + \\sigma_{T+h} z_h`.
    """
    n_paths, horizon = z.shape
    p = alpha.shape[0]
    o = gamma.shape[0]
    q = beta.shape[0]
    m = eps_hist.shape[0]
    mq = sigma2_hist.shape[0]
    out = np.empty((n_paths, horizon))
    e = np.empty(m + horizon)
    s2 = np.empty(mq + horizon)
    for i in range(n_paths):
        e[:m] = eps_hist
        s2[:mq] = sigma2_hist
        for h in range(horizon):
            v = omega
            for j in range(p):
                x = e[m + h - 1 - j]
                v += alpha[j] * x * x
            for j in range(o):
                x = e[m + h - 1 - j]
                if x < 0.0:
                    v += gamma[j] * x * x
            for j in range(q):
                v += beta[j] * s2[mq + h - 1 - j]
            s2[mq + h] = v
            eps = math.sqrt(v) * z[i, h]
            e[m + h] = eps
            out[i, h] = mu + eps
    return out


@njit(cache=True)
def _panel_simulate(mu, omega, alpha, gamma, beta, sigma2_next, z):  # pragma: no cover - numba
    """Simulate GJR-GARCH(1,1,1) paths for many series from tomorrow's variance.

    ``z`` (n_paths, horizon, n_assets) standardised innovations; parameters (n_assets,);
    ``sigma2_next`` (n_assets,) the one-step-ahead variance σ²_{T+1}. Returns daily returns
    (n_paths, horizon, n_assets), percent units.
    """
    n_paths, horizon, n_assets = z.shape
    out = np.empty((n_paths, horizon, n_assets))
    for i in range(n_paths):
        for k in range(n_assets):
            v = sigma2_next[k]
            for h in range(horizon):
                eps = math.sqrt(v) * z[i, h, k]
                out[i, h, k] = mu[k] + eps
                e2 = eps * eps
                v = omega[k] + alpha[k] * e2 + beta[k] * v
                if eps < 0.0:
                    v += gamma[k] * e2
    return out


# ---------------------------------------------------------------------------------------
# one series: arch
# ---------------------------------------------------------------------------------------


class GarchVolatility(Estimator):
    """GJR-GARCH(p, o, q) volatility of one return series, estimated with ``arch``.

    Parameters
    ----------
    p : int, default 1
        Lags of squared residuals (ARCH terms, :math:`\\alpha`).
    o : int, default 0
        Lags of the asymmetric (leverage) term :math:`\\gamma` — 1 gives GJR-GARCH.
    q : int, default 1
        Lags of the conditional variance (:math:`\\beta`).
    dist : {"t", "normal"}, default "t"
        Innovation distribution: standardised Student-t or normal.
    mean : {"constant", "zero"}, default "constant"
        Mean model: :math:`\\mu` estimated, or fixed at zero.

    Attributes
    ----------
    params_ : dict of str to float
        Estimates named as ``arch`` names them (``mu``, ``omega``, ``alpha[1]``,
        ``gamma[1]``, ``beta[1]``, ``nu``), in **percent** units (see module notes).
    mu_ : float
        Mean daily log return (decimal; 0 for ``mean="zero"``).
    nu_ : float or None
        Student-t degrees of freedom (None for normal innovations).
    conditional_volatility_ : ndarray of shape (n_obs,)
        :math:`\\sigma_t` of each observed day given the past (decimal, daily).
    standardized_residuals_ : ndarray of shape (n_obs,)
        :math:`z_t = (r_t - \\mu)/\\sigma_t` (unitless).
    next_volatility_ : float
        One-step-ahead forecast :math:`\\sigma_{T+1}` (decimal, daily).
    loglikelihood_ : float
        Maximised log-likelihood of the percent-scaled series (as ``arch`` reports it).
    result_ : arch.univariate.base.ARCHModelResult
        The full ``arch`` result (standard errors, ``summary()``), in the units of the data
        ``arch`` was given: decimal returns times ``scale_``.
    scale_ : float
        Factor applied to the decimal returns before estimation: :data:`SCALE` (percent),
        times a power of ten when the percent series' variance falls outside ``arch``'s
        well-conditioned range [1, 1000] (very calm or very wild series). ``params_`` are
        reported in percent units whatever it is.
    converged_ : bool
        Whether the optimiser met its convergence test.
    warnings_ : list of str
        Convergence and data-scale warnings of the fit (empty when clean).
    """

    def __init__(
        self, p: int = 1, o: int = 0, q: int = 1, dist: str = "t", mean: str = "constant"
    ) -> None:
        self.p = p
        self.o = o
        self.q = q
        self.dist = dist
        self.mean = mean

    def fit(self, returns: ArrayLike) -> GarchVolatility:
        """Estimate by maximum likelihood on ``returns`` (n_obs,), daily log returns (decimal).

        Raises
        ------
        InputError
            Bad orders/dist/mean; fewer than :data:`MIN_GARCH_OBS` observations; NaN/inf or
            constant returns.

        Warns
        -----
        ConvergenceWarning
            The optimiser stopped short of convergence (recorded in ``warnings_``;
            ``converged_`` is False).
        DataScaleWarning
            Most returns are exactly zero (see :data:`MAX_ZERO_SHARE`).
        """
        from arch import arch_model

        p = check_nonnegative_int(self.p, "p")
        o = check_nonnegative_int(self.o, "o")
        q = check_nonnegative_int(self.q, "q")
        if p + o == 0:
            raise InputError("p", p, "p ≥ 1 or o ≥ 1 (a GARCH needs a shock term)")
        dist = check_choice(self.dist, "dist", _DISTS)
        mean = check_choice(self.mean, "mean", _MEANS)
        y_pct = as_returns_vector(returns, min_obs=MIN_GARCH_OBS) * SCALE
        k = _extra_scale(y_pct)
        model = arch_model(
            y_pct * k,
            mean="Constant" if mean == "constant" else "Zero",
            vol="GARCH",
            p=p,
            o=o,
            q=q,
            dist="t" if dist == "t" else "normal",
            rescale=False,
        )
        log = self._start_warnings()
        _check_scale(self, y_pct[:, None] / SCALE)
        # arch's own ConvergenceWarning / DataScaleWarning are re-raised as ours and logged;
        # its flag is checked below, so it need not warn a second time (show_warning=False)
        with third_party_warnings(log, type(self).__name__):
            result = model.fit(disp="off", show_warning=False)
        if result.convergence_flag != 0:
            self._warn(
                ConvergenceWarning,
                f"GARCH({p},{o},{q}) estimation did not converge "
                f"({result.optimization_result.message}); the best point reached is kept",
            )
        self.converged_ = result.convergence_flag == 0
        self.result_ = result
        self.scale_ = SCALE * k
        # back to percent units: mu scales with the data, omega with its square
        unit_power = {"mu": 1, "omega": 2}
        self.params_ = {
            str(name): float(v) / k ** unit_power.get(str(name), 0)
            for name, v in result.params.items()
        }
        self.mu_ = self.params_.get("mu", 0.0) / SCALE
        self.nu_ = self.params_.get("nu") if dist == "t" else None
        sigma = np.asarray(result.conditional_volatility, dtype=np.float64) / k
        resid = np.asarray(result.resid, dtype=np.float64) / k
        self.conditional_volatility_ = sigma / SCALE
        self.standardized_residuals_ = resid / sigma
        self.loglikelihood_ = float(result.loglikelihood) + y_pct.shape[0] * np.log(k)
        # state for forecasting and simulation (percent units)
        self._omega = self.params_["omega"]
        self._alpha = np.array([self.params_[f"alpha[{i + 1}]"] for i in range(p)])
        self._gamma = np.array([self.params_[f"gamma[{i + 1}]"] for i in range(o)])
        self._beta = np.array([self.params_[f"beta[{i + 1}]"] for i in range(q)])
        self._eps_hist = resid[-max(p, o, 1) :].copy()
        self._sigma2_hist = (sigma[-max(q, 1) :] ** 2).copy()
        self.next_volatility_ = float(np.sqrt(self.forecast_variance(1)[0]))
        return self

    def forecast_variance(self, horizon_days: int) -> np.ndarray:
        """Expected conditional variance of each of the next ``horizon_days`` days.

        Returns
        -------
        ndarray of shape (horizon_days,)
            :math:`E_T[\\sigma^2_{T+h}]`, h = 1..H (decimal² per day); their sum is the
            variance of the H-day log return. Analytic multi-step forecast from ``arch``.
        """
        self._check_fitted()
        horizon = check_positive_int(horizon_days, "horizon_days")
        fc = self.result_.forecast(horizon=horizon, reindex=False)
        return np.asarray(fc.variance.to_numpy()[-1], dtype=np.float64) / self.scale_**2

    def simulate(
        self,
        n_paths: int,
        horizon_days: int,
        rng: np.random.Generator | int | None = None,
        innovations: ArrayLike | None = None,
    ) -> np.ndarray:
        """Simulate daily log-return paths forward from the end of the sample.

        Parameters
        ----------
        n_paths, horizon_days : int
            Number of paths and days per path.
        rng : numpy Generator or int seed, optional
            Source of innovations (ignored when ``innovations`` is given).
        innovations : array_like of shape (n_paths, horizon_days), optional
            Standardised innovations :math:`z` (zero mean, unit variance) to use instead of
            draws from the fitted distribution — e.g. bootstrapped standardised residuals
            (filtered historical simulation).

        Returns
        -------
        ndarray of shape (n_paths, horizon_days)
            Daily log returns (decimal); row sums are horizon log returns.
        """
        self._check_fitted()
        n_paths = check_positive_int(n_paths, "n_paths")
        horizon = check_positive_int(horizon_days, "horizon_days")
        if innovations is None:
            z = draw_innovations(_rng(rng), (n_paths, horizon), self.nu_)
        else:
            z = np.ascontiguousarray(innovations, dtype=np.float64)
            if z.shape != (n_paths, horizon):
                raise InputError(
                    "innovations", f"array of shape {z.shape}", f"shape ({n_paths}, {horizon})"
                )
            if not np.isfinite(z).all():
                raise InputError("innovations", "non-finite values", "finite innovations")
        paths = _garch_simulate(
            self.mu_ * SCALE,
            self._omega,
            self._alpha,
            self._gamma,
            self._beta,
            self._eps_hist,
            self._sigma2_hist,
            z,
        )
        return paths / SCALE

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise ModelError("GarchVolatility is not fitted: call fit(returns) first")


# ---------------------------------------------------------------------------------------
# many series: numba likelihood + SLSQP
# ---------------------------------------------------------------------------------------


class GarchPanel(Estimator):
    """GARCH(1,1) or GJR-GARCH(1,1,1) fitted column by column to a panel of returns, fast.

    Same model, likelihood, start-up (backcast) and constraints as ``arch``; the
    likelihood is a numba kernel and each column is optimised with SciPy's SLSQP. Meant for
    risk *factors* (tens to hundreds of columns): fitting one GARCH per instrument for
    10,000 instruments is neither fast nor statistically sound.

    Parameters
    ----------
    o : {0, 1}, default 0
        1 adds the GJR leverage term :math:`\\gamma`.
    dist : {"t", "normal"}, default "t"
    mean : {"constant", "zero"}, default "constant"
    max_iter : int, default 500
        SLSQP iteration cap per start point. A column whose optimiser stops without meeting
        its tolerance from every start keeps its best point and draws a
        :class:`~riskstream.core.warnings.ConvergenceWarning`.

    Attributes
    ----------
    mu_, omega_, alpha_, gamma_, beta_ : ndarray of shape (n_assets,)
        Estimates in **percent** units (:math:`\\mu` in %, :math:`\\omega` in %²);
        ``gamma_`` is zeros when ``o=0``, ``mu_`` zeros for a zero mean.
    nu_ : ndarray of shape (n_assets,) or None
        Student-t degrees of freedom (None for normal innovations).
    conditional_volatility_ : ndarray of shape (n_obs, n_assets)
        :math:`\\sigma_t` (decimal, daily).
    standardized_residuals_ : ndarray of shape (n_obs, n_assets)
        :math:`z_t = (r_t - \\mu)/\\sigma_t`, rows aligned in time across assets.
    next_volatility_ : ndarray of shape (n_assets,)
        One-step-ahead forecast :math:`\\sigma_{T+1}` (decimal, daily): "today's volatility".
    loglikelihood_ : ndarray of shape (n_assets,)
        Maximised log-likelihood per column (percent-scaled data).
    scale_ : float
        :data:`SCALE`.
    converged_ : ndarray of bool, shape (n_assets,)
        Whether SLSQP met its convergence test for each column (from at least one start).
    warnings_ : list of str
        Convergence and data-scale warnings of the fit (empty when clean).
    """

    def __init__(
        self, o: int = 0, dist: str = "t", mean: str = "constant", max_iter: int = 500
    ) -> None:
        self.o = o
        self.dist = dist
        self.mean = mean
        self.max_iter = max_iter

    def fit(self, returns: ArrayLike) -> GarchPanel:
        """Fit every column of ``returns`` (n_obs, n_assets), daily log returns (decimal).

        Raises
        ------
        InputError
            ``o`` not 0 or 1, bad ``dist``/``mean``, too few observations, NaN/inf or
            constant columns.
        ModelError
            A column's likelihood could not be evaluated anywhere (named by column index).

        Warns
        -----
        ConvergenceWarning
            A column's optimiser stopped short of convergence from every start (recorded in
            ``warnings_``; ``converged_`` is False for it).
        DataScaleWarning
            Most of a column's returns are exactly zero (see :data:`MAX_ZERO_SHARE`).
        """
        if self.o not in (0, 1) or isinstance(self.o, bool):
            raise InputError("o", self.o, "0 (GARCH) or 1 (GJR-GARCH)")
        dist = check_choice(self.dist, "dist", _DISTS)
        mean = check_choice(self.mean, "mean", _MEANS)
        max_iter = check_positive_int(self.max_iter, "max_iter")
        y_all = as_returns_matrix(returns, min_obs=MIN_GARCH_OBS) * SCALE
        self._start_warnings()
        _check_scale(self, y_all / SCALE)
        n_obs, n_assets = y_all.shape
        has_mu, has_gamma, dist_t = mean == "constant", self.o == 1, dist == "t"
        names = _param_names(has_mu, has_gamma, dist_t)
        params = np.empty((n_assets, len(names)))
        loglik = np.empty(n_assets)
        converged = np.ones(n_assets, dtype=bool)
        for k in range(n_assets):
            y_k = np.ascontiguousarray(y_all[:, k])
            theta, nll, ok, status = _fit_one(y_k, has_mu, has_gamma, dist_t, k, max_iter)
            params[k] = theta
            loglik[k] = -nll
            if not ok:
                converged[k] = False
                self._warn(
                    ConvergenceWarning,
                    f"column {k}: SLSQP did not converge from any start ({status}); "
                    "the best point reached is kept",
                )
        self.converged_ = converged
        col = {name: params[:, i] for i, name in enumerate(names)}
        zeros = np.zeros(n_assets)
        self.mu_ = col.get("mu", zeros).copy()
        self.omega_ = col["omega"].copy()
        self.alpha_ = col["alpha"].copy()
        self.gamma_ = col.get("gamma", zeros).copy()
        self.beta_ = col["beta"].copy()
        self.nu_ = col["nu"].copy() if dist_t else None
        self.loglikelihood_ = loglik
        self.scale_ = SCALE
        sigma2 = np.empty((n_obs, n_assets))
        for k in range(n_assets):
            y = np.ascontiguousarray(y_all[:, k])
            sigma2[:, k] = _garch11_variance(
                y,
                self.mu_[k],
                self.omega_[k],
                self.alpha_[k],
                self.gamma_[k],
                self.beta_[k],
                _backcast(y, has_mu),
            )
        resid = y_all - self.mu_
        sigma = np.sqrt(sigma2)
        self.conditional_volatility_ = sigma / SCALE
        self.standardized_residuals_ = resid / sigma
        e_last = resid[-1]
        s2_next = self.omega_ + (self.alpha_ + self.gamma_ * (e_last < 0)) * e_last**2
        s2_next += self.beta_ * sigma2[-1]
        self._sigma2_next = s2_next
        self.next_volatility_ = np.sqrt(s2_next) / SCALE
        return self

    def update(self, r_t: ArrayLike) -> GarchPanel:
        """Absorb one new day of returns ``r_t`` (n_assets,), decimal log returns, with the
        parameters held fixed: append its standardised residual and conditional volatility,
        and roll tomorrow's variance forward,
        :math:`\\sigma^2_{T+2} = \\omega + (\\alpha + \\gamma\\mathbf 1[\\epsilon<0])
        \\epsilon^2_{T+1} + \\beta\\sigma^2_{T+1}`. O(n_assets); returns ``self``.

        Re-estimate with :meth:`fit` periodically (e.g. weekly); parameters move slowly.
        """
        self._check_fitted()
        e = as_return_row(r_t, self.mu_.shape[0]) * SCALE - self.mu_
        s2 = self._sigma2_next
        self.standardized_residuals_ = np.vstack([self.standardized_residuals_, e / np.sqrt(s2)])
        self.conditional_volatility_ = np.vstack(
            [self.conditional_volatility_, np.sqrt(s2) / SCALE]
        )
        self._sigma2_next = self.omega_ + (self.alpha_ + self.gamma_ * (e < 0)) * e**2
        self._sigma2_next += self.beta_ * s2
        self.next_volatility_ = np.sqrt(self._sigma2_next) / SCALE
        return self

    def forecast_variance(self, horizon_days: int) -> np.ndarray:
        """Expected daily variances :math:`E_T[\\sigma^2_{T+h}]`, shape (horizon, n_assets),
        decimal². Closed form: :math:`\\bar\\sigma^2 + \\phi^{h-1}(\\sigma^2_{T+1} -
        \\bar\\sigma^2)` with persistence :math:`\\phi = \\alpha + \\gamma/2 + \\beta` (the
        GJR half assumes symmetric innovations) and :math:`\\bar\\sigma^2 = \\omega/(1-\\phi)`.
        """
        self._check_fitted()
        horizon = check_positive_int(horizon_days, "horizon_days")
        phi = self.alpha_ + 0.5 * self.gamma_ + self.beta_
        h = np.arange(horizon)[:, None]
        # written as a sum so that phi = 1 (integrated) needs no division
        var = self._sigma2_next * phi**h + self.omega_ * _geometric_sum(phi, h)
        return var / SCALE**2

    def simulate(
        self,
        n_paths: int,
        horizon_days: int,
        rng: np.random.Generator | int | None = None,
        innovations: ArrayLike | None = None,
    ) -> np.ndarray:
        """Simulate daily log-return paths of every asset through the GARCH recursion.

        Parameters
        ----------
        innovations : array_like of shape (n_paths, horizon_days, n_assets), optional
            Standardised innovations; default: independent draws from each column's fitted
            distribution. Pass dependent ones (copula, bootstrapped residual rows) to keep
            cross-sectional dependence.

        Returns
        -------
        ndarray of shape (n_paths, horizon_days, n_assets)
            Daily log returns (decimal), starting from tomorrow's variance σ²_{T+1}.
        """
        self._check_fitted()
        n_paths = check_positive_int(n_paths, "n_paths")
        horizon = check_positive_int(horizon_days, "horizon_days")
        n_assets = self.mu_.shape[0]
        shape = (n_paths, horizon, n_assets)
        if innovations is None:
            z = draw_innovations(_rng(rng), shape, self.nu_)
        else:
            z = np.ascontiguousarray(innovations, dtype=np.float64)
            if z.shape != shape:
                raise InputError("innovations", f"array of shape {z.shape}", f"shape {shape}")
        paths = _panel_simulate(
            self.mu_, self.omega_, self.alpha_, self.gamma_, self.beta_, self._sigma2_next, z
        )
        return paths / SCALE

    def _check_fitted(self) -> None:
        if not hasattr(self, "omega_"):
            raise ModelError("GarchPanel is not fitted: call fit(returns) first")


def _extra_scale(y_pct: np.ndarray) -> float:
    """Power of ten bringing percent returns into ``arch``'s well-conditioned range.

    1 when the variance of the percent series is in [1, 1000] (daily equity, FX and
    commodity returns); otherwise :math:`10^{-\\lfloor \\log_{10} s \\rfloor}`, giving a
    standard deviation in [1, 10) — e.g. for calm rate or spread changes.
    """
    var = float(y_pct.var())
    if 1.0 <= var <= 1000.0:
        return 1.0
    return float(10.0 ** -np.floor(np.log10(np.sqrt(var))))


def _geometric_sum(phi: np.ndarray, h: np.ndarray) -> np.ndarray:
    """:math:`\\sum_{i<h} \\phi^i` elementwise, valid at :math:`\\phi = 1`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (1.0 - phi**h) / (1.0 - phi)
    return np.where(np.isclose(phi, 1.0), h.astype(np.float64), out)


def _param_names(has_mu: bool, has_gamma: bool, dist_t: bool) -> list[str]:
    names = ["mu"] if has_mu else []
    names += ["omega", "alpha"] + (["gamma"] if has_gamma else []) + ["beta"]
    return names + (["nu"] if dist_t else [])


def _backcast(y: np.ndarray, has_mu: bool) -> float:
    """``arch``'s backcast: 0.94-weighted mean of the first ≤75 squared residuals."""
    e = y - y.mean() if has_mu else y
    tau = min(75, e.shape[0])
    w = 0.94 ** np.arange(tau)
    return float(np.sum(e[:tau] ** 2 * w / w.sum()))


def _check_scale(model: Estimator, y: np.ndarray) -> None:
    """:class:`DataScaleWarning` for each column of returns ``y`` (n_obs, n_assets) with
    more than :data:`MAX_ZERO_SHARE` of its values exactly zero."""
    zero = (y == 0.0).mean(axis=0)
    for k in np.flatnonzero(zero > MAX_ZERO_SHARE):
        model._warn(
            DataScaleWarning,
            f"column {k}: {zero[k]:.0%} of the returns are exactly zero (stale or coarsely "
            "quantised prices); the GARCH fit reflects the data's resolution, not its "
            "volatility",
        )


def _fit_one(
    y_in: np.ndarray,
    has_mu: bool,
    has_gamma: bool,
    dist_t: bool,
    column: int,
    max_iter: int = 500,
) -> tuple[np.ndarray, float, bool, str]:
    """Maximise one column's likelihood with SLSQP from the best of a few start points.

    The optimiser's tolerances and finite-difference steps are absolute, so the series is
    first divided by its standard deviation :math:`s` (GARCH is scale-equivariant) and the
    estimates mapped back: :math:`\\mu s`, :math:`\\omega s^2`, the log-likelihood less
    :math:`n \\ln s`; :math:`\\alpha, \\gamma, \\beta, \\nu` are unit-free. Returns the
    estimates, the negative log-likelihood, whether any start met SLSQP's tolerance (the
    estimates are the lowest objective reached either way) and the best run's status.
    """
    s = float(y_in.std())
    y = y_in / s
    backcast = _backcast(y, has_mu)
    var = float(y.var())
    mean = float(y.mean())
    bounds: list[tuple[Any, Any]] = []
    if has_mu:
        bounds.append((-10.0 * abs(mean) - 1.0, 10.0 * abs(mean) + 1.0))
    bounds += [(1e-8 * var, 10.0 * var), (0.0, 1.0)]
    if has_gamma:
        bounds.append((-1.0, 2.0))
    bounds.append((0.0, 1.0))
    if dist_t:
        bounds.append(NU_BOUNDS)
    i_a = 2 if has_mu else 1
    i_g = i_a + 1 if has_gamma else None
    i_b = i_a + (2 if has_gamma else 1)

    def persistence_slack(theta: np.ndarray) -> float:
        g = 0.5 * theta[i_g] if i_g is not None else 0.0
        return 1.0 - theta[i_a] - g - theta[i_b]

    constraints: list[dict[str, Any]] = [{"type": "ineq", "fun": persistence_slack}]
    if i_g is not None:  # α + γ ≥ 0: the variance responds non-negatively to bad news
        constraints.append({"type": "ineq", "fun": lambda th: th[i_a] + th[i_g]})

    def objective(theta: np.ndarray) -> float:
        return _garch11_nll(theta, y, backcast, has_mu, has_gamma, dist_t)

    starts = []
    for a, g, b in ((0.05, 0.05, 0.90), (0.10, 0.05, 0.80), (0.03, 0.03, 0.95), (0.15, 0.0, 0.6)):
        g = g if has_gamma else 0.0
        theta = [mean] if has_mu else []
        theta += [var * max(1.0 - a - g / 2 - b, 0.01), a] + ([g] if has_gamma else []) + [b]
        theta += [8.0] if dist_t else []
        starts.append(np.array(theta))
    start = min(starts, key=objective)
    best = None
    converged = False
    for method_start in (start, *starts):
        res = minimize(
            objective,
            method_start,
            method="SLSQP",
            bounds=bounds,
            constraints=constraints,
            options={"maxiter": max_iter, "ftol": 1e-9},
        )
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun - 1e-9):
            best = res
        if res.success:
            converged = True
            break
    if best is None or not np.isfinite(best.fun) or best.fun >= 1e99:
        raise ModelError(f"GARCH fit of column {column} did not converge")
    theta = np.asarray(best.x, dtype=np.float64)
    if has_mu:
        theta[0] *= s
    theta[1 if has_mu else 0] *= s * s
    status = "converged" if converged else f"status {best.status}: {best.message}"
    return theta, float(best.fun) + y.shape[0] * np.log(s), converged, status
