"""The validation report: self-contained HTML and the same figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import stats

from riskstream.backtest.attribution import explain_pnl
from riskstream.backtest.es_tests import tail_levels
from riskstream.backtest.report import write_report
from riskstream.backtest.validation import ForecastRun, compare_runs, validate_run


def _run(name: str, scale: float, n: int = 600, seed: int = 0) -> ForecastRun:
    rng = np.random.default_rng(seed)
    pnl = 0.01 * rng.standard_normal(n)
    c = 0.99
    var = np.full(n, scale * 0.01 * stats.norm.ppf(c))
    es = np.full(n, scale * 0.01 * stats.norm.pdf(stats.norm.ppf(c)) / (1 - c))
    tail = np.tile(scale * 0.01 * stats.norm.ppf(tail_levels(c)), (n, 1))
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + n)
    return ForecastRun(name, c, dates, pnl, var, es, tail)


def test_report_is_self_contained(tmp_path: Path) -> None:
    runs = [_run("good", 1.0), _run("low", 0.7)]
    results = [(run, validate_run(run, n_simulations=500)) for run in runs]
    rng = np.random.default_rng(3)
    hpl = rng.standard_normal(250)
    attribution = explain_pnl(
        runs[0].dates[:250], hpl, {"delta": 0.9 * hpl, "gamma": 0.05 * hpl**2}
    )
    html_path, json_path = write_report(
        tmp_path / "report.html",
        results,
        title="test",
        mcs=compare_runs(runs, reps=100),
        attribution=attribution,
        per_model=True,
    )
    text = html_path.read_text()
    assert "<script src=" not in text  # nothing fetched from the network: works offline
    assert text.count("Plotly.newPlot") == 3 * 2 + 2  # three figures per model + attribution
    assert "Model good" in text and "Model low" in text and "P&amp;L attribution" in text
    single = (tmp_path / "report.low.html").read_text()
    assert "Model low" in single and "Model good" not in single
    assert single.count("Plotly.newPlot") == 3 + 2
    figures = json.loads(json_path.read_text())
    assert set(figures) == {"good", "low", "attribution"}
    assert set(figures["good"]) == {"pnl_vs_var", "exception_counts", "traffic_light"}
    # The exceptions trace marks exactly the days the loss exceeded VaR.
    marks = [t for t in figures["low"]["pnl_vs_var"]["data"] if t["name"].startswith("exc")]
    assert len(marks[0]["x"]) == int(runs[1].hits.sum())
