"""Sensitivity ladders: the book's full-revaluation P&L along one-dimensional shock ladders.

Each rung is a scenario moving one group of factors by one amount, revalued in full (so
the ladder shows the convexity a Greek misses):

=========  ===============================================================  ===========
ladder     move                                                             rungs
=========  ===============================================================  ===========
spot       every equity, index and commodity price factor (options follow)  ±1 … ±30 %
vol        every implied vol, in vol points                                 ±1 … ±20
rates      every key rate of every curve, parallel                          ±10 … ±200 bp
twist      steepener (+) / flattener (-) of every curve, 3 m to 30 y         ±25 … ±100 bp
credit     every corporate spread factor, widening                          +10 … +500 bp
fx         every foreign currency's value in the base currency              ±1 … ±20 %
=========  ===============================================================  ===========

Results come by desk and by asset class: a table (rung × group) and a heatmap
(:func:`heatmap_figure`, plotly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskstream.core.errors import InputError
from riskstream.pricing.curves import KEY_RATE_TENORS_Y
from riskstream.stress.book import SPREAD, StressBook
from riskstream.stress.revalue import ScenarioMatrix
from riskstream.stress.run import revalue_chunked

LADDERS: dict[str, tuple[float, ...]] = {
    "spot": (-0.30, -0.20, -0.10, -0.05, -0.02, -0.01, 0.01, 0.02, 0.05, 0.10, 0.20, 0.30),
    "vol": (-20, -10, -5, -2, -1, 1, 2, 5, 10, 20),
    "rates": (-0.02, -0.01, -0.005, -0.0025, -0.001, 0.001, 0.0025, 0.005, 0.01, 0.02),
    "twist": (-0.01, -0.005, -0.0025, 0.0025, 0.005, 0.01),
    "credit": (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05),
    "fx": (-0.20, -0.10, -0.05, -0.02, -0.01, 0.01, 0.02, 0.05, 0.10, 0.20),
}
UNITS = {"spot": "return", "vol": "vol points", "rates": "rate change", "twist": "30y-3m change",
         "credit": "spread change", "fx": "return"}  # fmt: skip


def _label(ladder: str, step: float) -> str:
    if ladder in ("spot", "fx"):
        return f"{ladder} {step:+.0%}"
    if ladder == "vol":
        return f"vol {step:+g} pts"
    return f"{ladder} {step * 1e4:+.0f} bp"


def ladder_matrix(book: StressBook, ladders: dict[str, tuple[float, ...]] | None = None
                  ) -> tuple[ScenarioMatrix, list[tuple[str, float]]]:  # fmt: skip
    """The rungs of ``ladders`` (default :data:`LADDERS`) as one scenario matrix."""
    ladders = LADDERS if ladders is None else ladders
    keys = book.keys
    kind = book.kind
    is_spot = np.array([k.startswith(("EQ:", "FUT:")) for k in keys])
    is_fx = np.array([k.startswith("FX:") for k in keys])
    is_vol = kind == 2
    is_rate = kind == 1
    is_credit = (kind == SPREAD) & np.array([k != "CS:govt" for k in keys])
    tenors = np.asarray(KEY_RATE_TENORS_Y)
    ramp = (tenors - tenors[0]) / (tenors[-1] - tenors[0]) - 0.5
    tenor_of = np.array(
        [float(k.rsplit(":", 1)[1].rstrip("Y")) if k.startswith("IR:") else np.nan for k in keys]
    )
    twist_w = np.where(is_rate, np.interp(np.nan_to_num(tenor_of), tenors, ramp), 0.0)
    rows, points, rungs = [], [], []
    for name, steps in ladders.items():
        for step in steps:
            m = np.zeros(book.n_factors)
            p = np.zeros(book.n_factors)
            if name == "spot":
                m[is_spot] = step
            elif name == "fx":
                m[is_fx] = step
            elif name == "vol":
                p[is_vol] = step / 100.0
            elif name == "rates":
                m[is_rate] = step
            elif name == "twist":
                m = twist_w * step
            elif name == "credit":
                m[is_credit] = step
            else:
                raise InputError("ladder", name, f"one of {', '.join(LADDERS)}")
            rows.append(m)
            points.append(p)
            rungs.append((name, step))
    names = tuple(_label(n, s) for n, s in rungs)
    return ScenarioMatrix(names, np.vstack(rows), np.vstack(points)), rungs


@dataclass(frozen=True)
class Ladders:
    """P&L of every rung (base currency, negative = loss) by desk and asset class.

    ``table[by]`` is a list of rows ``{ladder, step, label, total, <group>: pnl ...}``."""

    rungs: list[tuple[str, float]]
    labels: tuple[str, ...]
    total: np.ndarray
    by: dict[str, dict[str, np.ndarray]]

    def table(self, by: str) -> list[dict[str, Any]]:
        groups = self.by[by]
        return [
            {
                "ladder": ladder,
                "step": step,
                "unit": UNITS[ladder],
                "label": label,
                "total": float(self.total[k]),
                **{str(g): float(v[k]) for g, v in groups.items()},
            }
            for k, ((ladder, step), label) in enumerate(zip(self.rungs, self.labels, strict=True))
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "by_desk": self.table("desk"),
            "by_asset_class": self.table("asset_class"),
        }


def sensitivity_ladders(
    book: StressBook,
    ladders: dict[str, tuple[float, ...]] | None = None,
    map_fn: Callable[..., list] | None = None,
) -> Ladders:
    """Full-revaluation ladders of ``book`` (see the module docstring)."""
    matrix, rungs = ladder_matrix(book, ladders)
    reval = revalue_chunked(book, matrix, 0, map_fn=map_fn)
    by: dict[str, dict[str, np.ndarray]] = {}
    for name, labels in (("desk", book.desk), ("asset_class", book.asset_class)):
        groups = {}
        for g in sorted(set(labels.astype(str))):
            groups[g] = reval.pnl[:, labels.astype(str) == g].sum(axis=1)
        by[name] = groups
    return Ladders(rungs, matrix.names, reval.total, by)


def heatmap_figure(ladders: Ladders, by: str = "desk") -> Any:
    """A plotly heatmap: rungs down, groups across, P&L in colour (red = loss)."""
    import plotly.graph_objects as go

    groups = list(ladders.by[by])
    z = np.array([ladders.by[by][g] for g in groups]).T
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=groups,
            y=list(ladders.labels),
            colorscale="RdYlGn",
            zmid=0.0,
            colorbar={"title": "P&L"},
            hovertemplate="%{y}<br>%{x}: %{z:,.0f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Sensitivity ladders by {by.replace('_', ' ')} (full revaluation)",
        height=max(400, 18 * len(ladders.labels)),
        yaxis={"autorange": "reversed"},
    )
    return fig
