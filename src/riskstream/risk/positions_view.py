"""The engine's read-only view of the positions, as the position keeper last published them.

The keeper owns the positions (:mod:`riskstream.core.messages`, ``PositionsChanged``); the
engine receives each version through its inbox (``RiskEngine.send``) and keeps the rows it
values here: per position its instrument, quantity and book, the net quantity per
instrument (``qty``, what the scenario P&L multiplies), the aggregation labels as integer
codes (aggregation is a ``bincount``), the positions' digest for the snapshot's lineage and
the keeper's version. Unknown instruments are excluded and listed, never valued.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.core.instruments import ASSET_CLASSES
from riskstream.risk.snapshot import Exclusion

AGGREGATE_BY: tuple[str, ...] = ("asset_class", "desk", "strategy", "trader")


def digest(*arrays: np.ndarray) -> str:
    """A short hash of arrays' bytes (lineage of the inputs a snapshot read)."""
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class PositionsView:
    """Positions of the books, aggregated per instrument for the risk figures.

    Parameters
    ----------
    asset_class : ndarray of shape (n,) int
        Each instrument's asset-class code (the ``asset_class`` aggregation label).

    Attributes
    ----------
    pos_inst, pos_qty, pos_book : ndarray of shape (n_positions,)
        The valued positions (known instruments only).
    qty : ndarray of shape (n,)
        Net quantity per instrument over all books.
    labels : dict
        Per aggregation key, each position's label.
    label_codes : dict
        Per aggregation key, (distinct labels, each position's code).
    unknown : tuple of Exclusion
        Positions on unknown instruments.
    digest : str
    version : int
        The keeper's version in force (0: the universe's own positions).
    """

    def __init__(self, asset_class: np.ndarray) -> None:
        self._asset_class = asset_class
        self.n = int(asset_class.size)
        self.version = 0
        empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0)
        self.pos_inst, self.pos_qty, self.pos_book = empty_i, empty_f, empty_i
        self.qty = np.zeros(self.n)
        self.labels: dict[str, np.ndarray] = {}
        self.label_codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.unknown: tuple[Exclusion, ...] = ()
        self.digest = digest(empty_i, empty_f, empty_i)

    def replace(self, positions: pl.DataFrame, books: pl.DataFrame) -> None:
        """Replace every position (and the books' labels).

        Raises
        ------
        InputError
            A quantity is NaN or infinite.
        """
        pos_inst = positions["instrument_id"].to_numpy().astype(np.int64)
        qty = positions["quantity"].to_numpy().astype(np.float64)
        book = positions["book_id"].to_numpy().astype(np.int64)
        bad = np.flatnonzero(~np.isfinite(qty))
        if bad.size:
            raise InputError(
                "quantity", float(qty[bad[0]]), f"a finite quantity (position row {bad[0]})"
            )
        known = (pos_inst >= 0) & (pos_inst < self.n)
        self.unknown = tuple(
            Exclusion(int(b), int(i), "unknown instrument")
            for b, i in zip(book[~known], pos_inst[~known], strict=True)
        )
        self.pos_inst, self.pos_qty, self.pos_book = pos_inst[known], qty[known], book[known]
        self.qty = np.bincount(self.pos_inst, weights=self.pos_qty, minlength=self.n)
        self.digest = digest(self.pos_inst, self.pos_qty, self.pos_book)
        bk = books.select("book_id", "desk", "strategy", "trader")
        lookup = {r[0]: r[1:] for r in bk.iter_rows()}
        rows = [lookup.get(int(b), ("(unassigned)",) * 3) for b in self.pos_book]
        self.labels = {
            "asset_class": np.array([ASSET_CLASSES[c] for c in self._asset_class[self.pos_inst]]),
            "desk": np.array([r[0] for r in rows], dtype=str),
            "strategy": np.array([r[1] for r in rows], dtype=str),
            "trader": np.array([r[2] for r in rows], dtype=str),
        }
        self._encode_labels()

    def add(self, book_id: int, instrument_id: int, quantity: float) -> None:
        """Add ``quantity`` of an instrument to a book (a new position if needed); the new
        position takes the book's labels from its other positions, else ``(unassigned)``.

        Raises
        ------
        InputError
            The instrument id is out of range or the quantity not finite.
        """
        if not (0 <= instrument_id < self.n):
            raise InputError("instrument_id", instrument_id, f"an id in 0..{self.n - 1}")
        if not np.isfinite(quantity):
            raise InputError("quantity", quantity, "a finite quantity")
        hit = np.flatnonzero((self.pos_inst == instrument_id) & (self.pos_book == book_id))
        if hit.size:
            self.pos_qty[hit[0]] += quantity
        else:
            self.pos_inst = np.append(self.pos_inst, instrument_id)
            self.pos_qty = np.append(self.pos_qty, quantity)
            self.pos_book = np.append(self.pos_book, book_id)
            for key, labels in self.labels.items():
                same = np.flatnonzero(self.pos_book[:-1] == book_id)
                if key == "asset_class":
                    new = ASSET_CLASSES[self._asset_class[instrument_id]]
                else:
                    new = labels[same[0]] if same.size else "(unassigned)"
                self.labels[key] = np.append(labels, new)
            self._encode_labels()
        self.qty[instrument_id] += quantity
        self.digest = digest(self.pos_inst, self.pos_qty, self.pos_book)

    def _encode_labels(self) -> None:
        """Integer codes of each position's aggregation labels (aggregation is a bincount)."""
        self.label_codes = {}
        for by, labels in self.labels.items():
            names, codes = np.unique(labels, return_inverse=True)
            self.label_codes[by] = (names, codes)
