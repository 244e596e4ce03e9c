"""The SBM aggregation against published figures and by hand.

Independent implementation: ultibi (Ultima Insights, https://github.com/ultima-ib/ultima),
``frtb_engine/tests/sbm.rs`` (``girr_delta``, ``eq_delta``) on its test data
``frtb_engine/tests/data/Delta.csv``, desk FXOptions (book FO001: trades 1 and 3 GIRR,
4-7 commodity, 8-11 equity, 12-14 CSR, 23 equity vega), reporting in USD with the sqrt(2)
reduction for specified currencies. Only the published
inputs and expected numbers were taken; the rows below are those trades' sensitivities.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.regulatory.sa import params
from riskstream.regulatory.sa.crif import COLUMNS, normalise_crif
from riskstream.regulatory.sa.sbm import SbmConfig, across_buckets, sbm_capital


def crif(rows: list[tuple]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=list(COLUMNS), orient="row")
    good, bad = normalise_crif(frame, "USD", {"EUR": 1.1})
    assert not bad, bad
    return good


ULTIBI_GIRR = [
    ("GIRR_DELTA", "AUD", "", "3m", "3M_Libor", 222.0, "USD"),
    ("GIRR_DELTA", "AUD", "", "6m", "3M_Libor", 10.0, "USD"),
    ("GIRR_XCCY", "GBP", "", "", "GBPUSD_xccy", 123.0, "USD"),
    ("GIRR_DELTA", "GBP", "", "3m", "3M_Libor", 1000.0, "USD"),
    ("GIRR_DELTA", "GBP", "", "6m", "3M_Libor", 100.0, "USD"),
    ("GIRR_INFLATION", "GBP", "", "", "GBPUSD_inf", 1111.0, "USD"),
    ("GIRR_DELTA", "GBP", "", "1y", "6M_Libor", 15.0, "USD"),
]
ULTIBI_EQ = [
    ("EQ_DELTA", "APPL", "8", "spot", "", 1000.0, "USD"),
    ("EQ_DELTA", "APPL", "8", "repo", "", 100.0, "USD"),
    ("EQ_DELTA", "GOOG", "8", "spot", "", 300.0, "USD"),
    ("EQ_DELTA", "Shell", "7", "spot", "", 200.0, "USD"),
    ("EQ_DELTA", "SP500", "11", "repo", "", 500.0, "USD"),
    ("EQ_DELTA", "DowJones", "11", "spot", "", 400.0, "USD"),
    ("EQ_DELTA", "ABC", "13", "spot", "", 300.0, "USD"),
]


def test_equity_delta_matches_ultibi_in_all_three_scenarios() -> None:
    # ultibi eq_delta: weighted sum 1089; charge low 665.011398, medium 683.999424,
    # high 702.474388 (tolerance 1e-6 as published to 6 decimals).
    r = sbm_capital(crif(ULTIBI_EQ), "USD").by_risk_class["EQ"]["delta"]
    assert sum(b["weighted"] for b in r.buckets) == pytest.approx(1089.0)
    assert r.charge["low"] == pytest.approx(665.011398, abs=1e-6)
    assert r.charge["medium"] == pytest.approx(683.999424, abs=1e-6)
    assert r.charge["high"] == pytest.approx(702.474388, abs=1e-6)


def test_girr_delta_matches_ultibi_in_all_three_scenarios(monkeypatch) -> None:
    # ultibi girr_delta: weighted sum 35.925432; charge low 26.770639, medium 28.0824,
    # high 29.335659. ultibi evaluates the MAR21.46 tenor correlation by its formula;
    # with the formula's exact values we agree to the published digits ...
    girr = params.sbm()["girr"]
    t = np.asarray(girr["tenors_y"])
    exact = np.maximum(
        np.exp(-0.03 * np.abs(t[:, None] - t[None, :]) / np.minimum(t[:, None], t[None, :])),
        0.40,
    )
    monkeypatch.setitem(girr, "tenor_correlation", exact.tolist())
    r = sbm_capital(crif(ULTIBI_GIRR), "USD").by_risk_class["GIRR"]["delta"]
    assert sum(b["weighted"] for b in r.buckets) == pytest.approx(35.925432, abs=1e-6)
    assert r.charge["low"] == pytest.approx(26.770639, abs=1e-6)
    assert r.charge["medium"] == pytest.approx(28.0824, abs=1e-4)
    assert r.charge["high"] == pytest.approx(29.335659, abs=1e-6)
    # ... and with Table 2 as printed (0.1 % rounding) within 5e-4.
    monkeypatch.undo()
    printed = sbm_capital(crif(ULTIBI_GIRR), "USD").by_risk_class["GIRR"]["delta"]
    for s, v in (("low", 26.770639), ("medium", 28.0824), ("high", 29.335659)):
        assert printed.charge[s] == pytest.approx(v, abs=5e-4)


CSR_TENORS = ["6m", "1y", "3y", "5y", "10y"]
ULTIBI_CSR = [
    ("CSR_DELTA", name, b, t, curve, 1000.0, "USD")
    for b in ("1", "2", "18")
    for name, curve in (("XXX", "bond"), ("YYYYY", "cds"), ("XXX", "cds"))
    for t in CSR_TENORS
]
ULTIBI_COMM = [
    ("COMM_DELTA", "Brent", "2", "0", "NY", 100.0, "USD"),
    ("COMM_DELTA", "Brent", "2", "0", "China", -1000.0, "USD"),
    ("COMM_DELTA", "WTI", "2", "0", "London", 150.0, "USD"),
    ("COMM_DELTA", "Steel", "5", "0", "London", 200.0, "USD"),
    ("COMM_DELTA", "XAU", "7", "0", "London", 300.0, "USD"),
]
ULTIBI_EQ_VEGA = [
    ("EQ_VEGA", name, b, t, "", 5000.0, "USD")
    for name, b, tenors in (
        ("GOOG", "1", ("6m", "1y")), ("APPL", "1", ("3y", "5y")), ("GAZ", "10", ("6m", "1y")),
        ("SHELL", "10", ("3y", "5y")), ("XXX", "11", ("6m", "1y")), ("YYY", "11", ("3y", "5y")),
    )
    for t in tenors
]  # fmt: skip


def test_csr_and_commodity_delta_match_ultibi() -> None:
    # ultibi csr_nonsec_bcbs_delta (trades 12-14, buckets 1, 2, 18, bond and CDS curves):
    # weighted 975; low 656.018202, medium 742.954861, high 820.733799.
    csr = sbm_capital(crif(ULTIBI_CSR), "USD").by_risk_class["CSR_NONSEC"]["delta"]
    assert sum(b["weighted"] for b in csr.buckets) == pytest.approx(975.0)
    for s, v in (("low", 656.018202), ("medium", 742.954861), ("high", 820.733799)):
        assert csr.charge[s] == pytest.approx(v, abs=1e-6)
    # ultibi commodity_delta (trades 4-7, delivery locations): weighted -122.5; low
    # 269.704639, medium 260.4533, high 250.861017 -- the low scenario is the largest here,
    # so the capital (MAR21.7) is the low one: ultibi's MAX 269.704639.
    res = sbm_capital(crif(ULTIBI_COMM), "USD")
    comm = res.by_risk_class["COMM"]["delta"]
    assert sum(b["weighted"] for b in comm.buckets) == pytest.approx(-122.5)
    for s, v in (("low", 269.704639), ("medium", 260.4533), ("high", 250.861017)):
        assert comm.charge[s] == pytest.approx(v, abs=1e-4 if s == "medium" else 1e-6)
    assert res.capital == pytest.approx(269.704639, abs=1e-6)


def test_equity_vega_matches_ultibi(monkeypatch) -> None:
    # ultibi eq_vega (trade 23): weighted 55556.349186, i.e. the large-cap vega risk weight
    # 55 % x sqrt(20 / 10) = 77.7817 % unrounded (MAR21.92 Table 13 prints 77.78 %); with it:
    # low 28620.521491, medium 29224.393971, high 29816.038563.
    monkeypatch.setitem(params.sbm()["vega"], "equity_large_cap", 0.55 * math.sqrt(2))
    vega = sbm_capital(crif(ULTIBI_EQ_VEGA), "USD").by_risk_class["EQ"]["vega"]
    assert sum(b["weighted"] for b in vega.buckets) == pytest.approx(55556.349186, abs=1e-6)
    for s, v in (("low", 28620.521491), ("medium", 29224.393971), ("high", 29816.038563)):
        assert vega.charge[s] == pytest.approx(v, abs=1e-6)
    # With Table 13's printed 77.78 % the figures move by the rounding (< 1e-5 relative).
    monkeypatch.undo()
    printed = sbm_capital(crif(ULTIBI_EQ_VEGA), "USD").by_risk_class["EQ"]["vega"]
    assert printed.charge["high"] == pytest.approx(29816.038563, rel=1e-5)


def test_specified_currency_reduction_is_sqrt2_on_yield_rows_only() -> None:
    rows = crif([("GIRR_DELTA", "GBP", "", "5y", "OIS", 1e6, "USD")])
    on = sbm_capital(rows, "USD").capital
    off = sbm_capital(rows, "USD", SbmConfig(specified_currency_reduction=False)).capital
    assert on == pytest.approx(0.011e6 / math.sqrt(2))
    assert off == pytest.approx(0.011e6)
    infl = crif([("GIRR_INFLATION", "GBP", "", "", "CPI", 1e6, "USD")])
    assert sbm_capital(infl, "USD").capital == pytest.approx(0.016e6)


def test_alternative_sb_only_when_the_sum_goes_negative() -> None:
    # Two buckets, K = (1, 1), S = (3, -3), gamma = 0.5: 1 + 1 - 2 x 0.5 x 9 < 0, so
    # MAR21.4(5)(b) clips S to (1, -1): 2 - 1 = 1.
    gamma = np.array([[1.0, 0.5], [0.5, 1.0]])
    charge, s = across_buckets(np.array([1.0, 1.0]), np.array([3.0, -3.0]), gamma)
    assert charge == pytest.approx(1.0) and list(s) == [1.0, -1.0]
    # A positive sum keeps S_b unclipped even where |S_b| > K_b.
    charge, s = across_buckets(np.array([1.0, 1.0]), np.array([3.0, 3.0]), gamma)
    assert list(s) == [3.0, 3.0] and charge == pytest.approx(math.sqrt(2 + 9))


def test_other_sector_bucket_is_a_sum_of_absolute_values() -> None:
    rows = crif([
        ("EQ_DELTA", "A", "11", "spot", "", 100.0, "USD"),
        ("EQ_DELTA", "B", "11", "spot", "", -100.0, "USD"),
    ])  # fmt: skip
    r = sbm_capital(rows, "USD").by_risk_class["EQ"]["delta"]
    assert r.charge["medium"] == pytest.approx(140.0)  # MAR21.79: |70| + |-70|


def test_curvature_by_hand() -> None:
    # Two names in equity bucket 5 (rho 25 %, curvature 6.25 %): CVR+ (10, -4), CVR- (2, 3).
    # K+ = sqrt(10^2 + 0 + 2 x 0.0625 x 10 x -4) = sqrt(95); K- = sqrt(4 + 9 + 2 x .0625 x 6).
    rows = crif([
        ("EQ_CURV", "A", "5", "up", "", 10.0, "USD"),
        ("EQ_CURV", "B", "5", "up", "", -4.0, "USD"),
        ("EQ_CURV", "A", "5", "down", "", 2.0, "USD"),
        ("EQ_CURV", "B", "5", "down", "", 3.0, "USD"),
    ])  # fmt: skip
    r = sbm_capital(rows, "USD").by_risk_class["EQ"]["curvature"]
    assert r.charge["medium"] == pytest.approx(math.sqrt(95.0))
    assert r.buckets[0]["medium"]["selected"] == "up"
    # high: rho = 1.25 x 0.0625 -> K+ = sqrt(100 - 80 x 0.078125)
    assert r.charge["high"] == pytest.approx(math.sqrt(100 - 80 * 0.078125))


def test_crif_quarantines_bad_rows_with_reasons() -> None:
    frame = pl.DataFrame(
        [
            ("GIRR_DELTA", "USD", "", "7y", "OIS", 1.0, "USD"),
            ("EQ_DELTA", "X", "14", "spot", "", 1.0, "USD"),
            ("FX_DELTA", "USD", "", "", "", 1.0, "USD"),
            ("CSR_DELTA", "X", "3", "5y", "loan", 1.0, "USD"),
            ("EQ_DELTA", "X", "1", "spot", "", 1.0, "CHF"),
            ("NOPE", "X", "1", "spot", "", 1.0, "USD"),
            ("EQ_DELTA", "X", "1", "spot", "", 2.0, "EUR"),
        ],
        schema=list(COLUMNS),
        orient="row",
    )
    good, bad = normalise_crif(frame, "USD", {"EUR": 1.1}, source="f.csv")
    assert [b["field"] for b in bad] == [
        "label1", "bucket", "qualifier", "label2", "amount_currency", "risk_type",
    ]  # fmt: skip
    assert bad[0]["location"] == "f.csv:2"
    assert good["amount"].to_list() == [pytest.approx(2.2)]


_SIZE = st.floats(0.0, 1e9, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(_SIZE, min_size=1, max_size=8),
    buckets=st.lists(st.integers(1, 13), min_size=8, max_size=8),
    signs=st.lists(st.sampled_from([-1.0, 1.0]), min_size=8, max_size=8),
)
def test_capital_is_non_negative(
    sizes: list[float], buckets: list[int], signs: list[float]
) -> None:
    rows = [
        ("EQ_DELTA", f"N{i}", str(buckets[i]), "spot", "", signs[i] * a, "USD")
        for i, a in enumerate(sizes)
    ]
    rows += [("GIRR_DELTA", "EUR", "", "5y" if i % 2 else "1y", f"C{i % 3}", signs[i] * a, "EUR")
             for i, a in enumerate(sizes)]  # fmt: skip
    result = sbm_capital(crif(rows), "USD")
    assert result.capital >= 0.0
    assert all(v >= 0.0 for v in result.scenario_totals.values())


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(_SIZE, min_size=1, max_size=8),
    buckets=st.lists(st.integers(1, 13), min_size=8, max_size=8),
    sign=st.sampled_from([-1.0, 1.0]),
    scale=st.floats(1.0, 5.0),
    pick=st.integers(0, 7),
)
def test_capital_is_monotone_in_the_size_of_one_sensitivity(
    sizes: list[float], buckets: list[int], sign: float, scale: float, pick: int
) -> None:
    """Growing one sensitivity's absolute size never lowers the capital -- of a book whose
    sensitivities share one sign (every MAR21 correlation is >= 0, so each term of K_b^2 and
    of the cross-bucket sum grows with it).

    With offsetting positions the property does not hold, by design of the formula: a hedge
    lowers the capital until it over-hedges (one name at 14 and another at -1 in bucket 1:
    doubling the -1 lowers K_b, since d K_b^2 / d WS_l = 2 (WS_l + rho WS_k) < 0 while
    |WS_l| < rho |WS_k|).
    """
    rows = [
        ("EQ_DELTA", f"N{i}", str(buckets[i]), "spot", "", sign * a, "USD")
        for i, a in enumerate(sizes)
    ]
    base = sbm_capital(crif(rows), "USD").capital
    k = pick % len(rows)
    bigger = list(rows)
    bigger[k] = (*rows[k][:5], rows[k][5] * scale, "USD")
    assert sbm_capital(crif(bigger), "USD").capital >= base * (1 - 1e-12)


def test_a_hedge_is_not_monotone() -> None:
    # The counterexample of the docstring above, so the limit of the property is on record.
    rows = [
        ("EQ_DELTA", "A", "1", "spot", "", 14.0, "USD"),
        ("EQ_DELTA", "B", "1", "spot", "", -1.0, "USD"),
    ]
    hedged = [rows[0], (*rows[1][:5], -2.0, "USD")]
    assert sbm_capital(crif(hedged), "USD").capital < sbm_capital(crif(rows), "USD").capital
