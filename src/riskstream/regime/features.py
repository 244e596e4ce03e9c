"""Regime features: what the detectors and the LSTM read, and the market features the stage
can add (term structure, futures basis, implied-volatility surface, macro betas,
microstructure).

Everything here is a plain function over columnar arrays (oldest row first); the per-row
stream features are one numba kernel with explicit state, so the batch and the online paths
are the same code and row ``t`` never sees row ``t+1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError

STREAM_FEATURES = ("log_var", "log_var_fast", "log_var_slow", "avg_corr", "dispersion")
VAR_FLOOR = 1e-4


def stream_state() -> np.ndarray:
    """Initial state of :func:`stream_features` (EWMAs started at unit variance, zero
    correlation: the training mean of standardised returns)."""
    return np.array([1.0, 1.0, 1.0, 1.0, 0.0])


@njit(cache=True)
def stream_features(z, state, hl_fast, hl_slow):  # pragma: no cover - numba
    """Per-row features of standardised cross-asset returns ``z`` (n_obs, n_assets).

    Columns (see ``STREAM_FEATURES``):

    0. :math:`\\log(\\overline{z_t^2} + c)`: this row's log cross-sectional variance;
    1. log EWMA of :math:`\\overline{z_t^2}`, half-life ``hl_fast`` rows;
    2. the same, half-life ``hl_slow`` rows;
    3. EWMA average pairwise correlation, from
       :math:`E[(\\sum_i z_i)^2] = N + N(N-1)\\bar\\rho` for unit-variance :math:`z`:
       :math:`\\hat{\\bar\\rho} = (\\mathrm{EWMA}[(\\sum z)^2]/\\mathrm{EWMA}[\\sum z^2] - 1)/(N-1)`
       (half-life ``hl_slow``; equals the mean off-diagonal of the RiskMetrics EWMA
       correlation when the assets' variances are equal);
    4. log EWMA of the cross-sectional dispersion :math:`\\overline{(z_t - \\bar z_t)^2}`.

    ``state`` = [ewma_fast, ewma_slow, ewma_sumsq, ewma_sum2, ewma_disp] is updated in place.
    """
    n_obs, n = z.shape
    a_fast = 0.5 ** (1.0 / hl_fast)
    a_slow = 0.5 ** (1.0 / hl_slow)
    out = np.empty((n_obs, 5))
    for t in range(n_obs):
        s = 0.0
        ss = 0.0
        for i in range(n):
            s += z[t, i]
            ss += z[t, i] * z[t, i]
        msq = ss / n
        disp = msq - (s / n) ** 2
        state[0] = a_fast * state[0] + (1 - a_fast) * msq
        state[1] = a_slow * state[1] + (1 - a_slow) * msq
        state[2] = a_slow * state[2] + (1 - a_slow) * ss
        state[3] = a_slow * state[3] + (1 - a_slow) * s * s
        state[4] = a_slow * state[4] + (1 - a_slow) * disp
        out[t, 0] = np.log(msq + 1e-4)
        out[t, 1] = np.log(state[0] + 1e-4)
        out[t, 2] = np.log(state[1] + 1e-4)
        out[t, 3] = (state[3] / state[2] - 1.0) / (n - 1) if n > 1 else 0.0
        out[t, 4] = np.log(state[4] + 1e-4)
    return out


# --- correlations from riskstream.models ----------------------------------------------------


def rolling_correlation(returns: ArrayLike, window: int) -> np.ndarray:
    """Average pairwise Pearson correlation over a trailing window of ``window`` rows.

    Returns (n_obs,), NaN for the first ``window - 1`` rows (not enough history).
    """
    r = np.asarray(returns, dtype=np.float64)
    if window < 3 or window > len(r):
        raise InputError("window", window, f"an integer in [3, {len(r)}]")
    n = r.shape[1]
    out = np.full(len(r), np.nan)
    for t in range(window - 1, len(r)):
        c = np.corrcoef(r[t - window + 1 : t + 1], rowvar=False)
        out[t] = (c.sum() - n) / (n * (n - 1))
    return out


def ewma_correlation(returns: ArrayLike, lam: float = 0.94) -> np.ndarray:
    """Average pairwise RiskMetrics EWMA correlation after each row, shape (n_obs,); NaN
    for row 0.

    Uses :class:`riskstream.models.EWMACovariance` (one place for the EWMA recursion).
    """
    from riskstream.models import EWMACovariance

    r = np.asarray(returns, dtype=np.float64)
    n = r.shape[1]
    out = np.full(len(r), np.nan)  # row 0: one observation, no correlation yet
    model = EWMACovariance(lam=lam).fit(r[:2])
    for t in range(1, len(r)):
        if t >= 2:
            model.update(r[t])
        c = model.correlation_
        out[t] = (c.sum() - n) / (n * (n - 1))
    return out


def dcc_correlation(returns: ArrayLike) -> np.ndarray:
    """One-step-ahead average pairwise DCC-GARCH correlation (Engle 2002) after the sample.

    Uses :class:`riskstream.models.DCCGarch`; returns the (n_assets, n_assets) forecast.
    """
    from riskstream.models import DCCGarch

    return DCCGarch().fit(np.asarray(returns, dtype=np.float64)).forecast_correlation(1)


# --- term structure, basis, implied volatility ----------------------------------------------


def curve_factors(yields: ArrayLike, maturities_years: ArrayLike) -> np.ndarray:
    """Level, slope and curvature of yield curves (Diebold & Li 2006 proxies).

    Parameters
    ----------
    yields : array_like of shape (n_obs, n_maturities)
        Zero or par yields in decimal.
    maturities_years : array_like of shape (n_maturities,)
        Ascending maturities in years.

    Returns
    -------
    ndarray of shape (n_obs, 3)
        level :math:`= (y_s + y_m + y_l)/3`, slope :math:`= y_l - y_s`, curvature
        :math:`= 2 y_m - y_s - y_l`, with :math:`s, m, l` the shortest, the middle (closest
        to the median maturity) and the longest maturity — Diebold & Li's empirical
        counterparts (3M, 2Y, 10Y in their paper).
    """
    y = np.atleast_2d(np.asarray(yields, dtype=np.float64))
    m = np.asarray(maturities_years, dtype=np.float64)
    if y.shape[1] != len(m) or len(m) < 3 or np.any(np.diff(m) <= 0):
        raise InputError("maturities_years", m.tolist(), "≥ 3 ascending maturities, one per column")
    mid = int(np.argmin(np.abs(m - np.median(m))))
    short, middle, long_ = y[:, 0], y[:, mid], y[:, -1]
    return np.column_stack(
        [(short + middle + long_) / 3, long_ - short, 2 * middle - short - long_]
    )


def futures_basis(futures: ArrayLike, spot: ArrayLike, years_to_expiry: ArrayLike) -> np.ndarray:
    """Annualised futures basis :math:`\\ln(F/S)/\\tau` (decimal per year): the implied
    carry (financing less dividend/convenience yield); it collapses or inverts in stress."""
    f, s, tau = (np.asarray(v, dtype=np.float64) for v in (futures, spot, years_to_expiry))
    if np.any(tau <= 0):
        raise InputError("years_to_expiry", float(np.min(tau)), "a positive time to expiry")
    return np.log(f / s) / tau


def iv_skew(iv_put_otm: ArrayLike, iv_call_otm: ArrayLike, iv_atm: ArrayLike) -> np.ndarray:
    """Implied-volatility skew: (OTM put vol − OTM call vol) / ATM vol, e.g. 25-delta risk
    reversal over ATM. Rises when crash protection gets dear."""
    p, c, a = (np.asarray(v, dtype=np.float64) for v in (iv_put_otm, iv_call_otm, iv_atm))
    return (p - c) / a


def iv_term_slope(iv_short: ArrayLike, iv_long: ArrayLike) -> np.ndarray:
    """Implied-volatility term structure: long-dated minus short-dated ATM vol. Negative
    (inverted) in crises, when near-term uncertainty dominates (cf. VIX vs VIX3M)."""
    return np.asarray(iv_long, dtype=np.float64) - np.asarray(iv_short, dtype=np.float64)


# --- macro exposures, microstructure --------------------------------------------------------


def rolling_betas(returns: ArrayLike, factors: ArrayLike, window: int) -> np.ndarray:
    """Rolling OLS betas of each asset on macro factors (market, rates, FX, commodities).

    Parameters
    ----------
    returns : array_like of shape (n_obs, n_assets)
    factors : array_like of shape (n_obs, n_factors)
    window : int
        Trailing rows per regression (must exceed ``n_factors + 1``).

    Returns
    -------
    ndarray of shape (n_obs, n_assets, n_factors)
        Betas from regressing on the window ending at each row (with intercept); NaN before
        the first full window.
    """
    r = np.asarray(returns, dtype=np.float64)
    f = np.asarray(factors, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    if f.ndim == 1:
        f = f[:, None]
    if window <= f.shape[1] + 1 or window > len(r):
        raise InputError("window", window, f"an integer in [{f.shape[1] + 2}, {len(r)}]")
    out = np.full((len(r), r.shape[1], f.shape[1]), np.nan)
    for t in range(window - 1, len(r)):
        x = np.column_stack([np.ones(window), f[t - window + 1 : t + 1]])
        coef = np.linalg.lstsq(x, r[t - window + 1 : t + 1], rcond=None)[0]
        out[t] = coef[1:].T
    return out


def microstructure_features(
    bid: ArrayLike, ask: ArrayLike, bid_size: ArrayLike, ask_size: ArrayLike
) -> np.ndarray:
    """Liquidity features from top-of-book arrays (e.g. :class:`riskstream.core.state
    .MarketState` fields): relative spread :math:`(a-b)/m` in basis points and queue
    imbalance :math:`(q_b - q_a)/(q_b + q_a)` (Cartea, Jaimungal & Penalva 2015, ch. 4).
    Spreads widen and books thin as a market turns.

    Returns (n_instruments, 2); NaN where a side is missing.
    """
    b, a, qb, qa = (np.asarray(v, dtype=np.float64) for v in (bid, ask, bid_size, ask_size))
    mid = 0.5 * (a + b)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread_bp = 1e4 * (a - b) / mid
        imbalance = (qb - qa) / (qb + qa)
    return np.column_stack([spread_bp, imbalance])


def regime_covariances(returns: ArrayLike, probabilities: ArrayLike) -> np.ndarray:
    """Regime-conditional covariance matrices, weighted by regime probabilities.

    .. math::
        \\Sigma_k = \\frac{\\sum_t p_{t,k} (r_t - \\mu_k)(r_t - \\mu_k)^\\top}{\\sum_t p_{t,k}},
        \\qquad \\mu_k = \\frac{\\sum_t p_{t,k} r_t}{\\sum_t p_{t,k}}

    (the M-step of EM for a Gaussian mixture / HMM; Hamilton 1990). With the current
    regime probabilities :math:`\\pi` the risk engine can switch to the regime-conditional
    :math:`\\Sigma_k` of the most likely regime or to the mixture
    :math:`\\sum_k \\pi_k (\\Sigma_k + \\mu_k\\mu_k^\\top) - \\bar\\mu\\bar\\mu^\\top`.

    Parameters
    ----------
    returns : array_like of shape (n_obs, n_assets)
    probabilities : array_like of shape (n_obs, K)
        Filtered (or smoothed, offline) regime probabilities of each row.

    Returns
    -------
    ndarray of shape (K, n_assets, n_assets)
        NaN for a regime with (almost) no weight.
    """
    r = np.asarray(returns, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    if p.ndim != 2 or p.shape[0] != r.shape[0]:
        raise InputError("probabilities", f"shape {p.shape}", f"shape ({r.shape[0]}, K)")
    weight = p.sum(axis=0)
    out = np.full((p.shape[1], r.shape[1], r.shape[1]), np.nan)
    for k in range(p.shape[1]):
        if weight[k] < 1e-9:
            continue
        mu = p[:, k] @ r / weight[k]
        dev = r - mu
        out[k] = (dev * p[:, k, None]).T @ dev / weight[k]
    return out
