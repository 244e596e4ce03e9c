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
