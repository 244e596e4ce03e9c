"""``riskstream surveillance``: AML models (generate, fit, score) and threshold tuning.

Contracts (issue 20):

- ``surveillance aml fit --transactions FILE --labels FILE --model DIR [--json]``
- ``surveillance aml score --model DIR --transactions FILE --out FILE.csv [--json]``
  (one row per account: ``account, score, alert``; the SHAP top features of each alert go
  to ``FILE.explanations.csv``)
- ``surveillance tune --model DIR --transactions FILE --labels FILE --report FILE.html
  [--json]``

``--accounts FILE`` (optional) adds the reference data (segment, country, rating); bad
records of any file are quarantined and counted (``--quarantine FILE`` writes them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import typer

from riskstream.cli import app, print_json

surveillance_app = typer.Typer(
    help="AML detection models and threshold tuning.", no_args_is_help=True
)
aml_app = typer.Typer(help="AML account models: generate data, fit, score.", no_args_is_help=True)
surveillance_app.add_typer(aml_app, name="aml")
app.add_typer(surveillance_app, name="surveillance")

ACCOUNTS_OPT = typer.Option(None, "--accounts", help="Account reference CSV (optional).")
QUARANTINE_OPT = typer.Option(None, "--quarantine", help="Write quarantined records (CSV).")


def _load(
    transactions: Path, accounts: Path | None, quarantine: Path | None
) -> tuple[Any, dict[str, Any]]:
    from riskstream.surveillance.aml_data import load_accounts, load_transactions
    from riskstream.surveillance.aml_features import build_features

    loaded = [load_transactions(transactions)]
    if accounts is not None:
        loaded.append(load_accounts(accounts))
    if quarantine is not None:
        pl.concat([q.quarantine.with_columns(source=pl.lit(q.source)) for q in loaded]).write_csv(
            quarantine
        )
    for q in loaded:
        if q.n_quarantined:
            typer.echo(f"{q.source}: {q.n_quarantined} record(s) quarantined", err=True)
    features = build_features(loaded[0].frame, loaded[1].frame if accounts else None)
    return features, {"inputs": [q.summary() for q in loaded]}


def _labels(features: Any, path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    from riskstream.surveillance.aml_data import load_labels

    loaded = load_labels(path)
    if loaded.n_quarantined:
        typer.echo(f"{path}: {loaded.n_quarantined} record(s) quarantined", err=True)
    lookup = dict(
        zip(loaded.frame["account"].to_list(), loaded.frame["is_suspicious"].to_list(), strict=True)
    )
    y = np.array([float(lookup[a]) if a in lookup else np.nan for a in features.accounts])
    return y, loaded.summary()


@aml_app.command("generate")
def generate_command(
    out: Path = typer.Option(..., "--out", help="Folder for transactions/accounts/labels CSV."),
    n_accounts: int = typer.Option(4000, "--accounts-count", help="Number of accounts."),
    days: int = typer.Option(90, "--days", help="Days of activity."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Generate a labelled AML data set (ordinary behaviour + injected typologies)."""
    from riskstream.surveillance.aml_generator import GeneratorConfig, generate

    data = generate(GeneratorConfig(n_accounts=n_accounts, days=days, seed=seed))
    paths = data.write(out)
    payload = {
        "transactions": data.transactions.height,
        "accounts": data.accounts.height,
        "suspicious": int(data.labels["is_suspicious"].sum()),
        "files": {k: str(v) for k, v in paths.items()},
    }
    if as_json:
        print_json(payload)
    else:
        typer.echo(
            f"{payload['transactions']} transactions, {payload['suspicious']} "
            f"suspicious of {payload['accounts']} accounts → {out}"
        )


@aml_app.command("fit")
def fit_command(
    transactions: Path = typer.Option(..., "--transactions", help="Transactions CSV."),
    labels: Path = typer.Option(..., "--labels", help="Labels CSV: account, is_suspicious."),
    model: Path = typer.Option(..., "--model", help="Folder to write the fitted model to."),
    accounts: Path | None = ACCOUNTS_OPT,
    quarantine: Path | None = QUARANTINE_OPT,
    threshold_rule: str = typer.Option(
        "both_floors",
        "--threshold-rule",
        help="both_floors (default): the strongest evidence of precision >= 0.6 and recall "
        ">= 0.8 (intersection-union test); recall_at_precision: highest recall at precision "
        ">= 0.6.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Fit peer groups, decision tree, random forest and LightGBM; tune their thresholds."""
    from riskstream.surveillance.aml_model import AmlModel, ModelConfig

    config = ModelConfig(threshold_rule=threshold_rule)  # checked before the data is read
    features, info = _load(transactions, accounts, quarantine)
    y, label_info = _labels(features, labels)
    fitted = AmlModel(config).fit(features, y)
    fitted.save(model)
    payload = {**info, "labels": label_info, "model": str(model), **fitted.card()}
    payload.pop("features")
    if as_json:
        print_json(payload)
        return
    for name, m in fitted.metrics_.items():
        typer.echo(
            f"{name}: threshold {m['threshold']:.4f}, out-of-fold precision "
            f"{m['precision']:.3f}, recall {m['recall']:.3f}, PR AUC {m['pr_auc']:.3f}"
        )


@aml_app.command("score")
def score_command(
    model: Path = typer.Option(..., "--model", help="Folder written by 'aml fit'."),
    transactions: Path = typer.Option(..., "--transactions", help="Transactions CSV."),
    out: Path = typer.Option(..., "--out", help="Output CSV: account, score, alert."),
    accounts: Path | None = ACCOUNTS_OPT,
    quarantine: Path | None = QUARANTINE_OPT,
    top: int = typer.Option(5, "--top", help="SHAP features per alert."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Score every account; explain each alert with its top SHAP contributions."""
    from riskstream.surveillance.aml_model import AmlModel

    fitted = AmlModel.load(model)
    features, info = _load(transactions, accounts, quarantine)
    scores = fitted.score(features)
    pl.DataFrame(
        {"account": scores.accounts.tolist(), "score": scores.score, "alert": scores.alert}
    ).write_csv(out)
    explain_path = out.with_suffix(".explanations.csv")
    rows = fitted.explain(features, np.flatnonzero(scores.alert), top=top)
    pl.DataFrame(
        rows,
        schema={
            "account": pl.String,
            "rank": pl.Int64,
            "feature": pl.String,
            "value": pl.Float64,
            "contribution": pl.Float64,
        },
    ).write_csv(explain_path)
    payload = {
        **info,
        "accounts": int(scores.score.size),
        "alerts": int(scores.alert.sum()),
        "out": str(out),
        "explanations": str(explain_path),
    }
    if as_json:
        print_json(payload)
    else:
        typer.echo(f"{payload['alerts']} alerts of {payload['accounts']} accounts → {out}")


@surveillance_app.command("tune")
def tune_command(
    model: Path = typer.Option(..., "--model", help="Folder written by 'aml fit'."),
    transactions: Path = typer.Option(..., "--transactions", help="Transactions CSV."),
    labels: Path = typer.Option(..., "--labels", help="Labels CSV: account, is_suspicious."),
    report: Path = typer.Option(..., "--report", help="HTML report to write."),
    accounts: Path | None = ACCOUNTS_OPT,
    beta: float = typer.Option(2.0, "--beta", help="F-beta's beta (recall weight)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Review-sample confidence."),
    tolerable: float = typer.Option(0.05, "--tolerable-rate", help="Tolerable productive rate."),
    apply: bool = typer.Option(False, "--apply", help="Store the recommended thresholds."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """ATL/BTL tuning, sensitivity, champion/challenger: the HTML tuning report."""
    from riskstream.surveillance.aml_model import AmlModel
    from riskstream.surveillance.tuning import TuningConfig
    from riskstream.surveillance.tuning_report import run_study, summary, write_report

    fitted = AmlModel.load(model)
    features, info = _load(transactions, accounts, None)
    y, _ = _labels(features, labels)
    cfg = TuningConfig(beta=beta, confidence=confidence, tolerable_rate=tolerable)
    study = run_study(fitted, features, y, cfg)
    write_report(study, report)
    if apply:
        fitted.segment_thresholds_ = {
            seg: res["recommended_threshold"] for seg, res in study["segments"].items()
        }
        fitted.save(model)
    payload = {**info, "report": str(report), "applied": apply, **summary(study)}
    if as_json:
        print_json(payload)
        return
    for seg, res in study["segments"].items():
        typer.echo(
            f"{seg}: threshold {res['current_threshold']:.4f} → "
            f"{res['recommended_threshold']:.4f}; alerts {res['before']['alerts']} → "
            f"{res['after']['alerts']}; review sample {res['review_plan']['sample']}"
        )
    typer.echo(f"report → {report}")
