"""The CLI file contracts of issue 16, as written: `riskstream optimise` and `hedge ratio`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from tests.portfolio.conftest import COUNTRIES, HL_COV, HL_PICKS, HL_VIEWS, HL_WEIGHTS
from tests.portfolio.test_hedging import HULL_DF, HULL_DS


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def fail(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code != 0
    return str(result.exception)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from skfolio.datasets import load_sp500_dataset

    d = tmp_path_factory.mktemp("pf")
    prices = load_sp500_dataset().iloc[-501:, :6]
    pl.from_pandas(prices.reset_index().rename(columns={"Date": "date"})).write_csv(d / "p.csv")
    cov = pl.DataFrame({"asset": COUNTRIES, **{c: HL_COV[:, j] for j, c in enumerate(COUNTRIES)}})
    cov.write_csv(d / "cov.csv")
    pl.DataFrame({"asset": COUNTRIES, "weight": HL_WEIGHTS}).write_csv(d / "mw.csv")
    views = pl.DataFrame({c: HL_PICKS[:, j] for j, c in enumerate(COUNTRIES)}).with_columns(
        q=pl.Series(HL_VIEWS)
    )
    views.write_csv(d / "views.csv")
    pl.DataFrame({"spot_change": HULL_DS, "futures_change": HULL_DF}).write_csv(d / "h.csv")
    return {"dir": d, "prices": d / "p.csv", "cov": d / "cov.csv", "mw": d / "mw.csv",
            "views": d / "views.csv", "hedge": d / "h.csv"}  # fmt: skip


def test_optimise_prices_max_sharpe_uses_the_documented_defaults(files):
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction
    from skfolio.prior import EmpiricalPrior

    out = run("optimise", "--prices", str(files["prices"]), "--objective", "max-sharpe",
              "--risk-free", "0.02", "--json")  # fmt: skip
    px = pl.read_csv(files["prices"]).drop("date").to_numpy()
    r = px[1:] / px[:-1] - 1
    mu = np.prod(1 + r, axis=0) ** (252 / len(r)) - 1  # the contract's compounded mean
    cov = np.cov(r, rowvar=False) * 252
    w = np.array(list(out["weights"].values()))
    assert w.sum() == pytest.approx(1.0) and w.min() >= 0
    assert out["expected_return"] == pytest.approx(mu @ w)
    assert out["volatility"] == pytest.approx(np.sqrt(w @ cov @ w))
    assert out["sharpe"] == pytest.approx((mu @ w - 0.02) / np.sqrt(w @ cov @ w))
    # peer: skfolio's max-ratio portfolio on the same annualised moments (daily risk-free)
    from skfolio.moments import EmpiricalCovariance

    peer = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
        risk_measure=RiskMeasure.STANDARD_DEVIATION,
        risk_free_rate=0.02 / 252,
        prior_estimator=EmpiricalPrior(covariance_estimator=EmpiricalCovariance()),
        overwrite_expected_return=lambda w_: (mu / 252) @ w_,
    ).fit(r)
    np.testing.assert_allclose(w, peer.weights_, atol=5e-4)
    f = out["frontier"]
    assert np.all(np.diff(f["volatilities"]) >= -1e-8)


def test_optimise_prices_min_volatility_and_erc(files):
    out = run(
        "optimise", "--prices", str(files["prices"]), "--objective", "min-volatility", "--json"
    )
    assert set(out) >= {"weights", "expected_return", "volatility", "sharpe"}
    erc = run("optimise", "--prices", str(files["prices"]), "--objective", "erc", "--json")
    rc = np.array(list(erc["risk_contributions"].values()))
    np.testing.assert_allclose(rc, rc.mean(), rtol=1e-6)


def test_optimise_cov_erc(files):
    out = run("optimise", "--cov", str(files["cov"]), "--objective", "erc", "--json")
    assert list(out["weights"]) == COUNTRIES
    rc = np.array(list(out["risk_contributions"].values()))
    np.testing.assert_allclose(rc, rc.mean(), rtol=1e-8)


def test_black_litterman_file_contract_reproduces_he_litterman_table_5(files):
    out = run("optimise", "black-litterman", "--cov", str(files["cov"]), "--market-weights",
              str(files["mw"]), "--views", str(files["views"]), "--delta", "2.5", "--tau",
              "0.05", "--json")  # fmt: skip
    # He & Litterman (1999), Tables 2 and 5 (percent, 1 dp)
    assert [round(v * 100, 1) for v in out["prior_returns"].values()] == [
        3.9,
        6.9,
        8.4,
        9.0,
        4.3,
        6.8,
        7.6,
    ]
    assert [round(v * 100, 1) for v in out["posterior_returns"].values()] == [
        4.4,
        8.7,
        9.5,
        11.2,
        4.6,
        7.0,
        7.5,
    ]
    assert [round(v * 100, 1) for v in out["weights"].values()] == [
        1.5,
        41.9,
        -3.4,
        33.6,
        11.0,
        -8.2,
        18.8,
    ]


def test_hedge_ratio_file_contract_reproduces_hull(files):
    out = run("hedge", "ratio", "--input", str(files["hedge"]), "--exposure", "2000000",
              "--contract-size", "42000", "--json")  # fmt: skip
    # Hull (9th ed.), Example 3.3: h* = 0.778, 37 contracts
    assert out["hedge_ratio"] == pytest.approx(0.778, abs=5e-4)
    assert out["contracts"] == 37


def test_bad_files_name_the_field(files):
    bad = files["dir"] / "bad.csv"
    pl.DataFrame({"date": ["a", "b", "c"], "X": [1.0, None, 2.0], "Y": [1.0, 2.0, 3.0]}).write_csv(
        bad
    )
    assert "--prices column X" in fail("optimise", "--prices", str(bad), "--json")
    assert "bad.csv:3" in fail("optimise", "--prices", str(bad), "--json")
    assert "--objective" in fail(
        "optimise", "--prices", str(files["prices"]), "--objective", "best"
    )
    assert "--input" in fail("hedge", "ratio", "--input", str(files["prices"]), "--exposure", "1",
                             "--contract-size", "1")  # fmt: skip


def test_black_litterman_regime_views(files):
    # two regimes that agree on view 2 and disagree on view 1; 70/30 probabilities
    d = files["dir"]
    views = (
        pl.read_csv(files["views"])
        .drop("q")
        .with_columns(q_calm=pl.Series([0.05, 0.03]), q_stress=pl.Series([-0.02, 0.03]))
    )
    views.write_csv(d / "rviews.csv")
    out = run("optimise", "black-litterman", "--cov", str(files["cov"]), "--market-weights",
              str(files["mw"]), "--views", str(d / "rviews.csv"), "--regime-probabilities",
              "calm=0.7,stress=0.3", "--json")  # fmt: skip
    from riskstream.portfolio.black_litterman import (
        black_litterman,
        regime_views,
        view_uncertainty,
    )

    q, om = regime_views([[0.05, 0.03], [-0.02, 0.03]], [0.7, 0.3],
                         view_uncertainty(HL_COV, HL_PICKS, 0.05))  # fmt: skip
    expected = black_litterman(HL_COV, HL_WEIGHTS, HL_PICKS, q, 2.5, 0.05, om)
    np.testing.assert_allclose(list(out["posterior_returns"].values()), expected.posterior_returns)
    assert out["view_returns"] == pytest.approx([0.029, 0.03])
    # the disagreement widens view 1's uncertainty: its omega grows, view 2's does not
    hl = np.diag(view_uncertainty(HL_COV, HL_PICKS, 0.05))
    assert out["omega"][0] > hl[0] and out["omega"][1] == pytest.approx(hl[1])


def test_hedge_band(files):
    path = files["dir"] / "exposure.csv"
    pl.DataFrame({"exposure": [100.0, 104.0, 109.0, 111.0, 95.0, 96.0]}).write_csv(path)
    out = run("hedge", "band", "--input", str(path), "--band", "8", "--json")
    assert out["rehedges"] == 3 and out["hedge"] == [-100, -100, -109, -109, -95, -95]
    # default band: portfolio.rehedge_band (10%) of the mean absolute exposure
    out = run("hedge", "band", "--input", str(path), "--json")
    assert out["band"] == pytest.approx(0.1 * np.mean([100, 104, 109, 111, 95, 96]))
