"""``riskstream price option`` and ``riskstream price bond``."""

from __future__ import annotations

import json
import sys

import pytest

from riskstream.cli import main

OPTION = [
    "price",
    "option",
    "--spot",
    "42",
    "--strike",
    "40",
    "--rate",
    "0.1",
    "--vol",
    "0.2",
    "--expiry",
    "0.5",
]


def run(monkeypatch, capsys, args: list[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["riskstream", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    return exit_info.value.code or 0, out, err


def test_price_option_json_hull_example(monkeypatch, capsys) -> None:
    # Hull Example 15.6: c = 4.76, p = 0.81.
    code, out, _ = run(monkeypatch, capsys, [*OPTION, "--right", "call", "--json"])
    assert code == 0
    payload = json.loads(out.strip().splitlines()[-1])
    assert set(payload) >= {
        "price",
        "delta",
        "gamma",
        "vega",
        "theta",
        "rho",
        "vanna",
        "volga",
        "inputs",
        "conventions",
    }
    assert payload["price"] == pytest.approx(4.76, abs=0.005)
    assert payload["model"] == "black-scholes-merton"
    assert "per 1.00 of volatility" in payload["conventions"]["vega"]
    code, out, _ = run(monkeypatch, capsys, [*OPTION, "--right", "PUT", "--json"])
    assert json.loads(out)["price"] == pytest.approx(0.81, abs=0.005)


def test_price_option_american_and_future(monkeypatch, capsys) -> None:
    _, out, _ = run(
        monkeypatch,
        capsys,
        [
            "price",
            "option",
            "--spot",
            "50",
            "--strike",
            "50",
            "--rate",
            "0.1",
            "--vol",
            "0.4",
            "--expiry",
            str(5 / 12),
            "--right",
            "put",
            "--style",
            "american",
            "--json",
        ],
    )
    payload = json.loads(out)
    assert payload["price"] == pytest.approx(4.284, abs=2e-3)  # Hull Example 21.1 limit
    assert payload["delta"] < 0 and payload["gamma"] > 0
    _, out, _ = run(
        monkeypatch,
        capsys,
        [
            "price",
            "option",
            "--spot",
            "19",
            "--strike",
            "19",
            "--rate",
            "0.1",
            "--vol",
            "0.28",
            "--expiry",
            "0.75",
            "--right",
            "put",
            "--future",
            "--json",
        ],
    )
    payload = json.loads(out)
    assert payload["price"] == pytest.approx(1.7011, abs=1e-4)  # Haug's Black-76 example
    assert payload["rho"] == pytest.approx(-0.75 * payload["price"])
    assert payload["model"] == "black-76"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vol", "-0.2"], "'--vol' has value -0.2"),
        (["--expiry", "-1"], "'--expiry' has value -1.0"),
        (["--spot", "0"], "'--spot' has value 0.0"),
        (["--strike", "-5"], "'--strike' has value -5.0"),
        (["--spot", "nan"], "'--spot' has value nan"),
        (["--right", "straddle"], "'--right' has value 'straddle'; expected one of call, put"),
        (["--style", "bermudan"], "'--style' has value 'bermudan'"),
        (["--future", "--dividend", "0.02"], "'--dividend' has value 0.02"),
    ],
)
def test_price_option_bad_input(monkeypatch, capsys, args, message) -> None:
    base = dict(zip(OPTION[2::2], OPTION[3::2], strict=True)) | {"--right": "call"}
    flags = [a for a in args if a == "--future"]
    pairs = [a for a in args if a != "--future"]
    base.update(dict(zip(pairs[::2], pairs[1::2], strict=True)))
    argv = ["price", "option", *[x for kv in base.items() for x in kv], *flags, "--json"]
    code, out, err = run(monkeypatch, capsys, argv)
    assert code == 2
    assert message in err
    assert out == ""


def test_price_bond(monkeypatch, capsys) -> None:
    # Fabozzi: 20-year 10 % semiannual bond at 11 % → 91.977.
    code, out, _ = run(
        monkeypatch,
        capsys,
        ["price", "bond", "--coupon", "0.10", "--yield", "0.11", "--maturity", "20", "--json"],
    )
    payload = json.loads(out)
    assert payload["dirty_price"] == pytest.approx(91.977, abs=5e-4)
    assert payload["dv01"] == pytest.approx(
        payload["modified_duration"] * payload["dirty_price"] * 1e-4
    )
    code, out, _ = run(
        monkeypatch,
        capsys,
        [
            "price",
            "bond",
            "--coupon",
            "0.06",
            "--price",
            "98.5",
            "--maturity-date",
            "2030-11-15",
            "--settlement",
            "2026-02-21",
            "--json",
        ],
    )
    payload = json.loads(out)
    assert payload["accrued_interest"] == pytest.approx(1.6)
    assert payload["clean_price"] == pytest.approx(98.5)
    code, _, err = run(
        monkeypatch, capsys, ["price", "bond", "--coupon", "0.06", "--maturity", "5", "--json"]
    )
    assert code == 2 and "exactly one of --yield or --price" in err
