"""What the venue parsers share: exact decimal → fixed-point conversion and group flags.

Venues send prices and sizes as decimal text (Bitstamp's ``price_str``, LOBSTER's seconds
after midnight): converting the text, not a float, keeps the venue's precision exactly in
the events' 1e-9 fixed point (``riskstream.core.events.PRICE_SCALE``), vectorised over a
whole batch (polars string kernels, no Python object per value).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from riskstream.core.events import EventFlag

_DIGITS = 9  # fixed point 1e-9: nine decimals


def decimals_to_fixed(values: Sequence[str | None] | pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Decimal strings (``"-12.5"``, ``"0.00012345"``, ``"7"``) as int64 counts of 1e-9.

    Returns
    -------
    fixed : ndarray of int64, shape (n,)
        0 where the text is not a decimal.
    ok : ndarray of bool, shape (n,)
        False for text that is not a plain decimal (empty, ``NaN``, exponent notation, more
        than nine decimals or out of the int64 range).
    """
    s = pl.Series(values, dtype=pl.String) if not isinstance(values, pl.Series) else values
    s = s.cast(pl.String).str.strip_chars()
    frame = pl.DataFrame({"t": s}).with_columns(
        ok=pl.col("t").str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)$").fill_null(False),
        neg=pl.col("t").str.starts_with("-").fill_null(False),
        body=pl.col("t").str.strip_chars_start("+-"),
    )
    parts = frame["body"].str.split_exact(".", 1).struct.rename_fields(["i", "f"]).struct.unnest()
    whole = parts["i"].replace("", "0").cast(pl.Int64, strict=False)
    frac_txt = parts["f"].fill_null("")
    ok = frame["ok"] & (frac_txt.str.len_chars() <= _DIGITS) & (whole.fill_null(-1) >= 0)
    ok &= whole.fill_null(0) < (np.iinfo(np.int64).max // 10**_DIGITS)
    frac = frac_txt.str.pad_end(_DIGITS, "0").str.slice(0, _DIGITS).cast(pl.Int64, strict=False)
    ok = ok.fill_null(False).to_numpy()
    value = whole.fill_null(0).to_numpy() * 10**_DIGITS + frac.fill_null(0).to_numpy()
    value = np.where(frame["neg"].to_numpy(), -value, value)
    return np.where(ok, value, 0).astype(np.int64), ok


def flag_group_ends(events: np.ndarray) -> None:
    """Set ``LAST_IN_GROUP`` on the last event of each run of equal ``ts_event`` (in place):
    the venue's guarantee that the book is consistent (not crossed) holds there."""
    if len(events) == 0:
        return
    ts = events["ts_event"]
    last = np.ones(len(events), dtype=bool)
    last[:-1] = ts[1:] != ts[:-1]
    events["flags"][last] |= np.uint8(EventFlag.LAST_IN_GROUP)
