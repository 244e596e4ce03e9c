"""Regime-conditional scenarios: the engine's factor moves recoloured to a regime's volatility
and correlation.

The scenario set stands for the unconditional law of the factor moves (drawn from a history
spanning every regime). In a volatile or crisis regime, volatilities are higher and
correlations rise (Ang & Bekaert 2002, "International asset allocation with regime
shifts", *Rev. Financial Studies* 15(4); Longin & Solnik 2001): a regime detector
(:mod:`riskstream.regime.conditioning`) measures both as a **volatility multiplier** ``s``
and a **market-variance ratio** ``theta`` (the single-index correlation stress of
:mod:`riskstream.models.correlation_stress`), and the engine recolours its scenarios so that
their covariance becomes

.. math::
    \\Sigma_k = s^2\\, D\\, R(\\theta)\\, D,\\qquad
    R(\\theta) = N^{-1}(R + (\\theta - 1) c c^\\top) N^{-1},\\qquad
    N = \\operatorname{diag}\\big(\\sqrt{1 + (\\theta-1) c_j^2}\\big),

from the scenarios' own :math:`\\Sigma = DRD`, with :math:`c_j` each factor's correlation
with the market index :math:`g` (the equal-weighted average of the standardised price
factors, scaled to unit variance). The map is linear, scenario by scenario:

.. math::
    x'_{ij} = m_j + \\frac{s}{n_j}\\Big((x_{ij} - m_j) + (\\sqrt\\theta - 1)\\,
    c_j \\sigma_j\\, g_i\\Big),

so the sample covariance of the recoloured scenarios is :math:`\\Sigma_k` *exactly* (the
cross term :math:`\\operatorname{cov}(z_j, g) = c_j` makes
:math:`R_{ij} + (2(\\sqrt\\theta-1) + (\\sqrt\\theta-1)^2) c_i c_j = R_{ij} + (\\theta-1)
c_ic_j`), each scenario keeps its shape (fat tails, skew and the joint extremes of the
history are scaled, not replaced by a normal draw), and the scenario means stay. It acts in
the generator's additive units: log returns for price factors (stored as ``expm1``, so a
price never goes negative), absolute changes for rates, log changes for vols. Without
price factors there is no index and only the volatility scaling applies.

Cost: the moments (means, standard deviations, index, its correlations) are computed once
per scenario set, three sweeps; a switch is one sweep writing the recoloured set. The
conditioning assumes the regime persists over the horizon.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange

from riskstream.core.errors import InputError
from riskstream.core.messages import RegimeChanged
from riskstream.risk.factors import PRICE
from riskstream.risk.scenarios import ScenarioSet

BLOCK = 2048  # scenarios per thread block of the index sweep


@dataclass(frozen=True)
class RegimeConditioning:
    """A regime's volatility and correlation, as the engine applies them.

    Attributes
    ----------
    regime : str
        The regime's name (recorded in snapshots).
    vol_multiplier : float
        ``s > 0``: every factor's volatility times ``s``.
    market_variance_ratio : float
        ``theta > 0``: the market index's variance relative to idiosyncratic variance,
        times ``theta`` (1: correlations unchanged; > 1: higher).
    probability : float, optional
        The regime's probability when the conditioning was chosen (for the record; not part
        of equality).
    """

    regime: str
    vol_multiplier: float
    market_variance_ratio: float = 1.0
    probability: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("vol_multiplier", "market_variance_ratio"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise InputError(name, v, "a positive finite number")

    @property
    def is_identity(self) -> bool:
        return self.vol_multiplier == 1.0 and self.market_variance_ratio == 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "regime": self.regime,
            "vol_multiplier": float(self.vol_multiplier),
            "market_variance_ratio": float(self.market_variance_ratio),
            "probability": None if self.probability is None else float(self.probability),
        }


def conditioning_of(message: RegimeChanged) -> RegimeConditioning | None:
    """The conditioning a :class:`~riskstream.core.messages.RegimeChanged` asks for (None:
    unconditional figures)."""
    target = RegimeConditioning(
        message.name,
        message.vol_multiplier,
        message.market_variance_ratio,
        float(message.probabilities[message.regime]) if message.probabilities else None,
    )
    return None if target.is_identity else target


@njit(inline="always")
def _additive(x, price):  # pragma: no cover - numba
    """A stored move in additive units: log return for price factors."""
    return np.log1p(np.float64(x)) if price else np.float64(x)


@njit(cache=True, parallel=True, nogil=True)
def _column_moments(shocks, price, mean, std):  # pragma: no cover - numba
    """Mean and standard deviation (ddof 1) of every column in additive units (two passes,
    one thread per column: independent of the thread count)."""
    n, p = shocks.shape
    for j in prange(p):
        col = shocks[:, j]
        pr = price[j]
        s = 0.0
        for i in range(n):
            s += _additive(col[i], pr)
        m = s / n
        ss = 0.0
        for i in range(n):
            d = _additive(col[i], pr) - m
            ss += d * d
        mean[j] = m
        std[j] = np.sqrt(ss / (n - 1))


@njit(cache=True, parallel=True, nogil=True)
def _index_sum(shocks, price, mean, std, cols, out):  # pragma: no cover - numba
    """out[i] = sum over ``cols`` of the standardised move of scenario i (fixed column
    order per scenario: independent of the thread count)."""
    n = shocks.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        acc = out[lo:hi]
        acc[:] = 0.0
        for j in cols:
            if std[j] > 0.0:
                col = shocks[lo:hi, j]
                m, inv, pr = mean[j], 1.0 / std[j], price[j]
                for i in range(hi - lo):
                    acc[i] += (_additive(col[i], pr) - m) * inv


@njit(cache=True, parallel=True, nogil=True)
def _index_correlation(shocks, price, mean, std, g, out):  # pragma: no cover - numba
    """out[j] = sample correlation of column j (additive units) with the unit-variance,
    zero-mean index ``g``."""
    n, p = shocks.shape
    for j in prange(p):
        if std[j] == 0.0:
            out[j] = 0.0
            continue
        col = shocks[:, j]
        pr, m = price[j], mean[j]
        s = 0.0
        for i in range(n):
            s += (_additive(col[i], pr) - m) * g[i]
        out[j] = s / ((n - 1) * std[j])


@njit(cache=True, parallel=True, nogil=True)
def _recolour(shocks, price, mean, a, b, g, out, out_rows):  # pragma: no cover - numba
    """out[:, j] = m_j + a_j (x_j - m_j) + b_j g in additive units, stored back in the
    engine's units (``expm1`` for price factors), float32, in both layouts: ``out``
    column-major and ``out_rows`` row-major. Blocks of ``BLOCK // 8`` scenarios sweep every
    factor, so the row-major block being written stays in cache."""
    n, p = shocks.shape
    rows = BLOCK // 8
    n_blocks = (n + rows - 1) // rows
    for blk in prange(n_blocks):
        lo = blk * rows
        hi = min(lo + rows, n)
        for j in range(p):
            col = shocks[lo:hi, j]
            dst = out[lo:hi, j]
            pr, m, aj, bj = price[j], mean[j], a[j], b[j]
            for i in range(hi - lo):
                y = m + aj * (_additive(col[i], pr) - m) + bj * g[lo + i]
                v = np.float32(np.expm1(y) if pr else y)
                dst[i] = v
                out_rows[lo + i, j] = v


@dataclass(frozen=True)
class ScenarioMoments:
    """What recolouring needs of one scenario set, per horizon (additive units).

    Attributes
    ----------
    mean, std : dict of int to ndarray of shape (n_factors,)
    index : dict of int to ndarray of shape (n_scenarios,)
        The market index :math:`g` (zero mean, unit variance; zeros without price factors).
    index_corr : dict of int to ndarray of shape (n_factors,)
        :math:`c_j`, each factor's correlation with the index.
    """

    price: np.ndarray
    mean: dict[int, np.ndarray]
    std: dict[int, np.ndarray]
    index: dict[int, np.ndarray]
    index_corr: dict[int, np.ndarray]


def scenario_moments(scenarios: ScenarioSet, kind: np.ndarray) -> ScenarioMoments:
    """Means, standard deviations, market index and index correlations of every horizon.

    Parameters
    ----------
    scenarios : ScenarioSet
    kind : ndarray of shape (n_factors,)
        Factor kinds (:data:`riskstream.risk.factors.PRICE` ...).
    """
    price = np.asarray(kind) == PRICE
    cols = np.flatnonzero(price).astype(np.int64)
    mean, std, index, corr = {}, {}, {}, {}
    for h, sh in scenarios.shocks.items():
        n, p = sh.shape
        if price.shape != (p,):
            raise InputError("kind", f"shape {price.shape}", f"({p},) factor kinds")
        m, s = np.empty(p), np.empty(p)
        _column_moments(sh, price, m, s)
        g = np.zeros(n)
        c = np.zeros(p)
        if cols.size:
            _index_sum(sh, price, m, s, cols, g)
            g -= g.mean()
            sd = g.std(ddof=1)
            if sd > 0:
                g /= sd
                _index_correlation(sh, price, m, s, g, c)
            else:
                g[:] = 0.0
        mean[h], std[h], index[h], corr[h] = m, s, g, np.clip(c, -1.0, 1.0)
    return ScenarioMoments(price, mean, std, index, corr)


def recolour(
    scenarios: ScenarioSet, moments: ScenarioMoments, conditioning: RegimeConditioning
) -> ScenarioSet:
    """The scenario set with covariance :math:`s^2 D R(\\theta) D` (module docstring).

    Its fingerprint hashes the original's with the conditioning, so a snapshot's lineage
    names the conditioned scenarios.
    """
    s, theta = float(conditioning.vol_multiplier), float(conditioning.market_variance_ratio)
    shocks, row_major = {}, {}
    for h, sh in scenarios.shocks.items():
        c = moments.index_corr[h]
        norm = np.sqrt(np.maximum(1.0 + (theta - 1.0) * c * c, 1e-12))
        a = s / norm
        b = s * (np.sqrt(theta) - 1.0) * c * moments.std[h] / norm
        out = np.empty(sh.shape, dtype=np.float32, order="F")
        out_rows = np.empty(sh.shape, dtype=np.float32)
        _recolour(sh, moments.price, moments.mean[h], a, b, moments.index[h], out, out_rows)
        out.setflags(write=False)
        shocks[h], row_major[h] = out, out_rows
    digest = hashlib.blake2b(digest_size=8)
    digest.update(scenarios.fingerprint.encode())
    digest.update(repr((conditioning.regime, s, theta)).encode())
    return ScenarioSet(shocks, digest.hexdigest(), row_major, scenarios.model_warnings)
