"""Scenario sets: factor moves per horizon, drawn once by a scenario generator.

A scenario generator (``riskstream.models``: historical simulation, filtered historical
simulation, Monte Carlo) is fitted on a daily factor history of shape
(n_days, n_factors) and draws ``h``-day factor moves of shape (n_scenarios, n_factors)
(sums of ``h`` daily moves along simulated paths, so multi-day risk is not a
:math:`\\sqrt{h}` rescaling). :class:`ScenarioSet` stores them per horizon in the units the
engine applies (see :mod:`riskstream.risk.factors`): price factors as arithmetic returns
``expm1(r)``, rate factors as absolute changes, vol factors as log changes; float32, so
10,000 scenarios of 5,000 factors take 200 MB per horizon (twice: a column-major copy for
sweeps over factors and a row-major one for gathering tail scenarios).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import InitVar, dataclass
from typing import Protocol

import numpy as np

from riskstream.core.errors import InputError
from riskstream.risk.factors import PRICE


class ScenarioGenerator(Protocol):
    """What the engine needs of a fitted ``riskstream.models`` scenario generator."""

    def generate(self, n_scenarios: int, horizon_days: int, seed: int) -> np.ndarray: ...


@dataclass(frozen=True)
class ScenarioSet:
    """Factor moves per horizon.

    Attributes
    ----------
    shocks : dict of int to ndarray of float32, shape (n_scenarios, n_factors)
        Moves per horizon in days, in engine units; stored column-major (Fortran order) so
        one factor's moves across scenarios are contiguous: the engine sweeps factor
        columns (only those with exposure) and gathers a few tail rows.
    fingerprint : str
        Hash of the moves (recorded in snapshots for lineage).
    row_major : dict of int to ndarray, optional (init only)
        The same moves in row-major (C) order when the caller already has them; by
        default they are copied from ``shocks``.
    model_warnings : tuple of str
        The scenario model's fit warnings (``warnings_`` of the generator: convergence,
        data scale), carried into each snapshot's lineage; empty for a clean fit.
    """

    shocks: dict[int, np.ndarray]
    fingerprint: str
    row_major: InitVar[dict[int, np.ndarray] | None] = None
    model_warnings: tuple[str, ...] = ()

    def rows(self, horizon_days: int, rows: np.ndarray) -> np.ndarray:
        """Moves of a few scenarios, shape (len(rows), n_factors), from the row-major copy."""
        return self._row_major[horizon_days][rows]

    def __post_init__(self, row_major: dict[int, np.ndarray] | None) -> None:
        # A row-major copy for gathering a few tail scenarios fast (a row gather from the
        # column-major array touches one cache line per factor per row); ``row_major``
        # passes one already made (equal to ``shocks``, C order).
        copies = row_major or {h: np.ascontiguousarray(a) for h, a in self.shocks.items()}
        for h, a in self.shocks.items():
            c = copies.get(h)
            if c is None or c.shape != a.shape or not c.flags.c_contiguous:
                raise InputError(f"row_major[{h}]", "missing or mis-shaped", f"C-order {a.shape}")
        for a in copies.values():
            a.setflags(write=False)
        object.__setattr__(self, "_row_major", copies)

    @property
    def horizons(self) -> tuple[int, ...]:
        return tuple(sorted(self.shocks))

    @property
    def n_scenarios(self) -> int:
        return next(iter(self.shocks.values())).shape[0]

    @classmethod
    def from_log_moves(
        cls,
        moves: dict[int, np.ndarray],
        kind: np.ndarray,
        model_warnings: Sequence[str] = (),
    ) -> ScenarioSet:
        """Build from additive moves (log returns, rate changes, vol log changes);
        ``model_warnings`` are the fit warnings of the model that drew them.

        Raises
        ------
        InputError
            A move is NaN or infinite, or shapes disagree with ``kind``.
        """
        out: dict[int, np.ndarray] = {}
        digest = hashlib.blake2b(digest_size=8)
        price = np.asarray(kind) == PRICE
        for h in sorted(moves):
            m = np.array(moves[h], dtype=np.float64)  # a copy: the caller's moves stay
            if m.ndim != 2 or m.shape[1] != price.size:
                raise InputError(
                    "scenarios", f"shape {m.shape}", f"(n_scenarios, {price.size} factors)"
                )
            bad = np.argwhere(~np.isfinite(m))
            if bad.size:
                s, f = bad[0]
                raise InputError(
                    "scenarios", float(m[s, f]), f"finite moves (scenario {s}, factor {f})"
                )
            m[:, price] = np.expm1(m[:, price])
            arr = np.asfortranarray(m, dtype=np.float32)  # factor-major: columns contiguous
            arr.setflags(write=False)
            out[int(h)] = arr
            digest.update(np.int64(h).tobytes())
            digest.update(arr.tobytes())
        return cls(out, digest.hexdigest(), model_warnings=tuple(model_warnings))

    @classmethod
    def from_generator(
        cls,
        generator: ScenarioGenerator,
        kind: np.ndarray,
        horizons_days: Sequence[int],
        n_scenarios: int,
        seed: int,
    ) -> ScenarioSet:
        """Draw every horizon from a fitted generator (seed ``seed + h`` per horizon); the
        generator's ``warnings_`` (a non-converged GARCH, say) become ``model_warnings``."""
        moves = {
            int(h): generator.generate(n_scenarios, int(h), seed + int(h)) for h in horizons_days
        }
        return cls.from_log_moves(moves, kind, getattr(generator, "warnings_", ()))


def factor_daily_vol(history: np.ndarray) -> np.ndarray:
    """Daily standard deviation of each factor's move in a history (n_days, n_factors)."""
    h = np.asarray(history, dtype=np.float64)
    if not np.all(np.isfinite(h)):
        raise InputError("history", "NaN or inf", "finite daily factor moves")
    return h.std(axis=0, ddof=1)
