"""Hypothetical YAML scenarios: the schema's meaning on a small book, and bad files refused
naming the line and the field."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from riskstream.core.errors import LoadError
from riskstream.pricing.curves import KEY_RATE_TENORS_Y
from riskstream.stress.hypothetical import load_scenario, parse_scenario
from riskstream.stress.revalue import ScenarioMatrix, revalue

from .books import book_of, inst, linear_universe, universe

GOOD = """\
name: banks-and-curve
description: broad fall, then energy harder
shocks:
  - {asset_class: equity, kind: relative, value: -0.10}
  - {sector: Energy, kind: relative, value: -0.30}
  - {symbol: CCC, kind: absolute, value: -1.5}
  - {currency: EUR, kind: relative, value: 0.02}
  - {factor: "FUT:index:SPX", kind: relative, value: -0.05}
"""


def resolved(text: str, book):
    scenario = parse_scenario(text, "s.yaml")
    moves, points, mapping = scenario.resolve(book)
    return scenario, moves, points, mapping


def test_later_shocks_win_and_every_selector_reaches_its_factors() -> None:
    book = book_of(linear_universe())
    scenario, moves, _, mapping = resolved(GOOD, book)
    assert scenario.name == "banks-and-curve" and len(scenario.version) == 12
    move = {k: moves[book.index(k)] for k in book.keys}
    assert move["EQ:AAA"] == -0.10  # Financials: only the broad shock
    assert move["EQ:BBB"] == -0.30  # Energy: the sector shock replaced the broad one
    assert move["EQ:CCC"] == pytest.approx(-1.5 / 10.0)  # absolute price move over 10
    assert move["EQ:SAP"] == -0.30
    assert move["FX:EUR"] == 0.02
    assert move["FUT:index:SPX"] == -0.05
    rows = {m["factor"]: m for m in mapping}
    assert rows["EQ:BBB"]["source"].startswith("line 5: sector=Energy")
    # and the P&L is the linear book's by hand
    r = revalue(book, ScenarioMatrix(("s",), moves[None], np.zeros((1, book.n_factors))))
    by = dict(zip(book.symbol, r.pnl[0], strict=True))
    assert by["CCC"] == pytest.approx(1000 * -1.5)
    assert by["SAP"] == pytest.approx(40 * 100 * 1.10 * (0.7 * 1.02 - 1))


def bond_and_option_book():
    import datetime as dt

    from .books import AS_OF

    u = universe(
        [
            inst(0, "XYZ", "equity", 40.0),
            inst(
                1,
                "XYZ C",
                "option",
                3.0,
                multiplier=100.0,
                underlying_id=0,
                expiry=AS_OF + dt.timedelta(days=90),
                strike=40.0,
                right="C",
                exercise="european",
            ),
            inst(
                2,
                "T10",
                "bond",
                100.0,
                coupon=0.04,
                maturity=AS_OF + dt.timedelta(days=3650),
                coupon_frequency=2,
                sector="government",
            ),
        ],
        [0.0, 1.0, 1.0],
    )
    return book_of(u, vols={1: 0.3}, rates={1: 0.03})


def test_curve_shapes_and_vol_points() -> None:
    book = bond_and_option_book()
    text = """\
name: curves
shocks:
  - {curve: USD, kind: absolute, shape: steepener, value: 0.01}
  - {symbol: XYZ, kind: vol_points, value: 8}
"""
    _, moves, points, _ = resolved(text, book)
    t = np.asarray(KEY_RATE_TENORS_Y)
    ramp = (t - 0.25) / (30 - 0.25) - 0.5  # -1/2 at 3 months, +1/2 at 30 years
    got = [moves[book.index(f"IR:USD:{x:g}Y")] for x in t]
    np.testing.assert_allclose(got, 0.01 * ramp, rtol=1e-12)
    assert points[book.index("VOL:EQ:XYZ")] == pytest.approx(0.08)
    text = """\
name: by-tenor
shocks:
  - {curve: USD, kind: absolute, tenors: {2: 0.01, 10: 0.02}}
"""
    _, moves, _, _ = resolved(text, book)
    assert moves[book.index("IR:USD:1Y")] == 0.01  # flat before the first tenor
    assert moves[book.index("IR:USD:5Y")] == pytest.approx(0.01 + 0.01 * 3 / 8)
    assert moves[book.index("IR:USD:30Y")] == 0.02  # flat beyond the last


BAD = [
    # (file text, line, field)
    ("name: x\nshocks:\n  - {sector: Energy, kind: relativ, value: -0.1}\n", 3, "kind"),
    ("name: x\nshocks:\n  - {sector: Energy, kind: relative}\n", 3, "value"),
    (
        "name: x\nshocks:\n  - {sector: Energy, symbol: A, kind: relative, value: 1}\n",
        3,
        "selector",
    ),
    ("name: x\nshocks:\n  - {curve: USD, kind: relative, value: 0.01}\n", 3, "kind"),
    (
        "name: x\nshocks:\n  - {curve: USD, kind: absolute, shape: twisty, value: 0.01}\n",
        3,
        "shape",
    ),
    ("name: x\nshocks:\n  - {curve: USD, kind: absolute, tenors: {-2: 0.01}}\n", 3, "tenors"),
    ("name: x\nshocks:\n  - {asset_class: stocks, kind: relative, value: 0.1}\n", 3, "asset_class"),
    ("name: x\nshocks:\n  - {symbol: A, kind: relative, value: -1.5}\n", 3, "value"),
    ("name: x\nshocks:\n  - {symbol: A, kind: relative, value: abc}\n", 3, "value"),
    ("name: x\nshocks:\n  - {symbol: A, kind: relative, value: 0.1}\n  - oops\n", 4, "(shock)"),
    ("name: x\ncolour: red\nshocks:\n  - {symbol: A, kind: relative, value: 0.1}\n", 2, "colour"),
    ("shocks:\n  - {symbol: A, kind: relative, value: 0.1}\n", 1, "name"),
    ("name: x\nshocks: []\n", 2, "shocks"),
    ("name: x\nshocks:\n  - {symbol: A, kind: relative, value: 0.1\n", 4, "yaml"),
]


@pytest.mark.parametrize(("text", "line", "field"), BAD)
def test_bad_files_are_refused_naming_line_and_field(
    tmp_path: Path, text: str, line: int, field: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LoadError) as info:
        load_scenario(path)
    errors = info.value.errors
    assert any(e.location == f"{path}:{line}" and e.field == field for e in errors), [
        (e.location, e.field) for e in errors
    ]
    assert "expected" in str(info.value)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nshocks:\n  - {sector: E, kind: nope, value: 1}\n"
        "  - {curve: USD, kind: absolute, shape: zigzag, value: 0.01}\n"
    )
    with pytest.raises(LoadError) as info:
        load_scenario(path)
    assert {(e.location.rsplit(":", 1)[1], e.field) for e in info.value.errors} == {
        ("3", "kind"),
        ("4", "shape"),
    }


def test_relative_vol_on_a_factor_is_a_log_move() -> None:
    book = bond_and_option_book()
    _, moves, _, _ = resolved(
        "name: v\nshocks:\n  - {factor: 'VOL:EQ:XYZ', kind: relative, value: 0.5}\n", book
    )
    assert moves[book.index("VOL:EQ:XYZ")] == pytest.approx(math.log(1.5))
