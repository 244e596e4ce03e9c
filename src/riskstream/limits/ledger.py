"""What the limits stage knows of positions and instruments, without the risk engine.

:class:`PositionLedger` is the limits stage's view of the position keeper's positions: the
latest :class:`~riskstream.core.messages.PositionsChanged` version, plus the fills the stage
has sent since that the version does not hold yet (a fill on the fills subject after the
version's ``fills_seq``, or — a fill whose sequence number this process does not know: one
a hot-standby member computed while the other member published it, or one the bus already
held — whose order id no version has applied yet; the versions' ``applied`` ids tell).
Rows are keyed by ``(book_id, instrument_id)`` and re-keyed on
every version, so a reduction order always names its own position, whatever rows were
added or removed in between (a fill keyed by a row number would land on whichever book
holds that row now). The ledger is the one place in ``limits`` that holds positions: the
controller reads and records through it.

:class:`LimitsReference` holds the static per-instrument reference the stage needs
(multiplier, currency, ADV, asset class, quoted spread), taken from the universe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from riskstream.core.instruments import Universe
from riskstream.core.messages import PositionsChanged

LABELS = ("desk", "strategy", "trader", "asset_class")
UNASSIGNED = "(unassigned)"


@dataclass(frozen=True)
class LimitsReference:
    """Static per-instrument arrays of shape (n_instruments,) from the reference data.

    ``fx0`` is each instrument's currency's rate to base at the reference date (the live
    rate comes with each snapshot's valuation); ``asset_class`` the class names.
    """

    multiplier: np.ndarray
    currency: np.ndarray
    fx0: np.ndarray
    adv: np.ndarray
    spread_bps: np.ndarray
    ref_price: np.ndarray
    asset_class: np.ndarray

    @classmethod
    def from_instruments(
        cls, instruments: pl.DataFrame, fx_to_base: Mapping[str, float]
    ) -> LimitsReference:
        currency = np.asarray(instruments["currency"].to_list(), dtype=str)
        return cls(
            multiplier=instruments["multiplier"].to_numpy().astype(np.float64),
            currency=currency,
            fx0=np.array([fx_to_base[c] for c in currency], dtype=np.float64),
            adv=instruments["adv"].to_numpy().astype(np.float64),
            spread_bps=instruments["spread_bps"].to_numpy().astype(np.float64),
            ref_price=instruments["ref_price"].to_numpy().astype(np.float64),
            asset_class=np.asarray(instruments["asset_class"].to_list(), dtype=str),
        )

    @classmethod
    def from_universe(cls, universe: Universe) -> LimitsReference:
        return cls.from_instruments(universe.instruments, universe.fx_to_base)

    def __len__(self) -> int:
        return len(self.multiplier)


class PositionLedger:
    """Positions by ``(book_id, instrument_id)``: a keeper version plus fills sent since.

    Parameters
    ----------
    asset_class : ndarray of str, shape (n_instruments,)
        Each instrument's asset class (a position's ``asset_class`` label).

    Attributes
    ----------
    version : int
        The keeper's version held (-1 before any).
    book_id, instrument_id : ndarray of int64, shape (n_rows,)
    quantity : ndarray of float64
        The version's quantity plus the pending fills of each row.
    labels : dict of str to ndarray
        ``desk``, ``strategy``, ``trader`` (from the version's books) and ``asset_class``.
    """

    def __init__(self, asset_class: np.ndarray):
        self.asset_class = np.asarray(asset_class, dtype=str)
        self.version = -1
        self.fills_seq = 0
        self.applied_orders: set[str] = set()  # order ids the keeper's versions applied
        self._pending: list[tuple[int | None, int, int, float, str | None]] = []
        self._set(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), books={})

    def _set(
        self,
        book_id: np.ndarray,
        instrument_id: np.ndarray,
        quantity: np.ndarray,
        labels: Mapping[str, np.ndarray] | None = None,
        books: Mapping[int, tuple[str, str, str]] | None = None,
    ) -> None:
        """Rows and their labels: per row (``labels``), or by book (``books``)."""
        self.book_id = np.asarray(book_id, dtype=np.int64).copy()
        self.instrument_id = np.asarray(instrument_id, dtype=np.int64).copy()
        self.base = np.asarray(quantity, dtype=np.float64).copy()
        self._row = {
            (int(b), int(i)): k
            for k, (b, i) in enumerate(zip(self.book_id, self.instrument_id, strict=True))
        }
        if labels is None:
            rows = [(books or {}).get(int(b), (UNASSIGNED,) * 3) for b in self.book_id]
            labels = {
                name: np.array([r[k] for r in rows], dtype=str) for k, name in enumerate(LABELS[:3])
            }
        self.labels = {name: np.asarray(labels[name]).astype(object) for name in LABELS[:3]}
        asset = labels.get("asset_class")
        self.labels["asset_class"] = (
            self.asset_class[self.instrument_id] if asset is None else np.asarray(asset)
        ).astype(object)
        self._recount()

    def _recount(self) -> None:
        self.quantity = self.base.copy()
        for _, b, i, q, _ in self._pending:
            row = self._row.get((b, i))
            if row is not None:
                self.quantity[row] += q

    def set_rows(
        self,
        version: int,
        book_id: np.ndarray,
        instrument_id: np.ndarray,
        quantity: np.ndarray,
        labels: Mapping[str, np.ndarray],
    ) -> None:
        """Take positions given row by row with their labels per row (``desk``,
        ``strategy``, ``trader``, optionally ``asset_class``); forgets pending fills (the
        rows hold everything)."""
        self._pending = []
        self.version = version
        self._set(book_id, instrument_id, quantity, labels=labels)

    @classmethod
    def from_universe(cls, universe: Universe) -> PositionLedger:
        """The universe's positions as version 0 (what the engine values before the
        keeper's first version)."""
        ledger = cls(np.asarray(universe.instruments["asset_class"].to_list(), dtype=str))
        p, books = universe.positions, universe.books
        lookup = {r[0]: r[1:] for r in books.select("book_id", *LABELS[:3]).iter_rows()}
        ledger.version = 0
        ledger._set(
            p["book_id"].to_numpy(),
            p["instrument_id"].to_numpy(),
            p["quantity"].to_numpy(),
            books=lookup,
        )
        return ledger

    def adopt(self, message: PositionsChanged, applied: Iterable[str] = ()) -> bool:
        """Take a newer keeper version (an older or equal one is ignored); the fills it
        has consumed stop being pending. ``applied``: the change ids (``fill:<order id>``)
        of the versions skipped since the last one adopted (conflated), besides this one's.
        True when taken."""
        for change in (*applied, *message.applied):
            if change.startswith("fill:"):
                self.applied_orders.add(change[5:])
        if message.version <= self.version:
            return False
        books = message.books
        lookup: dict[int, tuple[str, str, str]] = {}
        if all(k in books for k in ("book_id", *LABELS[:3])):
            lookup = {
                int(b): (str(d), str(s), str(t))
                for b, d, s, t in zip(
                    books["book_id"], books["desk"], books["strategy"], books["trader"], strict=True
                )
            }
        self.version = message.version
        self.fills_seq = message.fills_seq
        self._pending = [
            p
            for p in self._pending
            if (p[0] is None or p[0] > message.fills_seq) and p[4] not in self.applied_orders
        ]
        self._set(message.book_id, message.instrument_id, message.quantity, books=lookup)
        return True

    def row(self, book_id: int, instrument_id: int) -> int:
        """The row of a position, or -1 when it is not held."""
        return self._row.get((int(book_id), int(instrument_id)), -1)

    def record(
        self,
        book_id: int,
        instrument_id: int,
        quantity: float,
        seq: int | None,
        order_id: str | None = None,
    ) -> None:
        """A fill sent: pending until a version holds it (``seq`` on the fills subject, or
        ``order_id`` among the versions' applied ids; ``seq`` None: not published by this
        process, pending until a version applies ``order_id`` or the rows are set again).
        A fill whose order id a version already applied changes nothing."""
        if order_id is not None and order_id in self.applied_orders:
            return
        self._pending.append((seq, int(book_id), int(instrument_id), float(quantity), order_id))
        row = self.row(book_id, instrument_id)
        if row >= 0:
            self.quantity[row] += quantity

    @property
    def pending(self) -> int:
        """Fills sent that no version holds yet."""
        return len(self._pending)

    def held(self, n_instruments: int) -> np.ndarray:
        """Per instrument: is any quantity held (bool, shape (n_instruments,))."""
        net = np.bincount(
            self.instrument_id, weights=np.abs(self.quantity), minlength=n_instruments
        )
        return net != 0

    def __len__(self) -> int:
        return len(self.book_id)
