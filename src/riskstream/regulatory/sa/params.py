"""The Basel parameters of the standardised approach, read once from the package's data files.

``regulatory/data/mar21_sbm.toml`` (risk weights and correlations of the sensitivities-based
method, MAR21.39-21.101) and ``regulatory/data/mar22_drc.toml`` (default risk charge, MAR22)
hold the numbers as the Basel text prints them, each with its paragraph; this module only
reads them and derives what the text defines by formula (the correlation scenarios of MAR21.6,
the FX specified pairs of MAR21.88).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

SCENARIOS: tuple[str, ...] = ("low", "medium", "high")
"""The three correlation scenarios of MAR21.6."""


@cache
def _load(name: str) -> dict[str, Any]:
    with resources.files("riskstream.regulatory").joinpath("data", name).open("rb") as f:
        return tomllib.load(f)


def sbm() -> dict[str, Any]:
    """The MAR21 parameters (``mar21_sbm.toml``), one table per risk class."""
    return _load("mar21_sbm.toml")


def drc() -> dict[str, Any]:
    """The MAR22 parameters (``mar22_drc.toml``)."""
    return _load("mar22_drc.toml")


def scenario_correlation(rho: np.ndarray | float, scenario: str) -> np.ndarray:
    """A correlation (array) under one of the MAR21.6 scenarios.

    * medium: as prescribed;
    * high: ``min(1.25 rho, 100 %)``;
    * low: ``max(2 rho - 100 %, 75 % rho)``.

    A correlation of 1 (a risk factor with itself) stays 1 in every scenario.
    """
    rho = np.asarray(rho, dtype=np.float64)
    p = sbm()["scenarios"]
    if scenario == "medium":
        return rho
    if scenario == "high":
        return np.minimum(p["high_multiplier"] * rho, 1.0)
    if scenario == "low":
        return np.maximum(2.0 * rho - p["low_shift"], p["low_floor_multiplier"] * rho)
    raise ValueError(f"unknown correlation scenario {scenario!r}")


def fx_pair_is_specified(currency: str, reporting: str) -> bool:
    """Whether ``currency``/``reporting`` is a specified pair of MAR21.88 or a first-order
    cross of two of them (both currencies in the USD/X list, USD included)."""
    listed = set(sbm()["fx"]["specified_pair_currencies"])
    return currency in listed and reporting in listed
