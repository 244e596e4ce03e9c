"""Run scenarios on a book: resolve, revalue in full, aggregate, and keep the lineage.

:func:`run_scenarios` resolves every scenario onto the book's factors (with its mapping),
revalues the book in full (:func:`riskstream.stress.revalue.revalue`) and reports each
scenario's P&L — base currency, **negative for a loss** — by position, desk, asset class
and risk factor, its top losing positions, whether carry and theta are included, and its
lineage: the scenario's version, the positions version and the market data's as-of date
and source (BCBS 239, principle 3: every figure traceable to its inputs).

**Many scenarios, here or on a cluster.** The scenarios are cut into fixed chunks of
``chunk`` rows; each chunk is revalued as one task of a ``map`` callable of the
:class:`riskstream.cluster.TaskMap` shape (``riskstream stress run --cluster`` passes a
Dask one; by default the chunks run here one after another). The book and the scenario
matrix travel once as the shared input, the results come back in chunk order, so the
figures do not depend on where the chunks ran.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskstream.core.errors import InputError
from riskstream.stress.book import StressBook
from riskstream.stress.revalue import PARTS, Revaluation, ScenarioMatrix, revalue

DEFAULT_CHUNK = 50  # scenarios per task


def local_map(fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any = None) -> list:
    """Tasks one after another in this process (the default ``map``)."""
    return [fn(shared, item) for item in items]


def _revalue_chunk(shared: tuple[StressBook, ScenarioMatrix, int], rows: tuple[int, int]):
    """One task: the revaluation of scenario rows ``[start, stop)`` (module-level so a
    Dask worker can unpickle it)."""
    book, matrix, horizon = shared
    r = revalue(book, matrix.take(np.arange(*rows)), horizon)
    return r.pnl, r.parts, r.part_factor


def revalue_chunked(
    book: StressBook,
    matrix: ScenarioMatrix,
    horizon_days: int = 0,
    chunk: int = DEFAULT_CHUNK,
    map_fn: Callable[..., list] | None = None,
) -> Revaluation:
    """:func:`revalue` of ``matrix`` in fixed chunks of ``chunk`` scenarios run by
    ``map_fn`` (default here), reassembled in order."""
    if chunk < 1:
        raise InputError("chunk", chunk, "a positive number of scenarios per task")
    n = matrix.n_scenarios
    pieces = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    results = (map_fn or local_map)(_revalue_chunk, pieces, (book, matrix, horizon_days))
    pnl = np.vstack([r[0] for r in results])
    parts = np.concatenate([r[1] for r in results], axis=1)
    return Revaluation(pnl, parts, results[0][2], int(horizon_days))


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's outcome on the book (base currency; negative = loss)."""

    name: str
    kind: str
    version: str
    description: str
    pnl: float
    by_asset_class: dict[str, float]
    by_desk: dict[str, float]
    by_factor: dict[str, float]
    top_positions: list[dict[str, Any]]
    mapping: list[dict[str, Any]]
    position_pnl: np.ndarray = field(repr=False)

    def as_dict(self, mapping: bool = True) -> dict[str, Any]:
        out = {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "description": self.description,
            "pnl": self.pnl,
            "by_asset_class": self.by_asset_class,
            "by_desk": self.by_desk,
            "by_factor": self.by_factor,
            "top_positions": self.top_positions,
        }
        if mapping:
            out["mapping"] = self.mapping
        return out


@dataclass(frozen=True)
class StressRun:
    """Results of a set of scenarios on one book, with their lineage."""

    results: tuple[ScenarioResult, ...]
    horizon_days: int
    lineage: dict[str, Any]
    excluded: list[dict[str, Any]]

    @property
    def carry_theta_included(self) -> bool:
        return self.horizon_days > 0

    def as_dict(self, mapping: bool = True) -> dict[str, Any]:
        return {
            "scenarios": [r.as_dict(mapping) for r in self.results],
            "horizon_days": self.horizon_days,
            "carry_theta_included": self.carry_theta_included,
            "pnl_convention": "base currency, negative for a loss",
            "lineage": self.lineage,
            "excluded": self.excluded,
        }


def _group(labels: np.ndarray, values: np.ndarray) -> dict[str, float]:
    names, codes = np.unique(labels.astype(str), return_inverse=True)
    sums = np.bincount(codes, weights=values, minlength=names.size)
    return {str(k): float(v) for k, v in zip(names, sums, strict=True)}


def summarise(
    book: StressBook,
    reval: Revaluation,
    row: int,
    top_n: int = 10,
    top_factors: int = 20,
) -> dict[str, Any]:
    """P&L of scenario ``row``: total, by asset class, desk and factor, top positions."""
    pnl = reval.pnl[row]
    by_factor = np.zeros(book.n_factors + 1)
    for k in range(len(PARTS)):
        cols = np.where(reval.part_factor[k] >= 0, reval.part_factor[k], book.n_factors)
        by_factor += np.bincount(cols, weights=reval.parts[k, row], minlength=book.n_factors + 1)
    order = np.argsort(-np.abs(by_factor[:-1]), kind="stable")[:top_factors]
    factors = {book.keys[f]: float(by_factor[f]) for f in order if by_factor[f] != 0.0}
    rest = float(by_factor[:-1].sum() - sum(factors.values()) + by_factor[-1])
    if abs(rest) > 0:
        factors["(other factors)"] = rest
    worst = np.argsort(pnl, kind="stable")[:top_n]
    return {
        "pnl": float(pnl.sum()),
        "by_asset_class": _group(book.asset_class, pnl),
        "by_desk": _group(book.desk, pnl),
        "by_factor": factors,
        "top_positions": [
            {
                "symbol": str(book.symbol[p]),
                "book_id": int(book.book_id[p]),
                "desk": str(book.desk[p]),
                "asset_class": str(book.asset_class[p]),
                "quantity": float(book.quantity[p]),
                "pnl": float(pnl[p]),
            }
            for p in worst
            if pnl[p] < 0
        ],
    }


def resolve_all(
    book: StressBook, scenarios: Sequence[Any], context: Any = None
) -> tuple[ScenarioMatrix, list[list[dict[str, Any]]]]:
    """Every scenario's factor moves over ``book`` as one matrix, and their mappings."""
    moves, points, mappings = [], [], []
    for s in scenarios:
        m, p, mapping = s.resolve(book, context)
        moves.append(m)
        points.append(p)
        mappings.append(mapping)
    names = tuple(s.name for s in scenarios)
    if not scenarios:
        raise InputError("scenarios", [], "at least one scenario")
    return ScenarioMatrix(names, np.vstack(moves), np.vstack(points)), mappings


def run_scenarios(
    book: StressBook,
    scenarios: Sequence[Any],
    context: Any = None,
    horizon_days: int = 0,
    top_n: int = 10,
    chunk: int = DEFAULT_CHUNK,
    map_fn: Callable[..., list] | None = None,
) -> StressRun:
    """Resolve, revalue and summarise ``scenarios`` on ``book`` (see the module doc)."""
    matrix, mappings = resolve_all(book, scenarios, context)
    reval = revalue_chunked(book, matrix, horizon_days, chunk, map_fn)
    results = []
    for k, s in enumerate(scenarios):
        summary = summarise(book, reval, k, top_n)
        results.append(
            ScenarioResult(
                s.name,
                s.kind,
                s.version,
                s.description,
                summary["pnl"],
                summary["by_asset_class"],
                summary["by_desk"],
                summary["by_factor"],
                summary["top_positions"],
                mappings[k],
                reval.pnl[k],
            )
        )
    lineage = {
        **book.lineage,
        "market_as_of": book.as_of.isoformat(),
        "base_currency": book.base_currency,
        "scenario_versions": {s.name: s.version for s in scenarios},
        "positions": book.n_positions,
    }
    return StressRun(tuple(results), int(horizon_days), lineage, list(book.excluded))


class ResultStore:
    """Stress results kept as JSON files in a folder, one per run, with their lineage.

    File names sort by time (``<UTC timestamp>-<first scenario>.json``); :meth:`latest`
    reads the newest. Each file holds the run's ``as_dict()`` plus ``stored_at``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def save(self, run: StressRun, now: dt.datetime) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        first = run.results[0].name if run.results else "empty"
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in first)[:40]
        stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
        path = self.root / f"{stamp}-{safe}.json"
        payload = {**run.as_dict(), "stored_at": now.isoformat()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, default=_json_default))
        tmp.replace(path)
        return path

    def runs(self) -> list[Path]:
        return sorted(self.root.glob("*.json")) if self.root.exists() else []

    def latest(self) -> dict[str, Any] | None:
        files = self.runs()
        return json.loads(files[-1].read_text()) if files else None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
