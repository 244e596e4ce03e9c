"""DRC (MAR22) on hand-checked obligor examples, and the MAR33.4 cascade by hand."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from riskstream.core.errors import InputError
from riskstream.regulatory.cascade import liquidity_adjusted_es
from riskstream.regulatory.sa.drc import credit_quality, drc_capital, net_obligor


def exposures(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema=["obligor", "bucket", "rating", "seniority", "notional", "market_value",
                "maturity_years"],
        orient="row",
    )  # fmt: skip


def test_single_long_bond() -> None:
    # JTD = LGD x N + (MV - N) = 0.75 x 100 + (90 - 100) = 65 (MAR22.11-22.12);
    # BBB: 6 % (MAR22.24) -> 3.9; HBR = 1 with no shorts.
    r = drc_capital(exposures([("X", "corporate", "BBB", "senior", 100.0, 90.0, 2.0)]))
    assert r.total == pytest.approx(3.9)
    assert r.buckets[0]["hbr"] == 1.0


def test_short_equity_offsets_long_bond_but_not_the_reverse() -> None:
    # MAR22.19(1): long senior bond JTD 75, short equity JTD -30 (junior may offset senior)
    # -> net long 45 at A (3 %) = 1.35.
    ok = drc_capital(exposures([
        ("X", "corporate", "A", "senior", 100.0, 100.0, 5.0),
        ("X", "corporate", "A", "equity", -30.0, -30.0, 1.0),
    ]))  # fmt: skip
    assert ok.obligors[0]["net_long"] == pytest.approx(45.0)
    assert ok.total == pytest.approx(1.35)
    # Long equity 30 vs short senior bond -75: no offset. HBR = 30 / (30 + 75);
    # DRC = 0.03 x 30 - HBR x 0.03 x 75 = 0.9 - 0.642857 = 0.257143 (MAR22.23, 22.25).
    rev = drc_capital(exposures([
        ("X", "corporate", "A", "equity", 30.0, 30.0, 1.0),
        ("X", "corporate", "A", "senior", -100.0, -100.0, 5.0),
    ]))  # fmt: skip
    assert rev.obligors[0] == {
        "obligor": "X", "bucket": "corporate", "net_long": 30.0, "net_short": -75.0,
    }  # fmt: skip
    assert rev.buckets[0]["hbr"] == pytest.approx(30 / 105)
    assert rev.total == pytest.approx(0.9 - 30 / 105 * 2.25)


def test_maturity_scaling_and_floor() -> None:
    # 6-month long: JTD 75 x 0.5 (MAR22.15); 1-month short: floor 3 months (MAR22.18),
    # -75 x 0.25 = -18.75 offsets -> net long 18.75, B (30 %) -> 5.625.
    r = drc_capital(exposures([
        ("Y", "corporate", "B+", "senior", 100.0, 100.0, 0.5),
        ("Y", "corporate", "B-", "senior", -100.0, -100.0, 1 / 12),
    ]))  # fmt: skip
    assert r.total == pytest.approx(0.30 * 18.75)


def test_no_hedging_across_buckets_and_floor_at_zero() -> None:
    # A short sovereign does not reduce the corporate bucket (MAR22.26); a bucket of shorts
    # only is floored at 0 (MAR22.25).
    r = drc_capital(exposures([
        ("C", "corporate", "BB", "senior", 100.0, 100.0, 3.0),
        ("S", "sovereign", "AA", "senior", -500.0, -500.0, 3.0),
    ]))  # fmt: skip
    by = {b["bucket"]: b["drc"] for b in r.buckets}
    assert by == {"corporate": pytest.approx(0.15 * 75), "sovereign": 0.0}


def test_netting_prefers_the_least_flexible_short() -> None:
    # Longs: senior 50 (rank 1), equity 50 (rank 3); shorts: senior -50, equity -50.
    # The senior short can only offset the senior long; the equity short takes the equity long.
    lo, sh = net_obligor(np.array([50.0, 50.0, -50.0, -50.0]), np.array([1, 3, 1, 3]))
    assert lo.sum() == 0.0 and sh.sum() == 0.0


def test_credit_quality_bands() -> None:
    assert [credit_quality(r) for r in ("AA-", "BBB+", "CCC+", None, "NR", "D")] == [
        "AA", "BBB", "CCC", "unrated", "unrated", "defaulted",
    ]  # fmt: skip
    with pytest.raises(InputError, match="rating"):
        credit_quality("ZZ")


def test_cascade_by_hand() -> None:
    # MAR33.4 with ES_T(P,j) = 100, 80, 60, 40, 20, T = 10:
    # 100^2 + 80^2 x 10/10 + 60^2 x 20/10 + 40^2 x 20/10 + 20^2 x 60/10
    # = 10000 + 6400 + 7200 + 3200 + 2400 = 29200.
    assert liquidity_adjusted_es([100, 80, 60, 40, 20]) == pytest.approx(math.sqrt(29200))
    # Only the 10-day set: the cascade is the base ES.
    assert liquidity_adjusted_es([42, 0, 0, 0, 0]) == 42
    with pytest.raises(InputError, match="es"):
        liquidity_adjusted_es([1, 2, 3])
    with pytest.raises(InputError, match="es"):
        liquidity_adjusted_es([1, 2, 3, -4, 5])
