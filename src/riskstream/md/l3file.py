"""L3 message files (CSV or Parquet) → event batches, and the book after every message.

The file format of ``riskstream book replay``: one row per message with columns
``ts_event, seq, instrument_id, kind, side, price, size, order_id``; ``kind`` one of
``add, modify, cancel, trade, clear``; ``side`` ``B`` (bid) or ``S`` (ask; may be empty for
``clear``); ``price`` a decimal (may be empty for ``cancel``, ``clear``, and ``trade``,
which then executes at the resting order's price); ``size`` (may be empty for ``cancel`` and
``clear``); ``order_id`` (may be empty for ``clear``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError, LoadError
from riskstream.core.events import EVENT_DTYPE, PRICE_SCALE, EventKind, to_fixed
from riskstream.md.config import MAX_LEVELS, MdConfig
from riskstream.md.engine import MarketDataEngine
from riskstream.md.reasons import REASON_TEXT, Reason

COLUMNS = ("ts_event", "seq", "instrument_id", "kind", "side", "price", "size", "order_id")
KINDS = {
    "add": EventKind.ADD,
    "modify": EventKind.MODIFY,
    "cancel": EventKind.CANCEL,
    "trade": EventKind.TRADE,
    "clear": EventKind.CLEAR,
}
_OPTIONAL = {  # kinds for which an empty value is allowed, per field
    "side": {"clear"},
    "price": {"cancel", "clear", "trade"},
    "size": {"cancel", "clear"},
    "order_id": {"clear"},
}
_REASON_FIELD = {
    Reason.DUPLICATE: "seq",
    Reason.OUT_OF_ORDER: "seq",
    Reason.SEQ_ZERO: "seq",
    Reason.UNKNOWN_ORDER: "order_id",
    Reason.DUPLICATE_ORDER: "order_id",
    Reason.SIDE_MISMATCH: "side",
    Reason.TRADE_EXCEEDS_ORDER: "size",
    Reason.SIZE_NOT_POSITIVE: "size",
    Reason.SIZE_NOT_FINITE: "size",
    Reason.CROSSED: "price",
    Reason.LEVELS_FULL: "price",
    Reason.PRICE_NOT_POSITIVE: "price",
}


def _read(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError("--input", str(path), "an existing CSV or Parquet file")
    if suffix == ".csv":
        frame = pl.read_csv(path, infer_schema=False)
    elif suffix == ".parquet":
        frame = pl.read_parquet(path)
    else:
        raise InputError("--input", str(path), "a file ending .csv or .parquet")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError("columns", frame.columns, f"columns {', '.join(COLUMNS)}", str(path))
    return frame.select([pl.col(c).cast(pl.String).str.strip_chars() for c in COLUMNS])


def read_l3(path: str | Path, malformed: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse an L3 message file into events with dense instrument ids.

    With a ``malformed`` list, rows that cannot be read are left out and described there
    (``FILE:row N: field 'F' has value V; expected ...``) instead of raising.

    Returns
    -------
    events : ndarray of EVENT_DTYPE
        One per row, ``source`` 0, ``ts_recv = ts_event``, ``instrument_id`` dense.
    instrument_ids : ndarray of int64
        The file's instrument id of each dense id.

    Raises
    ------
    LoadError
        Listing every bad value as ``FILE:row N: field 'F' has value V; expected ...``
        (rows count data rows from 1).
    """
    path = Path(path)
    frame = _read(path)
    errors: list[InputError] = []
    kind_txt = frame["kind"].str.to_lowercase()
    rows = np.arange(1, frame.height + 1)

    wrong = np.zeros(frame.height, dtype=bool)

    def bad(field: str, mask: np.ndarray, expected: str) -> None:
        wrong[mask] = True
        values = frame[field].to_numpy()
        for i in np.flatnonzero(mask)[:100]:
            errors.append(InputError(field, values[i], expected, f"{path}:row {rows[i]}"))

    kinds_ok = kind_txt.is_in(list(KINDS)).fill_null(False).to_numpy()
    bad("kind", ~kinds_ok, "one of " + ", ".join(KINDS))
    kind_np = kind_txt.fill_null("").to_numpy()

    def parse(field: str, dtype: pl.DataType, expected: str, lo: float | None) -> np.ndarray:
        raw = frame[field]
        val = raw.cast(dtype, strict=False)
        empty = raw.is_null() | (raw == "")
        optional = np.isin(kind_np, list(_OPTIONAL.get(field, ())))
        wrong = (val.is_null() & ~empty).to_numpy() | (empty.to_numpy() & ~optional)
        if lo is not None:
            wrong |= (val < lo).fill_null(False).to_numpy()
        if dtype == pl.Float64:
            wrong |= ~np.isfinite(val.fill_null(0.0).to_numpy())
        bad(field, wrong & kinds_ok, expected)
        return val.fill_null(0).to_numpy()

    ts = parse("ts_event", pl.Int64, "an integer of nanoseconds since the epoch >= 0", 0)
    seq = parse("seq", pl.UInt64, "an integer sequence number >= 1", 1)
    inst = parse("instrument_id", pl.Int64, "an integer instrument id >= 0", 0)
    price = parse("price", pl.Float64, "a decimal price", None)
    size = parse("size", pl.Float64, "a finite size >= 0", 0)
    oid = parse("order_id", pl.UInt64, "an integer order id >= 0", 0)
    side_txt = frame["side"].fill_null("").str.to_uppercase().to_numpy()
    side_ok = np.isin(side_txt, ["B", "S"]) | ((side_txt == "") & (kind_np == "clear"))
    bad("side", ~side_ok & kinds_ok, "B (bid) or S (ask)")
    keep = ~wrong
    if errors:
        if malformed is None:
            raise LoadError(str(path), errors)
        malformed.extend(str(e) for e in errors)
        ts, seq, inst, price, size, oid = (a[keep] for a in (ts, seq, inst, price, size, oid))
        side_txt, kind_np = side_txt[keep], kind_np[keep]
    instrument_ids, dense = np.unique(inst, return_inverse=True)
    events = np.zeros(int(keep.sum()), dtype=EVENT_DTYPE)
    events["ts_event"] = ts
    events["ts_recv"] = ts
    events["seq"] = seq
    events["instrument_id"] = dense
    events["kind"] = [int(KINDS[k]) for k in kind_np]
    events["side"] = np.where(side_txt == "B", 1, np.where(side_txt == "S", -1, 0))
    events["price"] = to_fixed(price)
    events["size"] = size
    events["order_id"] = oid
    return events, instrument_ids


def replay_books(
    events: np.ndarray,
    instrument_ids: np.ndarray,
    depth: int,
    crossing: str = "trust",
    where: str = "",
    chunk: int = 1 << 18,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Rebuild the books from ``events`` (dense instrument ids) and record the top ``depth``
    levels of the message's book after every message.

    A replay never fails because of some bad rows: what md quarantines is counted by reason
    and left out of the book (the first few listed in the report); everything else —
    crossing orders, traffic for unknown orders, gaps (the book goes stale until the next
    snapshot) — is applied and counted.

    Returns
    -------
    frame : DataFrame
        ``ts_event, seq, instrument_id`` and ``bid_px_i, bid_sz_i, ask_px_i, ask_sz_i`` for
        ``i`` in ``0 .. depth-1`` (null where the level is empty), one row per event.
    report : dict
        ``events``, ``applied``, ``quarantined``, ``quarantine_by_reason``, ``examples``,
        the book counts (:meth:`MarketDataEngine.book_counts`) and the sequencer's.
    """
    if depth < 1:
        raise InputError("--depth", depth, "an integer >= 1")
    config = MdConfig(
        sources_per_instrument=max(1, len(np.unique(events["source"]))),
        max_levels=_levels_needed(events, depth),
        order_capacity=max(16, len(events)),
        ts_floor_ns=0,
        max_ahead_ns=2**62,
        crossing=crossing,
    )
    engine = MarketDataEngine(max(1, len(instrument_ids)), config)
    parts, examples = [], []
    for start in range(0, len(events), chunk):
        batch = events[start : start + chunk]
        result = engine.process(batch, 0, record_depth=depth)
        for i in np.flatnonzero(result.reason)[: max(0, 20 - len(examples))]:
            reason = Reason(int(result.reason[i]))
            field = _REASON_FIELD.get(reason, "kind")
            value = batch[i][field].item() if field in ("seq", "order_id", "size") else None
            if field == "price":
                value = float(batch[i]["price"] / PRICE_SCALE)
            if field == "kind":
                value = int(batch[i]["kind"])
            examples.append(
                str(InputError(field, value, REASON_TEXT[reason], f"{where}event {start + i + 1}"))
            )
        parts.append(_depth_frame(batch, instrument_ids, result.depth_px, result.depth_sz))
    if not parts:
        empty = np.zeros((0, 2, depth))
        parts = [_depth_frame(events, instrument_ids, empty.astype(np.int64), empty)]
    report = {
        "events": len(events),
        "applied": len(events) - engine.quarantined,
        "quarantined": engine.quarantined,
        "quarantine_by_reason": engine.quarantine_by_reason(),
        "examples": examples,
        "books": engine.book_counts(),
        "sequence": engine.sequence_counts(),
        "stale_books": int(engine.market_state.stale.sum()),
        "crossing": crossing,
    }
    return pl.concat(parts), report


def _levels_needed(events: np.ndarray, depth: int) -> int:
    """Price levels per side that the replay can need: the distinct prices an order was
    ever placed at, per instrument and side (an upper bound), at least 64 and ``depth``."""
    placed = np.isin(events["kind"], [int(EventKind.ADD), int(EventKind.MODIFY), 7])
    if not placed.any():
        return max(64, depth)
    e = events[placed]
    keys = np.unique(np.stack([e["instrument_id"], e["side"], e["price"]]).T, axis=0)
    _, per = np.unique(keys[:, :2], axis=0, return_counts=True)
    return int(min(max(64, depth, per.max()), MAX_LEVELS))


def book_replay(
    path: str | Path, depth: int, crossing: str = "trust"
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """:func:`replay_books` of an L3 message file (this module's layout); rows that cannot
    be read are left out and listed in the report (``malformed``)."""
    malformed: list[str] = []
    events, instrument_ids = read_l3(path, malformed)
    frame, report = replay_books(events, instrument_ids, depth, crossing, f"{path}:")
    return frame, {"malformed": len(malformed), "malformed_rows": malformed[:20], **report}


def _depth_frame(
    events: np.ndarray, instrument_ids: np.ndarray, px: np.ndarray, sz: np.ndarray
) -> pl.DataFrame:
    columns: dict[str, pl.Series] = {
        "ts_event": pl.Series(events["ts_event"]),
        "seq": pl.Series(events["seq"]),
        "instrument_id": pl.Series(instrument_ids[events["instrument_id"]]),
    }
    for i in range(px.shape[2]):
        for s, name in ((0, "bid"), (1, "ask")):
            empty = np.isnan(sz[:, s, i])
            decimal = np.where(empty, np.nan, px[:, s, i] / PRICE_SCALE)
            columns[f"{name}_px_{i}"] = pl.Series(decimal).fill_nan(None)
            columns[f"{name}_sz_{i}"] = pl.Series(sz[:, s, i]).fill_nan(None)
    order = ["ts_event", "seq", "instrument_id"]
    for i in range(px.shape[2]):
        order += [f"bid_px_{i}", f"bid_sz_{i}", f"ask_px_{i}", f"ask_sz_{i}"]
    return pl.DataFrame(columns).select(order)


def write_frame(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as Parquet or CSV by the extension of ``path``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.write_parquet(path)
    elif suffix == ".csv":
        frame.write_csv(path)
    else:
        raise InputError("--out", str(path), "a file ending .csv or .parquet")
