"""Value at Risk and Expected Shortfall: from scenario P&L, in closed form, and for a series.

Sign convention: every function takes **P&L** (gains positive) and returns **VaR and ES as
positive loss amounts** in the units of the P&L. A loss is ``L = -pnl``.

Quantile convention (scenario measures)
---------------------------------------
With ``n`` equally likely scenarios and confidence ``c``, VaR is the empirical loss quantile
of the *inverted CDF* type (Hyndman & Fan 1996 definition 1, ``numpy.quantile(losses, c,
method="inverted_cdf")``): the smallest loss ``l`` with ``P(L <= l) >= c``, i.e. the
``ceil(n c)``-th smallest loss. ES is the mean of the ``k = n - ceil(n c) + 1`` largest
losses (the VaR scenario and every scenario beyond it), so ``ES >= VaR`` always, and the
set of tail scenarios is fixed, which makes the Euler allocation of ES exact (see
:mod:`riskstream.risk.euler`). For ``n = 10,000`` and ``c = 0.99``, VaR is the 101st
largest loss and ES the mean of the 101 largest.

Methods for a single series (:func:`var_es`)
--------------------------------------------
* ``historical`` — the empirical measure of the series (one day); longer horizons use
  the overlapping ``h``-day windows of the series, built by the models package's
  historical-simulation generator (actual paths, not :math:`\\sqrt{h}` scaling).
* ``parametric`` — normal (delta-normal): :math:`VaR = -\\mu h + z_c \\sigma\\sqrt h`,
  :math:`ES = -\\mu h + \\sigma\\sqrt h\\,\\varphi(z_c)/(1-c)` (Jorion, *Value at Risk*, 3rd
  ed., ch. 5; McNeil, Frey & Embrechts, *Quantitative Risk Management*, ex. 2.14).
* ``cornish_fisher`` — the normal quantile corrected for sample skewness and excess
  kurtosis (Cornish & Fisher 1937; Zangari 1996), ES by integrating the corrected quantile
  over the tail.
* ``mc`` and ``fhs`` — horizon outcomes simulated by the models package's Monte Carlo
  (GARCH marginals) and filtered-historical-simulation generators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import quad
from scipy.special import ndtri
from scipy.stats import kurtosis, norm, skew

from riskstream.core.errors import InputError, ModelError

SeriesMethod = Literal["historical", "parametric", "cornish_fisher", "mc", "fhs"]
SERIES_METHODS: tuple[str, ...] = ("historical", "parametric", "cornish_fisher", "mc", "fhs")


# --------------------------------------------------------------------------- validation


def check_confidence(confidence: float, field: str = "confidence") -> float:
    """``confidence`` as a float strictly between 0 and 1, else :class:`InputError`."""
    c = float(confidence)
    if not (0.0 < c < 1.0) or not np.isfinite(c):
        raise InputError(field, confidence, "a number strictly between 0 and 1, e.g. 0.99")
    return c


def check_horizon(horizon_days: int, field: str = "horizon_days") -> int:
    """``horizon_days`` as a positive int, else :class:`InputError`."""
    if isinstance(horizon_days, bool) or int(horizon_days) != horizon_days or horizon_days < 1:
        raise InputError(field, horizon_days, "a whole number of days >= 1")
    return int(horizon_days)


def check_series(values: ArrayLike, field: str = "returns", min_length: int = 2) -> np.ndarray:
    """A 1-D float64 copy of ``values``; NaN/inf or too few values raise :class:`InputError`."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(field, f"array of shape {x.shape}", "a one-dimensional series")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InputError(
            field,
            float(x[bad[0]]),
            f"finite numbers; {bad.size} non-finite value(s), first at position {bad[0]}",
        )
    if x.size < min_length:
        raise InputError(field, f"{x.size} value(s)", f"at least {min_length} observations")
    return x


# ------------------------------------------------------------------ scenario measures


def var_rank(n_scenarios: int, confidence: float) -> int:
    """0-based index of the VaR scenario among losses sorted ascending: ``ceil(n c) - 1``.

    Computed with the same float arithmetic as ``numpy.quantile(..., method="inverted_cdf")``.
    """
    return min(max(int(np.ceil(n_scenarios * confidence)) - 1, 0), n_scenarios - 1)


def tail_size(n_scenarios: int, confidence: float) -> int:
    """Number of scenarios ES averages over: the VaR scenario and every worse one."""
    return n_scenarios - var_rank(n_scenarios, confidence)


def tail_indices(pnl: np.ndarray, confidence: float) -> np.ndarray:
    """Indices of the ``tail_size`` scenarios with the largest losses (unordered)."""
    n = pnl.shape[0]
    k = var_rank(n, confidence)
    # argpartition on losses puts the k-th smallest loss at position k and the larger ones
    # after it: positions k.. are the tail (ties broken deterministically by the algorithm).
    return np.argpartition(-pnl, k)[k:]


def var_es_from_pnl(pnl: ArrayLike, confidence: float) -> tuple[float, float]:
    """VaR and ES (positive losses) of equally likely scenario P&L.

    Parameters
    ----------
    pnl : ndarray of shape (n_scenarios,)
        Scenario P&L, gains positive.
    confidence : float
        E.g. 0.99.

    Returns
    -------
    (var, es) : tuple of float
        See the module docstring for the quantile convention.
    """
    losses = -np.asarray(pnl, dtype=np.float64)
    c = check_confidence(confidence)
    k = var_rank(losses.shape[0], c)
    part = np.partition(losses, k)
    return float(part[k]), float(part[k:].mean())


# --------------------------------------------------------------- closed-form measures


def normal_var_es(mean: float, std: float, confidence: float) -> tuple[float, float]:
    """VaR and ES of normally distributed P&L with ``mean`` and ``std`` (losses positive).

    .. math:: VaR = -\\mu + z_c\\sigma, \\qquad ES = -\\mu + \\sigma\\,\\varphi(z_c)/(1-c)

    with :math:`z_c = \\Phi^{-1}(c)`.
    """
    c = check_confidence(confidence)
    if not std >= 0:
        raise InputError("std", std, "a non-negative standard deviation")
    z = ndtri(c)
    return float(-mean + z * std), float(-mean + std * norm.pdf(z) / (1.0 - c))


def cornish_fisher_z(z: ArrayLike, skewness: float, excess_kurtosis: float) -> np.ndarray:
    """Cornish-Fisher expansion of a standard-normal quantile ``z`` to third order.

    .. math::
        z_{cf} = z + \\frac{(z^2-1)S}{6} + \\frac{(z^3-3z)K}{24} - \\frac{(2z^3-5z)S^2}{36}

    ``S`` is the skewness and ``K`` the excess kurtosis of the P&L (Cornish & Fisher 1937;
    Zangari 1996, RiskMetrics Monitor Q1; Jorion, *Value at Risk*, 3rd ed., ch. 10).
    """
    z = np.asarray(z, dtype=np.float64)
    s, k = skewness, excess_kurtosis
    return z + (z * z - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s * s / 36


def check_cornish_fisher_domain(skewness: float, excess_kurtosis: float, z_tail: float) -> None:
    """Raise :class:`ModelError` unless the Cornish-Fisher quantile increases over the tail.

    The expansion is a quantile function only where
    :math:`dz_{cf}/dz = a z^2 + b z + c_0 > 0`, with :math:`a = K/8 - S^2/6`,
    :math:`b = S/3`, :math:`c_0 = 1 - K/8 + 5S^2/36` (Maillard 2012, "A user's guide to the
    Cornish Fisher expansion", section 3). Positivity on the whole line is very restrictive
    (it fails for most delta-gamma books), so we require it where the measure reads the
    expansion: from 4 beyond the tail quantile ``z_tail`` up to the median,
    :math:`z \\in [z_{tail} - 4, 0]`. Outside that domain VaR may decrease with confidence
    and ES may fall below VaR: refused, never returned.
    """
    s, k = float(skewness), float(excess_kurtosis)
    if not np.isfinite(s) or not np.isfinite(k):
        raise ModelError(f"Cornish-Fisher needs finite moments; got skewness {s}, kurtosis {k}")
    z = np.linspace(z_tail - 4.0, 0.0, 401)
    slope = (k / 8 - s * s / 6) * z * z + (s / 3) * z + (1 - k / 8 + 5 * s * s / 36)
    if np.any(slope <= 0):
        raise ModelError(
            f"Cornish-Fisher expansion outside its domain of validity (Maillard 2012): "
            f"skewness {s:.4g}, excess kurtosis {k:.4g}; use the historical or mc method"
        )


def cornish_fisher_var_es(
    mean: float, std: float, skewness: float, excess_kurtosis: float, confidence: float
) -> tuple[float, float]:
    """VaR and ES of P&L with the given first four moments, by Cornish-Fisher.

    VaR is :math:`-(\\mu + z_{cf}(1-c)\\,\\sigma)` with the *lower* P&L quantile
    :math:`z = \\Phi^{-1}(1-c)`. ES averages the Cornish-Fisher VaR over tail levels
    :math:`u \\in (c, 1)` (ES is the mean of VaR beyond c; Acerbi & Tasche 2002, eq. 3.3),
    by adaptive quadrature (``scipy.integrate.quad``) in the normal quantile.
    """
    c = check_confidence(confidence)
    z = ndtri(1.0 - c)
    check_cornish_fisher_domain(skewness, excess_kurtosis, z)
    var = -(mean + float(cornish_fisher_z(z, skewness, excess_kurtosis)) * std)

    def tail_loss(y: float) -> float:  # loss at lower P&L quantile z = -y, weighted by phi
        return -(mean + float(cornish_fisher_z(-y, skewness, excess_kurtosis)) * std) * norm.pdf(y)

    # ES = 1/(1-c) * integral over u in (c, 1) of VaR_u; with u = Phi(y) this is the
    # integral of VaR(Phi(y)) phi(y) dy over y > z_c (no singularity at u -> 1).
    integral, _ = quad(tail_loss, -z, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)
    return float(var), float(integral / (1.0 - c))


def delta_gamma_moments(
    delta: ArrayLike, gamma: ArrayLike, cov: ArrayLike
) -> tuple[float, float, float, float]:
    """Mean, standard deviation, skewness and excess kurtosis of delta-gamma P&L.

    For factor moves :math:`x \\sim N(0, \\Sigma)` and P&L
    :math:`\\Delta V = \\delta' x + \\tfrac12 x'\\Gamma x`, the cumulants are (Mina & Ulmer
    1999; Jorion, *Value at Risk*, 3rd ed., ch. 10; Britten-Jones & Schaefer 1999):

    .. math::
        \\kappa_1 = \\tfrac12\\operatorname{tr}(\\Gamma\\Sigma),\\quad
        \\kappa_2 = \\delta'\\Sigma\\delta + \\tfrac12\\operatorname{tr}((\\Gamma\\Sigma)^2),

        \\kappa_3 = 3\\,\\delta'\\Sigma\\Gamma\\Sigma\\delta
                  + \\operatorname{tr}((\\Gamma\\Sigma)^3),

        \\kappa_4 = 12\\,\\delta'\\Sigma(\\Gamma\\Sigma)^2\\delta
                  + 3\\operatorname{tr}((\\Gamma\\Sigma)^4).

    Parameters
    ----------
    delta : ndarray of shape (n_factors,)
        First derivatives of the portfolio value in the factor moves (currency per unit).
    gamma : ndarray of shape (n_factors, n_factors)
        Second derivatives (symmetric).
    cov : ndarray of shape (n_factors, n_factors)
        Covariance of the factor moves over the horizon.
    """
    d = np.atleast_1d(np.asarray(delta, dtype=np.float64))
    G = np.atleast_2d(np.asarray(gamma, dtype=np.float64))
    S = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    GS = G @ S
    GS2 = GS @ GS
    Sd = S @ d
    k1 = 0.5 * np.trace(GS)
    k2 = d @ Sd + 0.5 * np.trace(GS2)
    k3 = 3.0 * Sd @ G @ Sd + np.trace(GS2 @ GS)
    k4 = 12.0 * Sd @ G @ S @ G @ Sd + 3.0 * np.trace(GS2 @ GS2)
    std = float(np.sqrt(k2))
    if std == 0:
        return float(k1), 0.0, 0.0, 0.0
    return float(k1), std, float(k3 / std**3), float(k4 / std**4)


def delta_gamma_var_es(
    delta: ArrayLike, gamma: ArrayLike, cov: ArrayLike, confidence: float
) -> tuple[float, float]:
    """Delta-gamma VaR and ES by Cornish-Fisher on the delta-gamma moments."""
    mean, std, s, k = delta_gamma_moments(delta, gamma, cov)
    return cornish_fisher_var_es(mean, std, s, k, confidence)


# ------------------------------------------------------------------- series measures


@dataclass(frozen=True)
class VaRResult:
    """VaR and ES of one series (positive loss amounts in the series' units)."""

    var: float
    es: float
    confidence: float
    method: str
    horizon_days: int
    n_observations: int

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "var": self.var,
            "es": self.es,
            "confidence": self.confidence,
            "method": self.method,
            "horizon_days": self.horizon_days,
            "n_observations": self.n_observations,
        }


def simulate_series(
    x: np.ndarray, method: str, horizon_days: int, n_scenarios: int, seed: int
) -> np.ndarray:
    """Horizon outcomes of a series drawn by the models package's scenario generator.

    ``historical`` uses overlapping ``h``-day windows of the series (every window the
    history holds, up to ``n_scenarios``); ``mc`` and ``fhs`` draw ``n_scenarios`` paths.
    The series is standardised by its standard deviation before fitting (GARCH fits are
    scale-sensitive; VaR is positively homogeneous so the draw is scaled back exactly).
    Returns an array of shape (n,) of summed ``horizon_days`` outcomes.
    """
    from riskstream.models import scenario_generator

    scale = float(x.std(ddof=1)) or 1.0
    z = (x / scale)[:, None]
    if method == "historical":
        generator = scenario_generator("historical", paths="overlapping").fit(z)
        n_scenarios = min(n_scenarios, x.size - horizon_days + 1)
        if n_scenarios < 1:
            raise InputError(
                "returns",
                f"{x.size} values",
                f"more than {horizon_days} for {horizon_days}-day windows",
            )
    else:
        generator = scenario_generator(method).fit(z)
    draws = generator.generate(n_scenarios, horizon_days, seed)
    return np.asarray(draws, dtype=np.float64)[:, 0] * scale


def var_es(
    series: ArrayLike,
    confidence: float,
    method: SeriesMethod = "historical",
    horizon_days: int = 1,
    *,
    n_scenarios: int = 10_000,
    seed: int = 0,
) -> VaRResult:
    """VaR and ES of a single P&L or return series — the stable entry point.

    Used by ``riskstream var`` and the backtest package. The series is treated as additive
    daily outcomes (P&L, or log returns): an ``h``-day outcome is the sum of ``h`` daily
    ones. Gains are positive; VaR and ES are returned as positive losses in the units of
    the series (currency for P&L, a fraction for returns).

    Parameters
    ----------
    series : array_like of shape (n_observations,)
        Daily outcomes, oldest first; must be finite.
    confidence : float
        Confidence level in (0, 1), e.g. 0.99.
    method : {"historical", "parametric", "cornish_fisher", "mc", "fhs"}
        See the module docstring.
    horizon_days : int
        Horizon in days (>= 1).
    n_scenarios, seed : int
        Size and seed of the simulation (``mc``, ``fhs``, and ``historical`` beyond one day).

    Raises
    ------
    InputError
        NaN or infinite values, fewer than 2 observations, a confidence outside (0, 1), a
        horizon below 1 day, or an unknown method.
    ModelError
        ``cornish_fisher`` with sample moments outside the expansion's domain of validity.
    """
    x = check_series(series)
    c = check_confidence(confidence)
    h = check_horizon(horizon_days)
    if method not in SERIES_METHODS:
        raise InputError("method", method, f"one of {', '.join(SERIES_METHODS)}")
    if method == "historical" and h == 1:
        var, es = var_es_from_pnl(x, c)
    elif method == "parametric":
        var, es = normal_var_es(x.mean() * h, x.std(ddof=1) * np.sqrt(h), c)
    elif method == "cornish_fisher":
        if x.size < 4:
            raise InputError("returns", f"{x.size} values", "at least 4 for sample kurtosis")
        # Moments of an h-day sum of i.i.d. days: skewness / sqrt(h), excess kurtosis / h.
        s = float(skew(x, bias=False)) / np.sqrt(h)
        k = float(kurtosis(x, fisher=True, bias=False)) / h
        var, es = cornish_fisher_var_es(x.mean() * h, x.std(ddof=1) * np.sqrt(h), s, k, c)
    else:
        draws = simulate_series(x, method, h, n_scenarios, seed)
        var, es = var_es_from_pnl(draws, c)
    return VaRResult(float(var), float(es), c, method, h, int(x.size))
