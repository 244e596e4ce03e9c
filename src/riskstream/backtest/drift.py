"""Model monitoring: drift in a model's inputs and residuals, and exception clustering.

A model validated on one sample degrades silently when the world moves. Three monitors,
each turning a number into an alert against an explicit threshold:

- **Population stability index** (PSI) between a reference sample (the validation or
  calibration window) and a recent one, over the reference's decile bins:

  .. math:: \\mathrm{PSI} = \\sum_b (a_b - e_b) \\ln(a_b / e_b)

  with :math:`e_b`, :math:`a_b` the reference and recent shares in bin :math:`b`. The
  credit-scoring rule of thumb (Siddiqi, *Credit Risk Scorecards*, 2006; Yurdakul 2018):
  below 0.10 no significant shift, 0.10-0.25 moderate shift (warning), above 0.25 a
  significant shift (alert).
- **Kolmogorov-Smirnov** two-sample test between the same samples (alert at p < 0.01,
  warning at p < 0.05). On standardised model residuals :math:`X_t / \\sigma_t` it detects a
  volatility or distribution model that no longer fits.
- **Rolling exception clustering**: the Basel traffic light and Christoffersen's
  independence test over a rolling window of the hit series; yellow or a rejected
  independence test is a warning, red an alert.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from riskstream.backtest.inputs import check_hits, check_level, check_series
from riskstream.backtest.traffic_light import GREEN_UPPER, YELLOW_UPPER
from riskstream.backtest.var_tests import christoffersen_independence
from riskstream.core.errors import InputError

Severity = Literal["ok", "warning", "alert"]

PSI_WARNING = 0.10  # moderate population shift
PSI_ALERT = 0.25  # significant population shift
KS_WARNING_P = 0.05
KS_ALERT_P = 0.01

#: Floor on a bin share so an empty bin gives a large but finite PSI term.
_PSI_EPS = 1e-4


@dataclass(frozen=True)
class Alert:
    """One monitoring finding.

    Attributes
    ----------
    monitor : str
        Which monitor raised it (``"psi"``, ``"ks"``, ``"exceptions"``, ``"independence"``).
    severity : {"ok", "warning", "alert"}
    value : float
        The metric's value.
    threshold : float
        The threshold it crossed (or the warning threshold when ``ok``); for exception
        counts, the traffic light's cumulative-probability boundary (0.95 or 0.9999).
    index : int or None
        Last observation of the window that raised it, when it is a rolling monitor.
    message : str
    date : str or None
        The date of ``index`` when the monitor was given dates.
    """

    monitor: str
    severity: Severity
    value: float
    threshold: float
    index: int | None
    message: str
    date: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def population_stability_index(reference: ArrayLike, recent: ArrayLike, n_bins: int = 10) -> float:
    """PSI of ``recent`` against ``reference`` over the reference's quantile bins.

    Parameters
    ----------
    reference, recent : array_like of shape (n,) and (m,)
        Samples of the same variable (a model input, or standardised residuals).
    n_bins : int, default 10
        Number of reference-quantile bins (deciles by default).
    """
    ref = check_series(reference, "reference")
    new = check_series(recent, "recent")
    if n_bins < 2:
        raise InputError("n_bins", n_bins, "at least 2 bins")
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, n_bins + 1))[1:-1])
    e = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    a = np.bincount(np.searchsorted(edges, new, side="right"), minlength=edges.size + 1)
    e = np.maximum(e / ref.size, _PSI_EPS)
    a = np.maximum(a / new.size, _PSI_EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_alert(reference: ArrayLike, recent: ArrayLike, n_bins: int = 10) -> Alert:
    """Classify the PSI with the 0.10 / 0.25 bands."""
    psi = population_stability_index(reference, recent, n_bins)
    if psi > PSI_ALERT:
        return Alert("psi", "alert", psi, PSI_ALERT, None, f"PSI {psi:.3f} > {PSI_ALERT}")
    if psi > PSI_WARNING:
        return Alert("psi", "warning", psi, PSI_WARNING, None, f"PSI {psi:.3f} > {PSI_WARNING}")
    return Alert("psi", "ok", psi, PSI_WARNING, None, f"PSI {psi:.3f} is stable")


def ks_alert(reference: ArrayLike, recent: ArrayLike) -> Alert:
    """Two-sample KS test of ``recent`` against ``reference``; alert at p < 0.01."""
    ref = check_series(reference, "reference")
    new = check_series(recent, "recent")
    result = stats.ks_2samp(ref, new)
    p = float(result.pvalue)
    severity: Severity = "alert" if p < KS_ALERT_P else "warning" if p < KS_WARNING_P else "ok"
    threshold = KS_ALERT_P if severity == "alert" else KS_WARNING_P
    return Alert("ks", severity, float(result.statistic), threshold, None, f"KS p-value {p:.4f}")


def rolling_exception_alerts(
    hits: ArrayLike, confidence: float, window: int = 250, step: int = 1
) -> list[Alert]:
    """Traffic light and Christoffersen independence over a rolling window of hits.

    Parameters
    ----------
    hits : array_like of shape (n_obs,)
        0/1 exception series.
    confidence : float
        VaR confidence.
    window : int, default 250
        Rolling window length in days (at most ``n_obs``).
    step : int, default 1
        Evaluate every ``step`` days.

    Returns
    -------
    list of Alert
        Only windows that raise a warning or an alert, each with ``index`` = the window's
        last day. A change of severity is reported once, when it starts.
    """
    hit = check_hits(hits)
    c = check_level(confidence)
    if not 1 <= window <= hit.size:
        raise InputError("window", window, f"a number of days in [1, {hit.size}]")
    counts = np.convolve(hit, np.ones(window, dtype=np.int64), mode="valid")[::step]
    ends = np.arange(counts.size) * step + window - 1
    cumulative = stats.binom.cdf(counts, window, 1.0 - c)
    severity = np.where(cumulative >= YELLOW_UPPER, 2, np.where(cumulative >= GREEN_UPPER, 1, 0))
    # Report a window only where the severity changes to warning or alert.
    starts = np.flatnonzero((severity > 0) & (severity != np.concatenate(([0], severity[:-1]))))
    names: tuple[Severity, ...] = ("ok", "warning", "alert")
    zones = ("green", "yellow", "red")
    alerts = [
        Alert(
            "exceptions",
            names[severity[i]],
            float(counts[i]),
            GREEN_UPPER if severity[i] == 1 else YELLOW_UPPER,
            int(ends[i]),
            f"{counts[i]} exceptions in {window} days: {zones[severity[i]]} zone "
            f"(cumulative probability {cumulative[i]:.4%})",
        )
        for i in starts
    ]
    independence = christoffersen_independence(hit[-window:])
    if independence.reject(0.95):
        alerts.append(
            Alert(
                "independence",
                "warning",
                independence.lr,
                0.05,
                hit.size - 1,
                f"exceptions cluster (Christoffersen p-value {independence.p_value:.4f})",
            )
        )
    return alerts


@dataclass(frozen=True)
class DriftReport:
    """All monitors of one model: input drift, residual drift and exception clustering."""

    alerts: list[Alert]

    @property
    def severity(self) -> Severity:
        """The worst severity raised."""
        levels = [a.severity for a in self.alerts]
        return "alert" if "alert" in levels else "warning" if "warning" in levels else "ok"

    def as_dict(self) -> dict[str, object]:
        return {"severity": self.severity, "alerts": [a.as_dict() for a in self.alerts]}


def monitor_model(
    inputs: ArrayLike,
    residuals: ArrayLike,
    hits: ArrayLike,
    confidence: float,
    reference_days: int = 500,
    recent_days: int = 250,
    dates: ArrayLike | None = None,
) -> DriftReport:
    """Run every monitor on one model's history.

    Parameters
    ----------
    inputs : array_like of shape (n_obs,)
        The model's input variable (e.g. the portfolio return).
    residuals : array_like of shape (n_obs,)
        Standardised residuals :math:`X_t / \\sigma_t` (or PIT values) of the model.
    hits : array_like of shape (n_obs,)
        The model's exception series.
    confidence : float
        VaR confidence.
    reference_days, recent_days : int
        The first ``reference_days`` observations are the reference sample, the last
        ``recent_days`` the recent one (they may overlap in short histories).
    dates : array_like of shape (n_obs,), optional
        Dates of the observations; rolling alerts then carry the date they were raised.
    """
    x = check_series(inputs, "inputs")
    z = check_series(residuals, "residuals")
    hit = check_hits(hits)
    n = x.size
    if z.size != n or hit.size != n:
        raise InputError("residuals", z.size, f"{n} observations, aligned with 'inputs'")
    ref_end = min(reference_days, n)
    recent = slice(max(n - recent_days, 0), n)
    alerts = [
        _named(psi_alert(x[:ref_end], x[recent]), "input"),
        _named(ks_alert(x[:ref_end], x[recent]), "input"),
        _named(psi_alert(z[:ref_end], z[recent]), "residual"),
        _named(ks_alert(z[:ref_end], z[recent]), "residual"),
        *rolling_exception_alerts(hit, confidence, window=min(250, n), step=1),
    ]
    if dates is not None:
        day = np.asarray(dates)
        alerts = [
            replace(a, date=str(day[a.index])[:10]) if a.index is not None else a for a in alerts
        ]
    return DriftReport([a for a in alerts if a.severity != "ok"])


def _named(alert: Alert, what: str) -> Alert:
    return Alert(
        f"{alert.monitor}_{what}",
        alert.severity,
        alert.value,
        alert.threshold,
        alert.index,
        f"{what}: {alert.message}",
    )
