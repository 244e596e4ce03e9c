"""LOBSTER message and orderbook files → market events (Nasdaq TotalView-ITCH, academic).

Format (LOBSTER, "Output structure", https://lobsterdata.com/info/DataStructure.php, and
the ``LOBSTER_SampleFiles_ReadMe.txt`` shipped with the sample files): one day of one
ticker as two CSV files without a header, named
``TICKER_YYYY-MM-DD_StartTime_EndTime_message_LEVEL.csv`` and ``..._orderbook_LEVEL.csv``.

**Message file**, one row per event, six columns:

1. time — seconds after midnight (exchange local time, New York), decimals to the ns;
2. event type — 1 new limit order, 2 cancellation (partial deletion: ``size`` is the
   cancelled part), 3 deletion (total), 4 execution of a visible order, 5 execution of a
   hidden order, 6 cross trade (auction), 7 trading halt indicator;
3. order id; 4. size (shares); 5. price (dollars x 10,000);
6. direction — 1 buy limit order, -1 sell limit order; for an execution, the side of the
   *resting* order (a sell order executed is a buyer-initiated trade).

**Orderbook file**, row ``k`` the book after message ``k``: for each level ``i``,
``ask price i, ask size i, bid price i, bid size i``; an empty level holds the dummy prices
9999999999 (ask) and -9999999999 (bid) with size 0.

Mapping onto :data:`~riskstream.core.events.EVENT_DTYPE`: 1 → ``ADD``; 2 → ``CANCEL``
with the cancelled size (a partial cancel, as ITCH's "Order Cancel"); 3 → ``CANCEL`` size 0
(delete); 4 → ``TRADE`` against the order; 5 and 6 → ``TRADE`` with order id 0, a print
apart from the book (hidden liquidity and auction crosses are not in the visible book; since
2010 LOBSTER writes order id 0 for hidden executions); 7 → no event (the book does not
change; counted). Prices keep LOBSTER's 1e-4 precision exactly (x 10^5 into 1e-9 fixed
point); ``seq`` numbers the events 1, 2, ...; the last event of each equal-timestamp run is
flagged ``LAST_IN_GROUP``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE, EventKind
from riskstream.feeds.venues import decimals_to_fixed, flag_group_ends

EXCHANGE_TZ = ZoneInfo("America/New_York")  # LOBSTER times are Nasdaq local time
PRICE_TO_FIXED = 100_000  # LOBSTER price (1e-4 dollars) → 1e-9 fixed point
EMPTY_ASK, EMPTY_BID = 9_999_999_999, -9_999_999_999  # dummy prices of an empty level
_NAME = re.compile(
    r"^(?P<ticker>[^_]+)_(?P<date>\d{4}-\d{2}-\d{2})_\d+_\d+_(message|orderbook)_\d+"
)
_KIND = np.array([0, EventKind.ADD, EventKind.CANCEL, EventKind.CANCEL, EventKind.TRADE,
                  EventKind.TRADE, EventKind.TRADE, 0], dtype=np.uint8)  # fmt: skip


@dataclass
class LobsterMessages:
    """Events parsed from a message file, with what was not turned into an event.

    Attributes
    ----------
    events : ndarray of EVENT_DTYPE, shape (n,)
    rows : ndarray of int64, shape (n,)
        The message-file row (0-based) of each event (halts have no event).
    halts : int
        Type-7 rows.
    malformed : list of str
        ``FILE:row N: field 'F' has value V; expected ...`` per row that could not be read
        (left out; the rows around them still replay).
    """

    events: np.ndarray
    rows: np.ndarray
    halts: int = 0
    malformed: list[str] = field(default_factory=list)


def session_date(path: str | Path) -> dt.date:
    """The trading day in a LOBSTER file name (``TICKER_YYYY-MM-DD_...``)."""
    m = _NAME.match(Path(path).name)
    if not m:
        raise InputError(
            "file name", Path(path).name, "TICKER_YYYY-MM-DD_Start_End_message_LEVEL.csv"
        )
    return dt.date.fromisoformat(m["date"])


def read_messages(
    path: str | Path, *, date: dt.date | None = None, instrument_id: int = 0, source: int = 0
) -> LobsterMessages:
    """Parse a LOBSTER message file (see the module docstring).

    Parameters
    ----------
    path : path of the message CSV
    date : the trading day; by default from the file name
    instrument_id, source : stamped on every event
    """
    path = Path(path)
    if not path.exists():
        raise InputError("--input", str(path), "an existing LOBSTER message file")
    day = date or session_date(path)
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=EXCHANGE_TZ)
    midnight_ns = int(midnight.timestamp()) * 1_000_000_000
    cols = ["time", "type", "order_id", "size", "price", "direction"]
    frame = pl.read_csv(path, has_header=False, infer_schema=False, truncate_ragged_lines=True)
    if frame.width < 6:
        raise InputError("columns", frame.width, "6 columns: " + ", ".join(cols), str(path))
    frame = frame.select(frame.columns[:6]).rename(dict(zip(frame.columns[:6], cols, strict=True)))
    t_ns, t_ok = decimals_to_fixed(frame["time"])  # seconds with 9 decimals = ns
    ints = {c: frame[c].str.strip_chars().cast(pl.Int64, strict=False) for c in cols[1:]}
    typ = ints["type"].fill_null(-1).to_numpy()
    price = ints["price"].fill_null(0).to_numpy()
    size = ints["size"].fill_null(-1).to_numpy()
    oid = ints["order_id"].fill_null(-1).to_numpy()
    direction = ints["direction"].fill_null(0).to_numpy()
    bad = {
        "time": (~t_ok | (t_ns < 0), "seconds after midnight, a decimal >= 0"),
        "type": (~np.isin(typ, [1, 2, 3, 4, 5, 6, 7]), "an event type 1-7"),
        # a halt (7) row carries only its time and its price field (-1 halt, 0 quotes
        # resume, 1 trading resumes): the other fields are not read
        "order_id": ((oid < 0) & (typ != 7), "an integer order id >= 0"),
        "size": ((size < 0) & (typ != 7), "an integer size >= 0"),
        "direction": (~np.isin(direction, [1, -1]) & (typ != 7), "1 (buy) or -1 (sell)"),
    }
    wrong = np.zeros(frame.height, dtype=bool)
    malformed = []
    for name, (mask, expected) in bad.items():
        for i in np.flatnonzero(mask & ~wrong)[:100]:
            value = frame[name][int(i)]
            malformed.append(
                f"{path}:row {i + 1}: field '{name}' has value {value!r}; expected {expected}"
            )
        wrong |= mask
    halts = int(((typ == 7) & ~wrong).sum())
    keep = np.flatnonzero(~wrong & (typ != 7))
    k = typ[keep]
    events = np.zeros(len(keep), dtype=EVENT_DTYPE)
    events["ts_event"] = midnight_ns + t_ns[keep]
    events["ts_recv"] = events["ts_event"]
    events["seq"] = np.arange(1, len(keep) + 1, dtype=np.uint64)
    events["instrument_id"] = instrument_id
    events["source"] = source
    events["kind"] = _KIND[k]
    events["side"] = direction[keep]
    # a price that is not positive stays so: md quarantines it (PRICE_NOT_POSITIVE)
    events["price"] = price[keep] * PRICE_TO_FIXED
    events["size"] = np.where(k == 3, 0.0, size[keep])  # type 3 deletes the whole order
    events["order_id"] = np.where((k == 5) | (k == 6), 0, oid[keep]).astype(np.uint64)
    flag_group_ends(events)
    return LobsterMessages(events, keep.astype(np.int64), halts, malformed)


def read_orderbook(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A LOBSTER orderbook file as ``(px, sz)`` of shape (rows, 2, levels): side 0 bids,
    1 asks, best first, prices in 1e-9 fixed point; empty levels have size NaN, price 0."""
    raw = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    if raw.shape[1] % 4:
        raise InputError("columns", raw.shape[1], "4 per level (ask px, ask sz, bid px, bid sz)")
    levels = raw.shape[1] // 4
    r = raw.reshape(len(raw), levels, 4)
    px = np.stack([r[:, :, 2], r[:, :, 0]], axis=1)
    sz = np.stack([r[:, :, 3], r[:, :, 1]], axis=1).astype(np.float64)
    empty = (px == EMPTY_ASK) | (px == EMPTY_BID) | (sz == 0)
    return np.where(empty, 0, px * PRICE_TO_FIXED), np.where(empty, np.nan, sz)
