"""A documented synthetic factor history, for when no stored history exists.

``riskstream risk`` needs a daily history of every risk factor to fit its scenario
generator. Until a history store is filled by real or replayed data, this module draws one
from a small, stated factor model, deterministically from a seed:

* a **market factor** ``m_t`` with GARCH(1,1) variance (omega, alpha, beta = 1e-6, 0.08,
  0.90; daily unconditional vol 1.1%) and standardised Student-t(5) shocks — volatility
  clustering and fat tails;
* **equities** ``EQ:*``: ``r = beta m_t + s_{g,t} + e_t`` with beta in [0.6, 1.4], one of
  ten sector factors ``s_g`` (0.6% daily) and idiosyncratic t(5) noise (1.0-2.0% daily),
  all scaled by the market's conditional vol ratio;
* **futures** ``FUT:*`` (indices, commodities): ``r = beta m_t + e_t`` with beta in
  [0.3, 1.1] and 0.5-1.5% idiosyncratic vol;
* **currencies** ``FX:*``: ``r = 0.15 m_t + e_t``, 0.4-0.8% daily;
* **key rates** ``IR:<CCY>:*``: per currency a level (5 bp/day) and slope (3 bp/day) shock,
  ``dy_k = level + slope (tenor_k - 5) / 25 + 1 bp noise``, correlated +0.3 with the market
  (risk-on: rates up);
* **implied vols** ``VOL:*``: ``dlog(sigma) = -3 r_spot + 3% noise`` (the leverage
  effect: vol rises when the underlying falls).

Nothing here is estimated from data; it is a plausible, reproducible stand-in.
"""

from __future__ import annotations

import numpy as np

from riskstream.risk.factors import FactorSpace


def synthetic_factor_history(space: FactorSpace, n_days: int, seed: int) -> np.ndarray:
    """Daily factor moves of shape (n_days, n_factors) from the model in the module doc.

    Price factors are log returns, rate factors absolute yield changes (decimal), vol
    factors log changes.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    nf = space.n_factors
    keys = space.keys
    t5 = np.sqrt(3.0 / 5.0)  # Student-t(5) scaled to unit variance

    def tdraw(*shape: int) -> np.ndarray:
        return rng.standard_t(5, size=shape) * t5

    omega, alpha, beta = 1e-6, 0.08, 0.90
    var_uncond = omega / (1 - alpha - beta)
    z = tdraw(n_days)
    m = np.empty(n_days)
    var = np.empty(n_days)
    v = var_uncond
    for t in range(n_days):
        var[t] = v
        m[t] = np.sqrt(v) * z[t]
        v = omega + alpha * m[t] ** 2 + beta * v
    scale = np.sqrt(var / var_uncond)[:, None]

    out = np.zeros((n_days, nf))
    prefix = np.array([k.split(":", 1)[0] for k in keys])
    eq = np.flatnonzero(prefix == "EQ")
    if eq.size:
        sectors = 0.006 * tdraw(n_days, 10)
        group = rng.integers(0, 10, eq.size)
        b = rng.uniform(0.6, 1.4, eq.size)
        idio = rng.uniform(0.010, 0.020, eq.size)
        specific = sectors[:, group] + tdraw(n_days, eq.size) * idio
        out[:, eq] = m[:, None] * b + specific * scale
    fut = np.flatnonzero(prefix == "FUT")
    if fut.size:
        b = rng.uniform(0.3, 1.1, fut.size)
        idio = rng.uniform(0.005, 0.015, fut.size)
        out[:, fut] = m[:, None] * b + tdraw(n_days, fut.size) * idio * scale
    fx = np.flatnonzero(prefix == "FX")
    if fx.size:
        idio = rng.uniform(0.004, 0.008, fx.size)
        out[:, fx] = 0.15 * m[:, None] + tdraw(n_days, fx.size) * idio
    ir = np.flatnonzero(prefix == "IR")
    if ir.size:
        ccys = sorted({keys[j].split(":")[1] for j in ir})
        mz = m / np.sqrt(var)  # standardised market shock
        for c in ccys:
            cols = [j for j in ir if keys[j].split(":")[1] == c]
            tenor = np.array([float(keys[j].split(":")[2][:-1]) for j in cols])
            level = 0.0005 * (0.3 * mz + np.sqrt(1 - 0.09) * tdraw(n_days))
            slope = 0.0003 * tdraw(n_days)
            noise = 0.0001 * tdraw(n_days, len(cols))
            out[:, cols] = level[:, None] + slope[:, None] * (tenor - 5.0) / 25.0 + noise
    vol = np.flatnonzero(prefix == "VOL")
    if vol.size:
        spot_cols = np.array([keys.index(keys[j][4:]) for j in vol])
        out[:, vol] = -3.0 * out[:, spot_cols] + 0.03 * tdraw(n_days, vol.size)
    return out
