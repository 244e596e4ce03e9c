"""The MAR21/MAR22 data files hold the Basel text's numbers.

Source: Basel Framework, MAR21 and MAR22, version effective as of 1 January 2023
(https://www.bis.org/basel_framework/chapter/MAR/21.htm, .../22.htm); each expected value
below is read off the paragraph or table named beside it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskstream.regulatory.sa import params


def test_girr_risk_weights_mar21_42_table_1() -> None:
    g = params.sbm()["girr"]
    assert g["tenor_labels"] == ["3m", "6m", "1y", "2y", "3y", "5y", "10y", "15y", "20y", "30y"]
    assert g["risk_weights"] == [0.017, 0.017, 0.016, 0.013, 0.012] + [0.011] * 5
    assert g["inflation_risk_weight"] == g["xccy_basis_risk_weight"] == 0.016  # MAR21.43


def test_girr_tenor_correlations_mar21_46_table_2() -> None:
    # Table 2 is max(exp(-3 % |Tk - Tl| / min(Tk, Tl)), 40 %) rounded to 0.1 %; the MAR21.47
    # footnote quotes 1y-5y as 88.69 %.
    g = params.sbm()["girr"]
    t = np.asarray(g["tenors_y"])
    formula = np.maximum(
        np.exp(-0.03 * np.abs(t[:, None] - t[None, :]) / np.minimum(t[:, None], t[None, :])),
        0.40,
    )
    assert np.array_equal(np.round(formula, 3), np.asarray(g["tenor_correlation"]))
    assert g["tenor_correlation"][2][5] == 0.887
    assert (g["same_tenor_different_curve"], g["inflation_correlation"]) == (0.999, 0.40)
    assert (g["xccy_basis_correlation"], g["cross_bucket"]) == (0.0, 0.50)  # MAR21.49-21.50


def test_csr_mar21_53_to_57() -> None:
    c = params.sbm()["csr"]
    assert c["risk_weights"][0] == 0.005 and c["risk_weights"][10] == 0.12  # Table 4
    assert c["risk_weights"][15:] == [0.12, 0.015, 0.05]
    assert (c["name_correlation"], c["tenor_correlation"], c["basis_correlation"]) == (
        0.35, 0.65, 0.999,
    )  # fmt: skip
    # MAR21.54 worked example: Apple 5y bond vs Google 10y CDS = 35 % x 65 % x 99.9 % = 22.73 %
    assert round(c["name_correlation"] * c["tenor_correlation"] * c["basis_correlation"], 4) == (
        0.2273
    )
    s = np.asarray(c["sector_correlation"])
    assert np.array_equal(s, s.T)
    assert s[0, 1] == 0.75 and s[2, 7] == 0.20 and s[8].sum() == 1.0  # Table 5, bucket 16 row
    assert s[9, 10] == 0.75 and s[0, 9] == 0.45


def test_equity_mar21_77_to_80() -> None:
    e = params.sbm()["equity"]
    assert e["spot_risk_weights"] == [0.55, 0.60, 0.45, 0.55, 0.30, 0.35, 0.40, 0.50, 0.70,
                                      0.50, 0.70, 0.15, 0.25]  # fmt: skip
    assert e["repo_risk_weights"] == pytest.approx([w / 100 for w in e["spot_risk_weights"]])
    assert e["name_correlation"][:4] == [0.15] * 4 and e["name_correlation"][8:10] == [0.075, 0.125]
    assert (e["cross_bucket_large"], e["cross_bucket_indices"], e["cross_bucket_otherwise"]) == (
        0.15, 0.75, 0.45,
    )  # fmt: skip


def test_commodity_fx_vega_mar21_82_to_92() -> None:
    p = params.sbm()
    c = p["commodity"]
    assert c["risk_weights"] == [0.30, 0.35, 0.60, 0.80, 0.40, 0.45, 0.20, 0.35, 0.25, 0.35, 0.50]
    # MAR21.83 example: Brent 1y Le Havre vs WTI 5y Oklahoma = 95 % x 99 % x 99.9 % = 93.96 %
    assert (
        round(c["commodity_correlation"][1] * c["tenor_correlation"] * c["basis_correlation"], 4)
        == 0.9396
    )
    assert (p["fx"]["risk_weight"], p["fx"]["cross_bucket"]) == (0.15, 0.60)
    # MAR21.92 Table 13: min(55 % sqrt(LH / 10), 100 %); large cap equity LH 20 -> 77.78 %
    assert p["vega"]["equity_large_cap"] == round(0.55 * math.sqrt(2), 4)
    assert params.fx_pair_is_specified("EUR", "USD") and params.fx_pair_is_specified("EUR", "AUD")
    assert not params.fx_pair_is_specified("PLN", "USD")


def test_correlation_scenarios_mar21_6() -> None:
    rho = np.array([0.0, 0.4, 0.9, 1.0])
    assert params.scenario_correlation(rho, "high") == pytest.approx([0.0, 0.5, 1.0, 1.0])
    assert params.scenario_correlation(rho, "low") == pytest.approx([0.0, 0.3, 0.8, 1.0])
    assert params.scenario_correlation(rho, "medium") == pytest.approx(rho)


def test_drc_mar22_12_and_24() -> None:
    d = params.drc()
    assert d["lgd"] == {"equity": 1.0, "non_senior": 1.0, "senior": 0.75, "covered": 0.25}
    assert d["risk_weights"] == {
        "AAA": 0.005, "AA": 0.02, "A": 0.03, "BBB": 0.06, "BB": 0.15, "B": 0.30, "CCC": 0.50,
        "unrated": 0.15, "defaulted": 1.0,
    }  # fmt: skip
