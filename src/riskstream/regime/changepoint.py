"""Online change-point detection on volatility and correlation: CUSUM and MOSUM.

Both watch two per-row features of the standardised returns (see
:func:`riskstream.regime.features.stream_features`): the log cross-sectional variance and the
per-row co-movement ratio :math:`((\\sum_i z_i)^2/\\sum_i z_i^2 - 1)/(N-1)` (whose mean is the
average pairwise correlation). Between alarms the level of each feature is estimated by its
mean over the current segment; the regime probabilities are a Gaussian classification of
that level against each regime's level learnt at fit time.

* **CUSUM** (Page 1954, "Continuous inspection schemes", *Biometrika* 41; tabular two-sided
  form of Montgomery, *Introduction to Statistical Quality Control*, §9.1): with
  :math:`y_t = (x_t - m)/s`,
  :math:`C^+_t = \\max(0, C^+_{t-1} + y_t - k)`, :math:`C^-_t = \\max(0, C^-_{t-1} - y_t - k)`,
  alarm when either exceeds :math:`h`; the change is placed after the last time that sum
  was zero. The reference :math:`m` is the running mean of the current segment
  (self-starting).
* **MOSUM** (moving sum; Eichinger & Kirch 2018, "A MOSUM procedure for the estimation of
  multiple random change points", *Bernoulli* 24(1)): the scaled difference of the sums of
  the last :math:`G` rows and the :math:`G` rows before,
  :math:`M_t = (\\sum_{t-G<i\\le t} x_i - \\sum_{t-2G<i\\le t-G} x_i)/(s\\sqrt{2G})`; alarm when
  :math:`|M_t|` exceeds a critical value, the change placed at the best split of the
  :math:`2G` window.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from sklearn.mixture import GaussianMixture

from riskstream.core.errors import InputError
from riskstream.core.warnings import third_party_warnings
from riskstream.models.base import Estimator
from riskstream.regime.base import (
    check_labels,
    check_returns,
    check_row,
    require_fitted,
    volatility_order,
)

BUFFER = 512  # ring buffer of recent feature rows (the longest segment re-estimated at once)
N_CAP = 64  # rows of a segment that count towards the precision of its level
FEATURE_COLUMNS = (0, 3)  # log variance, co-movement (from stream_features)


def comovement(z: np.ndarray) -> np.ndarray:
    """Per-row co-movement ratio (n_obs,): ``((sum z)^2 / sum z^2 - 1) / (N - 1)``."""
    s = z.sum(axis=1)
    ss = (z * z).sum(axis=1) + 1e-12
    n = z.shape[1]
    return (s * s / ss - 1.0) / max(n - 1, 1)


def cp_inputs(z: np.ndarray) -> np.ndarray:
    """The two monitored per-row features (n_obs, 2): log variance, co-movement."""
    log_var = np.log((z * z).mean(axis=1) + 1e-4)
    return np.column_stack([log_var, comovement(z)])


@njit(cache=True)
def _segment_from_buffer(buf, pos, n_back, seg):  # pragma: no cover - numba
    d = buf.shape[1]
    for j in range(d):
        seg[j] = 0.0
    for b in range(n_back):
        row = (pos - 1 - b) % buf.shape[0]
        for j in range(d):
            seg[j] += buf[row, j]
    seg[d] = n_back


@njit(cache=True)
def cusum_kernel(
    x, scale, k, h, state, buf, alarms, seg_mean, seg_n, adapt=True
):  # pragma: no cover
    """Self-starting two-sided tabular CUSUM per column of ``x`` (n_obs, d).

    ``state`` = [C+ (d), C- (d), rows since C+ was 0 (d), rows since C- was 0 (d),
    segment sum (d), segment count, buffer position]; ``buf`` (BUFFER, d) the recent rows.
    Writes ``alarms`` (n_obs,) and the segment level ``seg_mean`` (n_obs, d) and count.
    With ``adapt=False`` the reference stays at the initial level (Page's plain CUSUM, whose
    run lengths are tabulated by Montgomery).
    """
    n_obs, d = x.shape
    nb = buf.shape[0]
    seg = state[4 * d : 5 * d + 1]
    for t in range(n_obs):
        pos = int(state[5 * d + 1])
        for j in range(d):
            buf[pos % nb, j] = x[t, j]
        state[5 * d + 1] = pos + 1
        ref_n = max(seg[d], 1.0)
        best = 0.0
        best_back = 0
        for j in range(d):
            y = (x[t, j] - seg[j] / ref_n) / scale[j]
            cp = max(0.0, state[j] + y - k)
            cm = max(0.0, state[d + j] - y - k)
            state[2 * d + j] = state[2 * d + j] + 1.0 if cp > 0 else 0.0
            state[3 * d + j] = state[3 * d + j] + 1.0 if cm > 0 else 0.0
            state[j], state[d + j] = cp, cm
            if cp > h and cp > best:
                best, best_back = cp, int(state[2 * d + j])
            if cm > h and cm > best:
                best, best_back = cm, int(state[3 * d + j])
        if best > 0.0 and not adapt:
            alarms[t] = True
            for j in range(4 * d):
                state[j] = 0.0
        elif best > 0.0:
            alarms[t] = True
            _segment_from_buffer(buf, pos + 1, min(max(best_back, 1), nb), seg)
            for j in range(4 * d):
                state[j] = 0.0
        else:
            alarms[t] = False
            if adapt:
                for j in range(d):
                    seg[j] += x[t, j]
                seg[d] += 1.0
        for j in range(d):
            seg_mean[t, j] = seg[j] / max(seg[d], 1.0)
        seg_n[t] = seg[d]


@njit(cache=True)
def mosum_kernel(x, scale, g, crit, state, buf, alarms, seg_mean, seg_n):  # pragma: no cover
    """Online MOSUM per column of ``x`` (n_obs, d) with bandwidth ``g`` rows.

    ``state`` = [segment sum (d), segment count, buffer position, rows since the last
    change]; an alarm needs ``2g`` rows since the last change (a full window).
    """
    n_obs, d = x.shape
    nb = buf.shape[0]
    seg = state[0 : d + 1]
    for t in range(n_obs):
        pos = int(state[d + 1])
        for j in range(d):
            buf[pos % nb, j] = x[t, j]
        state[d + 1] = pos + 1
        state[d + 2] += 1.0
        fired = False
        if state[d + 2] >= 2 * g:
            stat = 0.0
            for j in range(d):
                diff = 0.0
                for b in range(2 * g):
                    v = buf[(pos - b) % nb, j]
                    diff += v if b < g else -v
                stat = max(stat, abs(diff) / (scale[j] * np.sqrt(2.0 * g)))
            if stat > crit:
                fired = True
                # place the change at the split of the 2g window maximising the CUSUM-type
                # statistic sqrt(n1 n2 / n) |mean_after - mean_before| (summed over columns)
                best_c, best_v = g, -1.0
                for c in range(2, 2 * g - 1):  # c rows after the split
                    v_sum = 0.0
                    for j in range(d):
                        after = 0.0
                        total = 0.0
                        for b in range(2 * g):
                            v = buf[(pos - b) % nb, j]
                            total += v
                            if b < c:
                                after += v
                        n1 = 2 * g - c
                        ma, mb = after / c, (total - after) / n1
                        v_sum += np.sqrt(c * n1 / (2.0 * g)) * abs(ma - mb) / scale[j]
                    if v_sum > best_v:
                        best_v, best_c = v_sum, c
                _segment_from_buffer(buf, pos + 1, best_c, seg)
                state[d + 2] = best_c
        alarms[t] = fired
        if not fired:
            for j in range(d):
                seg[j] += x[t, j]
            seg[d] += 1.0
        for j in range(d):
            seg_mean[t, j] = seg[j] / max(seg[d], 1.0)
        seg_n[t] = seg[d]


class _ChangePointDetector(Estimator):
    """Shared fit / classify logic of the CUSUM and MOSUM detectors."""

    name = "changepoint"

    def __init__(self, n_regimes: int = 3, seed: int = 7):
        self.n_regimes = n_regimes
        self.seed = seed

    def fit(self, returns: ArrayLike, labels: ArrayLike | None = None) -> Self:
        """Learn each regime's feature level and row noise.

        With ``labels`` (n_obs,) the levels are the per-regime means; without, a Gaussian
        mixture over 32-row rolling means of the features finds them (ordered by variance).
        """
        r = check_returns(returns, min_obs=200)
        self._start_warnings()  # scikit-learn's mixture ConvergenceWarning lands here
        self.scale_ = r.std(axis=0)
        x = cp_inputs(r / self.scale_)
        k = self.n_regimes
        if labels is None:
            window = 32
            kernel = np.ones(window) / window
            smooth = np.column_stack(
                [np.convolve(x[:, j], kernel, mode="full")[: len(x)] for j in range(x.shape[1])]
            )[window:]
            with third_party_warnings(self.warnings_, f"{type(self).__name__}: mixture"):
                gm = GaussianMixture(k, random_state=self.seed, n_init=3).fit(smooth)
            order = volatility_order(gm.means_[:, 0])
            rank = np.empty(k, dtype=np.int64)
            rank[order] = np.arange(k)
            lab = np.concatenate([np.full(window, -1), rank[gm.predict(smooth)]])
        else:
            lab = check_labels(labels, len(r), k)
        present = [j for j in range(k) if (lab == j).sum() >= 5]
        if len(present) < 2:
            raise InputError("labels", f"{len(present)} regime(s) present", "at least 2")
        self.levels_ = np.array(
            [x[lab == j].mean(axis=0) if j in present else np.full(2, np.nan) for j in range(k)]
        )
        self.noise_ = np.array(
            [
                x[lab == j].std(axis=0) + 1e-3 if j in present else np.full(2, np.nan)
                for j in range(k)
            ]
        )
        # a regime absent from the sample: put it beyond its neighbours (never chosen by
        # accident, but still possible)
        for j in range(k):
            if j not in present:
                near = min(present, key=lambda p: abs(p - j))
                self.levels_[j] = self.levels_[near] + np.sign(j - near) * 3 * self.noise_[near]
                self.noise_[j] = self.noise_[near]
        self.prior_ = np.array([(lab == j).mean() for j in range(k)]) + 1e-3
        self.prior_ /= self.prior_.sum()
        self.row_noise_ = np.sqrt(np.mean(self.noise_**2, axis=0))  # pooled row noise
        self.start_level_ = self.levels_[0].copy()
        self.reset()
        return self

    def _classify(self, seg_mean: np.ndarray, seg_n: np.ndarray) -> np.ndarray:
        n_eff = np.clip(seg_n, 1.0, N_CAP)[:, None, None]
        var = self.noise_[None, :, :] ** 2 / n_eff + (0.15 * self.noise_[None, :, :]) ** 2
        dev = seg_mean[:, None, :] - self.levels_[None, :, :]
        logp = np.log(self.prior_)[None, :] - 0.5 * (dev**2 / var + np.log(var)).sum(axis=2)
        logp -= logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        return p / p.sum(axis=1, keepdims=True)

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(x)
        alarms = np.zeros(n, dtype=np.bool_)
        seg_mean = np.empty((n, 2))
        seg_n = np.empty(n)
        self._kernel(np.ascontiguousarray(x), alarms, seg_mean, seg_n)
        return alarms, seg_mean, seg_n

    def reset(self) -> None:
        """Start a fresh segment at the calm regime's level."""
        require_fitted(self, "levels_")
        self._buf = np.zeros((BUFFER, 2))
        self._state = self._initial_state()

    def filter(self, r_t: ArrayLike) -> np.ndarray:
        """Absorb one row of returns (n_assets,); regime probabilities now, shape (K,)."""
        require_fitted(self, "levels_")
        row = check_row(r_t, len(self.scale_)) / self.scale_
        _, seg_mean, seg_n = self._run(cp_inputs(row[None, :]))
        return self._classify(seg_mean, seg_n)[0]

    def predict_proba(self, returns: ArrayLike) -> np.ndarray:
        """Probabilities of every row (n_obs, K), from :meth:`reset`'s state."""
        self.reset()
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        _, seg_mean, seg_n = self._run(cp_inputs(r / self.scale_))
        self.reset()
        return self._classify(seg_mean, seg_n)

    def change_points(self, returns: ArrayLike) -> np.ndarray:
        """Rows at which an alarm fired, from :meth:`reset`'s state (online detections)."""
        self.reset()
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        alarms, _, _ = self._run(cp_inputs(r / self.scale_))
        self.reset()
        return np.flatnonzero(alarms)


class CusumDetector(_ChangePointDetector):
    """Self-starting two-sided CUSUM on volatility and correlation (Page 1954).

    Parameters
    ----------
    n_regimes : int, default 3
    k : float, default 0.5
        Allowance in noise standard deviations (half the shift to detect fastest).
    h : float, default 6.0
        Decision interval in noise standard deviations (Montgomery: k=0.5, h=5 gives an
        in-control ARL of 465 rows and detects a one-sigma shift in about 10).
    seed : int, default 7
    """

    name = "cusum"

    def __init__(self, n_regimes: int = 3, k: float = 0.5, h: float = 6.0, seed: int = 7):
        super().__init__(n_regimes, seed)
        self.k = k
        self.h = h

    def _initial_state(self) -> np.ndarray:
        state = np.zeros(4 * 2 + 2 + 1 + 1)
        state[8:10] = self.start_level_
        state[10] = 1.0
        return state

    def _kernel(self, x, alarms, seg_mean, seg_n) -> None:
        cusum_kernel(
            x, self.row_noise_, self.k, self.h, self._state, self._buf, alarms, seg_mean, seg_n
        )


class MosumDetector(_ChangePointDetector):
    """Online MOSUM on volatility and correlation (Eichinger & Kirch 2018).

    Parameters
    ----------
    n_regimes : int, default 3
    bandwidth : int, default 16
        :math:`G`, rows per half window.
    critical : float, default 4.0
        Alarm threshold on :math:`|M_t|` in noise standard deviations.
    seed : int, default 7
    """

    name = "mosum"

    def __init__(
        self, n_regimes: int = 3, bandwidth: int = 16, critical: float = 4.0, seed: int = 7
    ):
        super().__init__(n_regimes, seed)
        self.bandwidth = bandwidth
        self.critical = critical

    def _initial_state(self) -> np.ndarray:
        state = np.zeros(2 + 1 + 1 + 1)
        state[0:2] = self.start_level_
        state[2] = 1.0
        return state

    def _kernel(self, x, alarms, seg_mean, seg_n) -> None:
        mosum_kernel(
            x,
            self.row_noise_,
            int(self.bandwidth),
            self.critical,
            self._state,
            self._buf,
            alarms,
            seg_mean,
            seg_n,
        )
