"""Threshold tuning above and below the line (ATL/BTL), review samples, metrics, sensitivity.

**ATL/BTL.** A monitoring system's alert threshold is tuned by moving it both ways on
labelled (investigated) data: *above the line* — raise it and count the true alerts that
would be lost; *below the line* — lower it and review a sample of the alerts that would be
new, to estimate how many productive (true) alerts the current threshold misses (FFIEC
BSA/AML Examination Manual, "Suspicious Activity Monitoring"; OCC Bulletin 2011-12 / SR 11-7
on model validation, "outcomes analysis").

**Sample size below the line.** With a zero-acceptance attribute sample, reviewing ``n``
alerts and finding no productive one supports, at confidence ``c``, that the band's
productive rate is below the tolerable rate ``p``. For an infinite band (binomial),
``(1 - p)^n ≤ 1 - c`` gives ``n = ⌈ln(1 - c) / ln(1 - p)⌉`` (AICPA Audit Guide *Audit
Sampling*, 2019, Table A-1: 59 for c = 95 %, p = 5 %); for a band of N alerts the exact
hypergeometric size is the least ``n`` with ``P(X = 0 | N, K = ⌈pN⌉, n) ≤ 1 - c``, which is
never larger.

**Metrics.** Precision, recall, F1 and F-beta (β = 2 by default: a missed launderer costs
more than a wasted review, so recall weighs β² = 4 times precision; van Rijsbergen 1979),
PR and ROC curves with their areas (scikit-learn), all by segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from riskstream.core.errors import InputError

BETA = 2.0


def binomial_sample_size(tolerable_rate: float, confidence: float) -> int:
    """Zero-acceptance sample size for an infinite population: ``⌈ln(1-c)/ln(1-p)⌉``."""
    _check_rate("tolerable_rate", tolerable_rate)
    _check_rate("confidence", confidence)
    return math.ceil(math.log(1.0 - confidence) / math.log(1.0 - tolerable_rate) - 1e-12)


def hypergeometric_sample_size(population: int, tolerable_rate: float, confidence: float) -> int:
    """Least ``n`` such that a band of ``population`` alerts with ``⌈p·N⌉`` productive ones
    shows none in a sample of ``n`` with probability ≤ ``1 - confidence``."""
    _check_rate("tolerable_rate", tolerable_rate)
    _check_rate("confidence", confidence)
    if population <= 0:
        return 0
    bad = max(1, math.ceil(tolerable_rate * population))
    n = np.arange(0, population + 1)
    p_none = stats.hypergeom.pmf(0, population, bad, n)
    return int(n[np.argmax(p_none <= 1.0 - confidence + 1e-12)])


def _check_rate(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise InputError(name, value, "a number strictly between 0 and 1")


def f_beta(precision: float, recall: float, beta: float = BETA) -> float:
    """``(1+β²)·P·R / (β²·P + R)`` (0 when both are 0)."""
    den = beta**2 * precision + recall
    return float((1 + beta**2) * precision * recall / den) if den > 0 else 0.0


def confusion(y: np.ndarray, alert: np.ndarray, beta: float = BETA) -> dict[str, float]:
    y, alert = np.asarray(y, bool), np.asarray(alert, bool)
    tp = int((y & alert).sum())
    fp = int((~y & alert).sum())
    fn = int((y & ~alert).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "alerts": tp + fp,
        "true_alerts": tp,
        "false_alerts": fp,
        "missed": fn,
        "precision": precision,
        "recall": recall,
        "f1": f_beta(precision, recall, 1.0),
        "f_beta": f_beta(precision, recall, beta),
    }


def curves(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """PR and ROC curves with their areas (average precision, ROC AUC; scikit-learn)."""
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    y = np.asarray(y, bool)
    if y.all() or not y.any():
        return {"pr_auc": None, "roc_auc": None, "pr": None, "roc": None}
    p, r, _ = precision_recall_curve(y, score)
    fpr, tpr, _ = roc_curve(y, score)
    return {
        "pr_auc": float(average_precision_score(y, score)),
        "roc_auc": float(roc_auc_score(y, score)),
        "pr": (r.tolist(), p.tolist()),
        "roc": (fpr.tolist(), tpr.tolist()),
    }


@dataclass(frozen=True)
class TuningConfig:
    """Settings of the tuning study."""

    beta: float = BETA
    confidence: float = 0.95
    tolerable_rate: float = 0.05
    grid: int = 41
    bootstrap: int = 200
    seed: int = 3
    months: float = 3.0


def atl_btl(
    y: np.ndarray, score: np.ndarray, current: float, config: TuningConfig
) -> list[dict[str, Any]]:
    """One row per candidate threshold of a segment: alerts, true alerts and F-beta at it,
    and, against the ``current`` threshold, the true alerts lost (ATL) or the new alerts of
    the band with their productive rate, its 95 % Clopper–Pearson interval and the review
    sample size (BTL)."""
    y = np.asarray(y, bool)
    grid = np.unique(np.quantile(score, np.linspace(0.0, 1.0, config.grid)))
    grid = np.unique(np.append(grid, current))
    at_current = score >= current
    rows = []
    for thr in grid:
        alert = score >= thr
        row: dict[str, Any] = {"threshold": float(thr), **confusion(y, alert, config.beta)}
        row["alerts_per_month"] = row["alerts"] / config.months
        if thr > current:
            band = at_current & ~alert
            row["side"] = "ATL"
            row["lost_true_alerts"] = int((band & y).sum())
        elif thr < current:
            band = alert & ~at_current
            row["side"] = "BTL"
            row["lost_true_alerts"] = 0
        else:
            band = np.zeros_like(alert)
            row["side"] = "current"
            row["lost_true_alerts"] = 0
        size, productive = int(band.sum()), int((band & y).sum())
        row["band_alerts"] = size
        row["band_productive"] = productive
        row["band_productive_rate"] = productive / size if size else None
        if size:
            ci = stats.binomtest(productive, size).proportion_ci(0.95, method="exact")
            row["band_rate_ci"] = (float(ci.low), float(ci.high))
        row["review_sample"] = (
            hypergeometric_sample_size(size, config.tolerable_rate, config.confidence)
            if row["side"] == "BTL"
            else 0
        )
        rows.append(row)
    return rows


def recommend(y: np.ndarray, score: np.ndarray, config: TuningConfig) -> float:
    """The threshold of highest F-beta on ``(y, score)`` (lowest such threshold on ties)."""
    from sklearn.metrics import precision_recall_curve

    y = np.asarray(y, bool)
    if not y.any():
        return float(np.max(score)) + 1e-9  # nothing to find: alert on nothing
    p, r, t = precision_recall_curve(y, score)
    p, r = p[:-1], r[:-1]
    b2 = config.beta**2
    fb = np.divide((1 + b2) * p * r, b2 * p + r, out=np.zeros_like(p), where=b2 * p + r > 0)
    return float(t[int(np.argmax(fb))])


def stability(y: np.ndarray, score: np.ndarray, config: TuningConfig) -> dict[str, Any]:
    """Bootstrap the accounts and re-recommend: the spread of the recommended threshold and
    the F-beta range within which thresholds stay within 95 % of the best."""
    rng = np.random.default_rng(config.seed)
    y = np.asarray(y, bool)
    picks = []
    for _ in range(config.bootstrap):
        idx = rng.integers(0, y.size, y.size)
        if y[idx].any() and not y[idx].all():
            picks.append(recommend(y[idx], score[idx], config))
    picks_arr = np.asarray(picks)
    best = recommend(y, score, config)
    grid = np.unique(np.quantile(score, np.linspace(0, 1, 201)))
    fb = np.array([confusion(y, score >= t, config.beta)["f_beta"] for t in grid])
    near = grid[fb >= 0.95 * fb.max()] if fb.size else grid
    return {
        "recommended": best,
        "bootstrap_median": float(np.median(picks_arr)) if picks_arr.size else None,
        "bootstrap_p05": float(np.quantile(picks_arr, 0.05)) if picks_arr.size else None,
        "bootstrap_p95": float(np.quantile(picks_arr, 0.95)) if picks_arr.size else None,
        "flat_region": (float(near.min()), float(near.max())) if near.size else None,
    }
