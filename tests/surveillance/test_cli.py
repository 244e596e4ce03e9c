"""The CLI contracts of issue 20, end to end on generated files."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.surveillance import aml_model

runner = CliRunner()
SMALL = functools.partialmethod(
    aml_model.ModelConfig.__init__,
    lgbm_n_estimators=40,
    forest_trees=20,
    cv_folds=3,
    n_peer_groups=3,
)


def _run(*args: str) -> dict:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_generate_fit_score_tune_and_models_commands(tmp_path: Path, monkeypatch) -> None:
    # a small model keeps the test quick (the defaults are measured by the bench)
    monkeypatch.setattr(aml_model.ModelConfig, "__init__", SMALL)
    data = tmp_path / "data"
    _run(
        "surveillance",
        "aml",
        "generate",
        "--out",
        str(data),
        "--accounts-count",
        "500",
        "--days",
        "30",
        "--seed",
        "4",
        "--json",
    )
    # one bad record: quarantined, counted, the rest loads
    with (data / "transactions.csv").open("a") as f:
        f.write("x1,2026-01-05T10:00:00,A,B,-1,USD,wire\n")
    tx, labels = str(data / "transactions.csv"), str(data / "labels.csv")
    fit = _run(
        "surveillance",
        "aml",
        "fit",
        "--transactions",
        tx,
        "--labels",
        labels,
        "--model",
        str(tmp_path / "model"),
        "--json",
    )
    assert fit["inputs"][0]["quarantined"] == 1
    assert set(fit["thresholds"]) == {"lightgbm", "random_forest", "decision_tree"}
    out = tmp_path / "scores.csv"
    score = _run(
        "surveillance",
        "aml",
        "score",
        "--model",
        str(tmp_path / "model"),
        "--transactions",
        tx,
        "--out",
        str(out),
        "--json",
    )
    frame = pl.read_csv(out)
    assert frame.columns == ["account", "score", "alert"]
    assert frame["alert"].dtype == pl.Boolean and frame["alert"].sum() == score["alerts"]
    explained = pl.read_csv(out.with_suffix(".explanations.csv"))
    assert explained["account"].n_unique() == score["alerts"]
    report = tmp_path / "tune.html"
    tune = _run(
        "surveillance",
        "tune",
        "--model",
        str(tmp_path / "model"),
        "--transactions",
        tx,
        "--labels",
        labels,
        "--report",
        str(report),
        "--json",
    )
    html = report.read_text()
    assert "Sample-review plan" in html and "plotly" in html.lower() and "<script" in html
    assert 'src="http' not in html  # self-contained: plotly.js inlined, nothing fetched
    assert tune["scope"]["beta"] == 2.0 and tune["segments"]


def test_models_list_show_review(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path))
    rows = _run("models", "list", "--json")["models"]
    assert any(r["model_id"] == "regime_hmm" for r in rows)
    card = _run("models", "show", "aml_lightgbm", "--json")
    assert card["card"]["owner"] == "compliance"
    review = _run("models", "review", "--json")
    assert review["count"] >= len(rows)  # nothing validated yet
