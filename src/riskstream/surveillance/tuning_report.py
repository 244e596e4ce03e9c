"""The tuning study and its self-contained HTML report (plotly.js inlined once).

:func:`run_study` scores labelled accounts with a fitted :class:`AmlModel`, then per segment
measures the current operating point, sweeps the threshold above and below the line,
recommends the F-beta-best threshold with its bootstrap stability, sizes the review sample
of the below-the-line band, and compares the champion with its challengers; for the rule
scenarios it runs one-at-a-time and grid sensitivity sweeps of every threshold; for the
champion it sweeps two hyper-parameters (cross-validated PR AUC). :func:`write_report`
renders it: scope, data, method, results by segment, recommendations, sample-review plan.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from riskstream.surveillance import aml_rules
from riskstream.surveillance.aml_features import AccountFeatures
from riskstream.surveillance.aml_model import CHAMPION, AmlModel
from riskstream.surveillance.tuning import (
    TuningConfig,
    atl_btl,
    confusion,
    curves,
    hypergeometric_sample_size,
    recommend,
    stability,
)

OAT_FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5)


def run_study(
    model: AmlModel,
    features: AccountFeatures,
    labels: np.ndarray,
    config: TuningConfig | None = None,
    model_grid: bool = True,
) -> dict[str, Any]:
    """The tuning study as a JSON-ready dict (``labels``: float, NaN = unlabelled)."""
    cfg = config or TuningConfig()
    scores = model.score(features)
    known = ~np.isnan(labels)
    y = labels[known].astype(bool)
    score = scores.score[known]
    segment = scores.segment[known]
    current = scores.threshold[known]
    study: dict[str, Any] = {
        "scope": {
            "model": "AML account model",
            "champion": CHAMPION,
            "accounts": int(features.values.shape[0]),
            "labelled": int(known.sum()),
            "suspicious": int(y.sum()),
            "segments": sorted(set(segment.tolist())),
            "beta": cfg.beta,
            "confidence": cfg.confidence,
            "tolerable_rate": cfg.tolerable_rate,
            "months": cfg.months,
        },
        "overall": {
            "current": confusion(y, score >= current, cfg.beta),
            **{k: v for k, v in curves(y, score).items() if k.endswith("auc")},
        },
        "segments": {},
        "champion_challenger": {},
    }
    recommended = np.empty_like(score)
    for seg in study["scope"]["segments"]:
        m = segment == seg
        ys, ss, cur = y[m], score[m], float(current[m][0])
        rec = recommend(ys, ss, cfg) if ys.any() else cur
        recommended[m] = rec
        before = confusion(ys, ss >= cur, cfg.beta)
        after = confusion(ys, ss >= rec, cfg.beta)
        band = (ss < cur) & (ss >= min(rec, cur) - 1e-12) if rec < cur else (ss < cur)
        below = ss < cur
        # the BTL review band: the new alerts of the recommended threshold when it is lower;
        # otherwise the highest-scoring non-alerts, as many as the current alerts
        if rec >= cur:
            order = np.argsort(-ss[below])[: max(1, before["alerts"])]
            band_size = int(order.size)
        else:
            band_size = int(band.sum())
        study["segments"][seg] = {
            "accounts": int(m.sum()),
            "suspicious": int(ys.sum()),
            "current_threshold": cur,
            "recommended_threshold": rec,
            "before": before,
            "after": after,
            "curves": curves(ys, ss),
            "atl_btl": atl_btl(ys, ss, cur, cfg),
            "stability": stability(ys, ss, cfg) if ys.any() and not ys.all() else None,
            "review_plan": {
                "band_alerts": band_size,
                "sample": hypergeometric_sample_size(band_size, cfg.tolerable_rate, cfg.confidence),
                "confidence": cfg.confidence,
                "tolerable_rate": cfg.tolerable_rate,
            },
        }
    study["overall"]["recommended"] = confusion(y, score >= recommended, cfg.beta)
    for name, s in scores.by_model.items():
        study["champion_challenger"][name] = {
            **confusion(y, s[known] >= model.thresholds_[name], cfg.beta),
            **{k: v for k, v in curves(y, s[known]).items() if k.endswith("auc")},
            "threshold": model.thresholds_[name],
        }
    champion_pr = study["champion_challenger"][CHAMPION]["pr_auc"] or 0.0
    study["challengers_better_on_pr_auc"] = [
        name
        for name, m in study["champion_challenger"].items()
        if name != CHAMPION and (m["pr_auc"] or 0.0) > champion_pr
    ]
    study["rules"] = _rule_sensitivity(features, known, y, cfg, segment_all=scores.segment)
    if model_grid:
        study["model_grid"] = _model_grid(model, features, labels)
    return study


def _rule_sensitivity(
    features: AccountFeatures,
    known: np.ndarray,
    y: np.ndarray,
    cfg: TuningConfig,
    segment_all: np.ndarray,
) -> dict[str, Any]:
    def measure(params: aml_rules.RuleParams) -> dict[str, float]:
        fired = aml_rules.evaluate_rules(features, params, segment_all)
        return confusion(y, aml_rules.any_rule(fired)[known], cfg.beta)

    base = aml_rules.DEFAULT_RULES
    fired = aml_rules.evaluate_rules(features, base, segment_all)
    per_scenario = {name: confusion(y, hit[known], cfg.beta) for name, hit in fired.items()}
    oat = []
    for scenario, by_param in base.items():
        for param in by_param:
            for factor in OAT_FACTORS:
                row = measure(aml_rules.scaled(base, scenario, param, factor))
                oat.append({"scenario": scenario, "param": param, "factor": factor, **row})
    grid = []
    for f_count in OAT_FACTORS:
        for f_flow in OAT_FACTORS:
            params = aml_rules.scaled(
                aml_rules.scaled(base, "fan_in", "count", f_count), "fan_in", "flow_through", f_flow
            )
            grid.append({"count_factor": f_count, "flow_factor": f_flow, **measure(params)})
    return {
        "params": base,
        "baseline": measure(base),
        "per_scenario": per_scenario,
        "one_at_a_time": oat,
        "grid_fan_in": grid,
    }


def _model_grid(model: AmlModel, features: AccountFeatures, labels: np.ndarray) -> list[dict]:
    """Cross-validated PR AUC of the champion over num_leaves × learning_rate."""
    from lightgbm import LGBMClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    known = ~np.isnan(labels)
    X = model.design(features)[0][known]
    y = labels[known].astype(bool)
    folds = StratifiedKFold(3, shuffle=True, random_state=model.config.seed)
    rows = []
    for leaves in (7, 15, 31):
        for rate in (0.03, 0.1):
            est = LGBMClassifier(
                n_estimators=model.config.lgbm_n_estimators,
                learning_rate=rate,
                num_leaves=leaves,
                min_child_samples=model.config.lgbm_min_child_samples,
                random_state=model.config.seed,
                n_jobs=2,
                verbose=-1,
            )
            ap = cross_val_score(est, X, y, cv=folds, scoring="average_precision")
            rows.append(
                {
                    "num_leaves": leaves,
                    "learning_rate": rate,
                    "pr_auc_mean": float(ap.mean()),
                    "pr_auc_std": float(ap.std()),
                }
            )
    return rows


# ---------------------------------------------------------------------- report


def _fig_html(fig: go.Figure, first: bool) -> str:
    return pio.to_html(fig, include_plotlyjs=first, full_html=False)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(study: dict[str, Any], path: Path | str) -> Path:
    """Write the self-contained HTML tuning report."""
    scope = study["scope"]
    figs: list[str] = []

    def add(fig: go.Figure) -> str:
        figs.append("x")
        return _fig_html(fig, first=len(figs) == 1)

    parts = [
        "<h1>AML threshold tuning report</h1>",
        "<h2>Scope</h2>",
        f"<p>Model: {html.escape(scope['model'])} (champion {scope['champion']}). "
        f"{scope['accounts']} accounts scored, {scope['labelled']} labelled, "
        f"{scope['suspicious']} suspicious; segments: {', '.join(scope['segments'])}.</p>",
        "<h2>Data</h2>",
        "<p>Transactions and labels as given to <code>riskstream surveillance tune</code>; "
        "labels are the investigated outcome (suspicious or not) of each account.</p>",
        "<h2>Method</h2>",
        f"<p>Per segment the account score threshold is moved above the line (ATL: true "
        f"alerts lost) and below it (BTL: new alerts, their productive rate with a 95% "
        f"Clopper–Pearson interval, and a zero-acceptance review sample sized "
        f"hypergeometrically for {scope['confidence']:.0%} confidence that the band's "
        f"productive rate is below {scope['tolerable_rate']:.0%}). The recommended "
        f"threshold maximises F-beta with beta = {scope['beta']:g} (recall weighted "
        f"{scope['beta'] ** 2:g}× precision); its stability is the spread of the "
        f"recommendation over bootstrap resamples of the accounts and the range of thresholds "
        f"within 95% of the best F-beta. Rule thresholds are swept one at a time "
        f"(×{', ×'.join(f'{f:g}' for f in OAT_FACTORS)}) and on a grid; the champion's "
        f"hyper-parameters on a grid of cross-validated PR AUC.</p>",
        "<h2>Results overall</h2>",
        _table(
            [
                {"point": "current", **study["overall"]["current"]},
                {"point": "recommended", **study["overall"]["recommended"]},
            ],
            ["point", "alerts", "true_alerts", "precision", "recall", "f1", "f_beta"],
        ),
        f"<p>PR AUC {study['overall'].get('pr_auc')}, "
        f"ROC AUC {study['overall'].get('roc_auc')}.</p>",
        "<h2>Champion / challenger</h2>",
        _table(
            [{"model": k, **v} for k, v in study["champion_challenger"].items()],
            [
                "model",
                "threshold",
                "alerts",
                "precision",
                "recall",
                "f1",
                "f_beta",
                "pr_auc",
                "roc_auc",
            ],
        ),
        "<p>Challengers better than the champion on PR AUC (a reason to re-examine the "
        f"champion): {', '.join(study['challengers_better_on_pr_auc']) or 'none'}.</p>",
        "<h2>Results by segment</h2>",
    ]
    recs = []
    plans = []
    for seg, res in study["segments"].items():
        parts.append(f"<h3>{html.escape(seg)}</h3>")
        parts.append(
            _table(
                [{"point": "before", **res["before"]}, {"point": "after", **res["after"]}],
                ["point", "alerts", "true_alerts", "missed", "precision", "recall", "f1", "f_beta"],
            )
        )
        rows = res["atl_btl"]
        fig = go.Figure()
        fig.add_scatter(
            x=[r["alerts_per_month"] for r in rows],
            y=[r["true_alerts"] / study["scope"]["months"] for r in rows],
            mode="lines+markers",
            name="trade-off",
            text=[f"threshold {r['threshold']:.3f}" for r in rows],
        )
        fig.update_layout(
            title=f"{seg}: alerts/month vs expected true positives/month",
            xaxis_title="alerts per month",
            yaxis_title="true alerts per month",
            height=360,
        )
        parts.append(add(fig))
        c = res["curves"]
        if c["pr"] is not None:
            fig = go.Figure()
            fig.add_scatter(x=c["pr"][0], y=c["pr"][1], name=f"PR (AUC {c['pr_auc']:.3f})")
            fig.add_scatter(x=c["roc"][0], y=c["roc"][1], name=f"ROC (AUC {c['roc_auc']:.3f})")
            fig.update_layout(title=f"{seg}: PR (recall, precision) and ROC (FPR, TPR)", height=360)
            parts.append(add(fig))
        parts.append(
            _table(
                rows,
                [
                    "side",
                    "threshold",
                    "alerts",
                    "true_alerts",
                    "precision",
                    "recall",
                    "f_beta",
                    "lost_true_alerts",
                    "band_alerts",
                    "band_productive_rate",
                    "review_sample",
                ],
            )
        )
        st = res["stability"] or {}
        recs.append(
            {
                "segment": seg,
                "current": res["current_threshold"],
                "recommended": res["recommended_threshold"],
                "alerts_before": res["before"]["alerts"],
                "alerts_after": res["after"]["alerts"],
                "bootstrap_p05": st.get("bootstrap_p05"),
                "bootstrap_p95": st.get("bootstrap_p95"),
                "flat_region": st.get("flat_region"),
            }
        )
        plans.append({"segment": seg, **res["review_plan"]})
    parts += [
        "<h2>Recommendations</h2>",
        _table(
            recs,
            [
                "segment",
                "current",
                "recommended",
                "alerts_before",
                "alerts_after",
                "bootstrap_p05",
                "bootstrap_p95",
                "flat_region",
            ],
        ),
        "<h2>Sample-review plan (below the line)</h2>",
        _table(plans, ["segment", "band_alerts", "sample", "confidence", "tolerable_rate"]),
        "<p>Draw the sample at random from the band; if no productive alert is found, the "
        "band's productive rate is below the tolerable rate at the stated confidence and the "
        "threshold stands; otherwise lower it and repeat.</p>",
        "<h2>Rule scenarios: sensitivity</h2>",
        _table(
            [{"scenario": k, **v} for k, v in study["rules"]["per_scenario"].items()],
            ["scenario", "alerts", "true_alerts", "precision", "recall"],
        ),
    ]
    oat = study["rules"]["one_at_a_time"]
    fig = go.Figure()
    for key in sorted({(r["scenario"], r["param"]) for r in oat}):
        pts = [r for r in oat if (r["scenario"], r["param"]) == key]
        fig.add_scatter(
            x=[r["factor"] for r in pts],
            y=[r["f_beta"] for r in pts],
            mode="lines+markers",
            name=f"{key[0]}.{key[1]}",
        )
    fig.update_layout(
        title="One-at-a-time: F-beta of all rules vs threshold factor",
        xaxis_title="factor × default threshold",
        yaxis_title="F-beta",
        height=400,
    )
    parts.append(add(fig))
    grid = study["rules"]["grid_fan_in"]
    fig = go.Figure(
        go.Heatmap(
            x=[f"{f:g}" for f in OAT_FACTORS],
            y=[f"{f:g}" for f in OAT_FACTORS],
            z=[
                [
                    next(
                        r["f_beta"]
                        for r in grid
                        if r["count_factor"] == a and r["flow_factor"] == b
                    )
                    for a in OAT_FACTORS
                ]
                for b in OAT_FACTORS
            ],
        )
    )
    fig.update_layout(
        title="Grid: fan-in count factor (x) × flow-through factor (y), F-beta", height=400
    )
    parts.append(add(fig))
    if "model_grid" in study:
        parts.append("<h2>Champion hyper-parameters (3-fold PR AUC)</h2>")
        parts.append(
            _table(
                study["model_grid"], ["num_leaves", "learning_rate", "pr_auc_mean", "pr_auc_std"]
            )
        )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;"
        "padding:2px 6px;font-size:12px}"
    )
    doc = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>AML tuning report"
        f"</title><style>{style}</style></head><body>{''.join(parts)}"
        f"<script type='application/json' id='study'>"
        f"{html.escape(json.dumps(_summary(study), default=float))}</script></body></html>"
    )
    path = Path(path)
    path.write_text(doc)
    return path


def _summary(study: dict[str, Any]) -> dict[str, Any]:
    """The study without its long curves and tables (the ``--json`` payload)."""
    return {
        "scope": study["scope"],
        "overall": study["overall"],
        "champion_challenger": study["champion_challenger"],
        "challengers_better_on_pr_auc": study["challengers_better_on_pr_auc"],
        "segments": {
            seg: {k: v for k, v in res.items() if k not in ("curves", "atl_btl")}
            for seg, res in study["segments"].items()
        },
        "rules_baseline": study["rules"]["baseline"],
    }


summary = _summary
