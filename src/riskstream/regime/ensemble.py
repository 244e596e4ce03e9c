"""The regime ensemble: stacking of every detector, then Kalman smoothing of the probabilities.

1. **Stacking** (Wolpert 1992, "Stacked generalization", *Neural Networks* 5): the base
   detectors are fitted on the first part of the sample; on the rest, a multinomial logistic
   regression (scikit-learn) learns the regime from their filtered log-probabilities.
   Without labels the target is the HMM's Viterbi path over the whole sample — a smoother
   that sees the future, which the online ensemble learns to anticipate from the past.
2. **Kalman smoothing** (Harvey 1989, *Forecasting, Structural Time Series Models and the
   Kalman Filter*, §3.2; Durbin & Koopman 2012, §2.2): each stacked probability is the
   noisy observation of a local level,

   .. math::
       y_{t,k} = \\mu_{t,k} + \\varepsilon_t,\\ \\varepsilon_t \\sim N(0, r);\\qquad
       \\mu_{t,k} = \\mu_{t-1,k} + \\eta_t,\\ \\eta_t \\sim N(0, q).

   The gain :math:`K_t = P_{t|t-1}/(P_{t|t-1}+r)` is the same for every regime, so the
   filtered vector is a convex combination of probability vectors: it stays on the simplex
   with no clipping. Only the signal-to-noise ratio :math:`q/r` matters; by default it is
   estimated by maximum likelihood on the stacker's rows (the prediction-error
   decomposition with :math:`r` concentrated out: Harvey 1989, §3.4; Durbin & Koopman 2012,
   §2.10) rather than fixed — the detectors are already Bayesian filters whose transition
   matrices carry the regimes' persistence, and a fixed heavy smoothing only adds lag. The
   reported regime changes only when another regime's probability exceeds the current
   one's by ``hysteresis``.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from sklearn.linear_model import LogisticRegression

from riskstream.core.errors import InputError
from riskstream.core.warnings import third_party_warnings
from riskstream.models.base import Estimator, clone
from riskstream.regime.base import (
    check_labels,
    check_returns,
    check_row,
    single_threaded,
)
from riskstream.regime.changepoint import CusumDetector, MosumDetector
from riskstream.regime.config import RegimeConfig
from riskstream.regime.dfm import DynamicFactorDetector
from riskstream.regime.features import regime_covariances
from riskstream.regime.hmm import HMMDetector, StudentTHMMDetector
from riskstream.regime.lstm import LSTMDetector
from riskstream.regime.msgarch import MSGarchDetector

DETECTORS = ("hmm", "thmm", "msgarch", "dfm", "cusum", "mosum", "lstm")
STACK_SHARE = 0.3  # last share of the training sample that fits the stacker
DIFFUSE_P0 = 1e7  # "diffuse" initial variance of the local level
STACK_FLOOR = 1e-2  # detectors' probabilities are floored: one overconfident detector
# must not dominate the stacker through a log-probability of -27
STACK_C = 0.01  # inverse L2 penalty of the stacker: strong shrinkage generalises best


@njit(cache=True)
def local_level_filter(y, q, r, level, p_var):  # pragma: no cover - numba
    """Kalman filter of a local-level model applied to each column of ``y`` (n_obs, K).

    ``level`` (K,) and ``p_var`` (1,) are the filtered state before the first row, updated
    in place. Returns the filtered levels (n_obs, K).
    """
    n_obs, k = y.shape
    out = np.empty((n_obs, k))
    for t in range(n_obs):
        pred = p_var[0] + q
        gain = pred / (pred + r)
        for j in range(k):
            level[j] += gain * (y[t, j] - level[j])
            out[t, j] = level[j]
        p_var[0] = (1.0 - gain) * pred
    return out


@njit(cache=True)
def hysteresis_labels(probs, margin, current):  # pragma: no cover - numba
    """Regime per row: switch from ``current`` only when a regime beats it by ``margin``."""
    n_obs = probs.shape[0]
    out = np.empty(n_obs, dtype=np.int64)
    for t in range(n_obs):
        best = np.argmax(probs[t])
        if current < 0 or probs[t, best] > probs[t, current] + margin:
            current = best
        out[t] = current
    return out


RATIO_BOUNDS = (1e-4, 1e4)  # signal-to-noise ratios q/r searched by fit_smoothing_ratio


def fit_smoothing_ratio(y: np.ndarray) -> float:
    r"""Maximum-likelihood signal-to-noise ratio :math:`g = q/r` of the local-level model
    for the columns of ``y`` (n_obs, K), sharing one ratio (the smoother's gain is common).

    With :math:`r` concentrated out, the log-likelihood of the prediction errors
    :math:`v_{t,k} = y_{t,k} - \mu_{t-1|t-1,k}`, variances :math:`F_t\,r` with
    :math:`F_t = P_{t|t-1}/r + 1`, is, up to a constant,
    :math:`-\tfrac12\sum_t K\log F_t - \tfrac{nK}{2}\log\hat r`,
    :math:`\hat r = \frac1{nK}\sum_{t,k} v_{t,k}^2/F_t` (Harvey 1989, §3.4;
    Durbin & Koopman 2012, §2.10.2). The diffuse first row is left out.
    """
    from scipy.optimize import minimize_scalar

    n, k = y.shape

    def nll(log_g: float) -> float:
        g = float(np.exp(log_g))
        level = local_level_filter(y, g, 1.0, np.full(k, 1.0 / k), np.array([DIFFUSE_P0]))
        v = y[1:] - level[:-1]
        f = np.empty(n)  # P_{t|t-1}/r + 1, deterministic
        p = DIFFUSE_P0
        for t in range(n):
            f[t] = p + g + 1.0
            p = (p + g) / f[t]
        f = f[1:]
        r_hat = float(np.mean(v**2 / f[:, None]))
        return 0.5 * k * float(np.log(f).sum()) + 0.5 * v.size * np.log(max(r_hat, 1e-300))

    lo, hi = np.log(RATIO_BOUNDS[0]), np.log(RATIO_BOUNDS[1])
    return float(np.exp(minimize_scalar(nll, bounds=(lo, hi), method="bounded").x))


def make_detector(name: str, cfg: RegimeConfig):
    """Build a base detector by name (one of :data:`DETECTORS`) from the ``[regime]``
    settings — for the CLI and settings; in code, construct the class."""
    k, seed = cfg.n_regimes, cfg.seed
    if name == "hmm":
        return HMMDetector(k, seed=seed)
    if name == "thmm":
        return StudentTHMMDetector(k, seed=seed)
    if name == "msgarch":
        return MSGarchDetector(k, seed=seed)
    if name == "dfm":
        return DynamicFactorDetector(k, seed=seed)
    if name == "cusum":
        return CusumDetector(k, seed=seed)
    if name == "mosum":
        return MosumDetector(k, seed=seed)
    if name == "lstm":
        return LSTMDetector(
            k, window=cfg.lstm_window, hidden=cfg.lstm_hidden, epochs=cfg.lstm_epochs, seed=seed
        )
    raise InputError("detector", name, f"one of {', '.join(DETECTORS)}")


class RegimeEnsemble(Estimator):
    """Stacked, Kalman-smoothed ensemble of regime detectors.

    Parameters
    ----------
    detectors : sequence of detector instances, optional
        The base detectors (unfitted; cloned before fitting). Default: one of each of
        :data:`DETECTORS` with ``n_regimes`` and ``seed``. An :class:`HMMDetector` is always
        used — it provides the labels when none are given — so one is added when missing;
        a :class:`DynamicFactorDetector` is dropped for a single asset (no cross-section to
        factor). Each detector's ``n_regimes`` must equal the ensemble's.
    n_regimes : int, default 3
    smoothing_q : float, optional
        Process variance of the local-level smoother (module notes); default None: the ratio
        q/r estimated by maximum likelihood at fit time (``smoothing_ratio_``).
    smoothing_r : float, default 0.1
        Noise variance of the smoother (with a fixed ``smoothing_q``).
    hysteresis : float, default 0.1
        Margin a new regime's probability must win by.
    seed : int, default 7
        Seed of the default detectors (and of the HMM added when missing).

    Attributes
    ----------
    detectors_ : dict[str, detector]
        The fitted base detectors, by name.
    names_ : list of str
        Their names, in stacking order.
    stacker_ : LogisticRegression
        Map from the detectors' log-probabilities to the regime.
    labels_source_ : str
        ``"given"`` or ``"hmm-viterbi"``.
    smoothing_ratio_ : float
        The smoother's q/r in use: ``smoothing_q / smoothing_r``, or the ML estimate.
    stack_rows_ : int
        Rows the stacker learnt from (the held-out 30%, or every row when a regime is
        missing from it).
    detector_probs_ : dict[str, ndarray of shape (K,)]
        Each base detector's probabilities at the last :meth:`filter`.
    warnings_ : list of str
        Every detector's fit warnings (prefixed by its class) and the stacker's.
    """

    name = "ensemble"

    def __init__(
        self,
        detectors: tuple | list | None = None,
        n_regimes: int = 3,
        smoothing_q: float | None = None,
        smoothing_r: float = 0.1,
        hysteresis: float = 0.1,
        seed: int = 7,
    ):
        self.detectors = detectors
        self.n_regimes = n_regimes
        self.smoothing_q = smoothing_q
        self.smoothing_r = smoothing_r
        self.hysteresis = hysteresis
        self.seed = seed

    @classmethod
    def from_config(
        cls, config: RegimeConfig, detectors: tuple[str, ...] | list[str] | None = None
    ) -> RegimeEnsemble:
        """The ensemble of the ``[regime]`` settings, detectors by name (default: all of
        :data:`DETECTORS`) — the string path of the CLI."""
        names = list(detectors or DETECTORS)
        for name in names:
            if name not in DETECTORS:
                raise InputError("detector", name, f"one of {', '.join(DETECTORS)}")
        return cls(
            detectors=[make_detector(name, config) for name in names],
            n_regimes=config.n_regimes,
            smoothing_q=config.smoothing_q,
            smoothing_r=config.smoothing_r,
            hysteresis=config.hysteresis,
            seed=config.seed,
        )

    def _base_detectors(self, n_assets: int) -> dict[str, object]:
        """Unfitted clones of the detectors to fit, by name, HMM first."""
        k, seed = self.n_regimes, self.seed
        given = (
            [clone(d) for d in self.detectors]
            if self.detectors is not None
            else [
                HMMDetector(k, seed=seed),
                StudentTHMMDetector(k, seed=seed),
                MSGarchDetector(k, seed=seed),
                DynamicFactorDetector(k, seed=seed),
                CusumDetector(k, seed=seed),
                MosumDetector(k, seed=seed),
                LSTMDetector(k, seed=seed),
            ]
        )
        out: dict[str, object] = {}
        for det in given:
            name = getattr(det, "name", None)
            if name not in DETECTORS:
                raise InputError("detectors", det, f"detectors among {', '.join(DETECTORS)}")
            if name in out:
                raise InputError("detectors", name, "one detector of each kind")
            if det.n_regimes != k:
                raise InputError(f"{name}.n_regimes", det.n_regimes, f"{k} (the ensemble's)")
            out[name] = det
        if "hmm" not in out:
            out = {"hmm": HMMDetector(k, seed=seed), **out}
        else:
            out = {"hmm": out.pop("hmm"), **out}
        if n_assets < 2:  # a factor model needs a cross-section
            out.pop("dfm", None)
        return out

    def fit(self, returns: ArrayLike, labels: ArrayLike | None = None) -> Self:
        """Fit the detectors on the first 70% of ``returns`` (n_obs, n_assets), the stacker
        on the last 30%; ``labels`` (n_obs,) optional (see the module docstring)."""
        with single_threaded():
            r = check_returns(returns, min_obs=500)
            k = self.n_regimes
            log = self._start_warnings()
            detectors = self._base_detectors(r.shape[1])
            self.names_ = list(detectors)
            split = int(len(r) * (1.0 - STACK_SHARE))
            hmm = detectors["hmm"]
            if labels is None:
                hmm.fit(r[:split])
                lab = hmm.smoothed_states(r)
                self.labels_source_ = "hmm-viterbi"
            else:
                lab = check_labels(labels, len(r), k)
                hmm.fit(r[:split], lab[:split])
                self.labels_source_ = "given"
            self.regime_moments_ = _labelled_moments(r, lab, k)
            for name, det in detectors.items():
                if name != "hmm":
                    det.fit(r[:split], lab[:split])
                log.extend(getattr(det, "warnings_", []))
            self.detectors_ = detectors
            stack_x = self._stack_features(
                {name: det.predict_proba(r) for name, det in self.detectors_.items()}
            )
            # the stacker learns from rows the detectors did not see — unless a regime of the
            # sample is absent there; then from every row (else it could never predict it)
            start = split if set(lab[split:]) == set(lab) else 0
            self.stack_rows_ = len(r) - start
            stack_x, stack_y = stack_x[start:], lab[start:]
            if len(np.unique(stack_y)) < 2:
                raise InputError("labels", "one regime in the sample", "at least 2 regimes")
            with third_party_warnings(log, "RegimeEnsemble: stacker"):
                self.stacker_ = LogisticRegression(C=STACK_C, max_iter=2000).fit(stack_x, stack_y)
            self.smoothing_ratio_ = (
                fit_smoothing_ratio(self._stacked(stack_x))
                if self.smoothing_q is None
                else self.smoothing_q / self.smoothing_r
            )
            self.scale_ = r.std(axis=0)
            self.reset()
            return self

    def _stack_features(self, probs: dict[str, np.ndarray]) -> np.ndarray:
        return np.hstack([np.log(np.maximum(probs[n], STACK_FLOOR)) for n in self.names_])

    def _stacked(self, x: np.ndarray) -> np.ndarray:
        """Stacker probabilities over all K regimes (a regime unseen in training gets 0)."""
        p = np.zeros((len(x), self.n_regimes))
        p[:, self.stacker_.classes_] = self.stacker_.predict_proba(x)
        return p

    def reset(self) -> None:
        """Restart every detector and the smoother (level at the calm regime)."""
        for det in self.detectors_.values():
            det.reset()
        self._level = np.full(self.n_regimes, 1.0 / self.n_regimes)
        self._p_var = np.array([DIFFUSE_P0])
        self._regime = -1

    def filter(self, r_t: ArrayLike) -> np.ndarray:
        """Absorb one row of returns (n_assets,); smoothed probabilities now, shape (K,)."""
        row = check_row(r_t, len(self.scale_))
        probs = {name: det.filter(row)[None, :] for name, det in self.detectors_.items()}
        self.detector_probs_ = {name: p[0] for name, p in probs.items()}
        raw = self._stacked(self._stack_features(probs))
        smooth = local_level_filter(raw, self.smoothing_ratio_, 1.0, self._level, self._p_var)
        self._regime = int(hysteresis_labels(smooth, self.hysteresis, self._regime)[0])
        return smooth[0]

    @property
    def regime(self) -> int:
        """The current regime (with hysteresis) after the last :meth:`filter`; -1 before."""
        return self._regime

    def detector_probas(self, returns: ArrayLike) -> dict[str, np.ndarray]:
        """Each base detector's filtered probabilities of every row, by name."""
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        return {name: det.predict_proba(r) for name, det in self.detectors_.items()}

    def predict_proba(self, returns: ArrayLike) -> np.ndarray:
        """Smoothed probabilities of every row (n_obs, K), from :meth:`reset`'s state."""
        return self.predict(returns)[1]

    def predict(self, returns: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Regime (n_obs,) with hysteresis and smoothed probabilities (n_obs, K) of every
        row, filtered from a fresh state (row t uses rows up to t only)."""
        with single_threaded():
            probs = self.detector_probas(returns)
            raw = self._stacked(self._stack_features(probs))
            smooth = local_level_filter(
                raw,
                self.smoothing_ratio_,
                1.0,
                np.full(self.n_regimes, 1.0 / self.n_regimes),
                np.array([DIFFUSE_P0]),
            )
            labels = hysteresis_labels(smooth, self.hysteresis, -1)
            self.reset()
            return labels, smooth


def _labelled_moments(
    returns: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(means (K, n), covariances (K, n, n), shares (K,)) of the returns in each labelled
    regime — the regime-conditional second moments measured directly on the rows of each
    regime (what :func:`riskstream.regime.conditioning.model_moments` reads); None when a
    regime has too few rows (n_assets + 1) for a covariance. Read off the labels rather than
    the HMM's states: on sparse, standardised tick returns an EM fit can split the sample
    along other lines (zero-return bars, say) than the regimes' volatilities."""
    onehot = np.eye(k)[labels]
    counts = onehot.sum(axis=0)
    if counts.min() < returns.shape[1] + 1:
        return None
    means = (onehot.T @ returns) / counts[:, None]
    return means, regime_covariances(returns, onehot), counts / counts.sum()
