"""Loading a user's instruments from CSV, YAML or Parquet, validated row by row, all or nothing.

One instrument per row (CSV, Parquet) or list item (YAML, a list or ``{instruments: [...]}``)::

    symbol,asset_class,currency,multiplier,underlying,strike,expiry,right,exercise
    AAPL,equity,USD,1,,,,,
    AAPL 250117C200,option,USD,100,AAPL,200,2025-01-17,call,american

Columns
-------
Every class: ``symbol`` (unique), ``asset_class`` (equity, future, option, fx, bond),
``currency`` (ISO 4217; FX: the quote currency, may be left out when ``quote`` is given) and
``multiplier`` (P&L per unit of quantity per 1.0 of price: 1 for a share, the point value of a
future or option contract, 10 for a bond quoted per 100 with 1,000 face per unit). An equity
needs nothing else.

==========  ==================================================================================
option      ``underlying`` (symbol of an instrument in this file or already stored),
            ``strike`` (> 0), ``expiry`` (date), ``right`` (call/put, or C/P),
            ``exercise`` (european/american)
future      ``expiry``; ``underlying`` optional: the symbol of an instrument (the future then
            moves with that instrument's risk factor), or the name of a price series in the
            history store that is not an instrument (an index such as ``SPX``, a commodity):
            it is kept, as given, in ``sector`` — the convention of the reference universe,
            whose futures carry their index or commodity there (``index:SPX``) and whose
            risk engine keys a future's factor by it (``FUT:<sector>``, all expiries on one
            factor; see :func:`riskstream.risk.factors.build_factor_space`), its history
            being the series the sector names (or its part after ``index:``). Without
            ``underlying`` the future is its own factor (its own stored closes).
fx          ``base`` and ``quote`` (ISO codes: price = quote units per base unit, stored as
            ``base_currency`` and ``currency``; ``currency``, when given, must equal
            ``quote``); ``expiry`` optional (an outright forward's value date)
bond        ``coupon`` (annual, a fraction of face: 0.0425 for 4.25 %), ``maturity`` (date),
            ``frequency`` (coupons a year: 1, 2, 4 or 12)
==========  ==================================================================================

Optional for every class: ``sector``, ``country`` (ISO 3166 alpha-2), ``exchange``,
``rating``, ``tick_size``, ``lot_size``, ``adv`` (average daily volume, units),
``spread_bps`` (typical bid-ask spread, basis points of mid), ``ref_price``; an equity also
``dividend_yield`` (continuous annual, 0 <= q < 1); a bond also ``issuer``. The instrument
table has no issuer column: as in the reference universe (``sector = "corporate:<...>"``), a
bond's issuer is kept in its sector, ``corporate:<issuer>``, so give ``issuer`` or ``sector``,
not both. A field that does not apply to the row's class is an error, not ignored.

Defaults (each use is counted in :attr:`InstrumentLoad.defaults_applied`)
-------------------------------------------------------------------------
``country``
    The first two letters of the currency code: ISO 4217 builds each code from the issuing
    country's ISO 3166 alpha-2 code (USD → US, JPY → JP; EUR → EU, the code ISO 3166
    reserves for the European Union).
``exchange``
    ``OTC`` for FX and bonds (dealer markets, as in the reference universe), else ``XXXX``,
    the ISO 10383 MIC for "no market specified".
``tick_size``, ``lot_size``
    The common listed increments: 0.01 and 1 (equities, futures, options), 0.0001 and 1,000
    (FX: one pip, 1,000 of the base currency), 0.001 and 1 (bonds, per 100 of face).
``adv``, ``spread_bps``
    Typical values by class (:data:`LIQUIDITY_DEFAULTS`). They drive the liquidity parts of
    L-VaR (exogenous spread cost and the endogenous market-impact cost); these defaults are
    **placeholders** so a book loads: supply the instruments' real ADV and spreads for a
    meaningful L-VaR.
``ref_price``
    The latest close of the symbol in the history store (so history is loaded first); for a
    future without closes of its own, its underlying's latest close (the basis is ignored);
    with neither, the row is an error (an option's model value cannot be known here either).
``sector``
    A bond with ``issuer``: ``corporate:<issuer>``; a future with a series ``underlying``:
    that name.

FX rates to the base currency come from the latest stored FX closes
(:func:`riskstream.core.fx.rates_to_base`, cross rates included); a currency already stored
keeps its stored rate when the history has none (not under ``replace``); a currency with
neither is an error naming the pair to load.

Every row is checked and every bad one reported, each an
:class:`~riskstream.core.errors.InputError` located ``file:line`` (Parquet: the 1-based row),
gathered in one :class:`~riskstream.core.errors.LoadError`; a file with any bad row loads
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from riskstream.core.errors import InputError, LoadError
from riskstream.core.instruments import (
    ASSET_CLASSES,
    BOOK_SCHEMA,
    INSTRUMENT_SCHEMA,
    POSITION_SCHEMA,
    Instrument,
    Universe,
)
from riskstream.store.instrument_fields import (
    COLUMNS,
    EXPECTED_WHEN_MISSING,
    check_class,
    currency_rates,
    instrument_record,
    parse_row,
)
from riskstream.store.loaders import read_rows, unique_index
from riskstream.store.refdb import RefDB

SOURCE_KEY = "source"
"""``universe_meta`` key saying where the stored universe came from."""
USER_SOURCE = "user"
"""Its value for a universe loaded from a user's instruments file."""


@dataclass(frozen=True)
class InstrumentLoad:
    """The result of validating an instruments file against what is stored.

    Attributes
    ----------
    universe : Universe
        The whole reference universe to store: instruments (dense ids), books kept,
        positions remapped to the new ids, FX rates for every currency.
    loaded : int
        Rows in the file.
    positions_dropped : int
        Stored positions in instruments the file removed (``replace`` only).
    defaults_applied : dict of str to int
        How many rows took each default (field → count).
    fx_rates : dict of str to dict
        Each currency's rate to base and its source (``history``, ``stored`` or ``base``).
    """

    universe: Universe
    loaded: int
    replaced: bool
    positions_dropped: int
    by_asset_class: dict[str, int]
    currencies: list[str]
    defaults_applied: dict[str, int] = field(default_factory=dict)
    fx_rates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts for ``riskstream instruments load --json``."""
        return {
            "instruments": self.loaded,
            "total_instruments": len(self.universe),
            "by_asset_class": self.by_asset_class,
            "currencies": self.currencies,
            "replaced": self.replaced,
            "positions_dropped": self.positions_dropped,
            "defaults_applied": self.defaults_applied,
            "fx_rates": self.fx_rates,
            "as_of": self.universe.as_of,
        }


# ---------------------------------------------------------------------------- the load


def read_instruments(
    path: str | Path,
    stored: Universe | None,
    closes: pl.DataFrame,
    *,
    base_currency: str,
    as_of: dt.date,
    replace: bool = False,
) -> InstrumentLoad:
    """Validate an instruments file and merge it with the stored universe.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.yaml``/``.yml`` or ``.parquet`` file (see the module docstring).
    stored : Universe or None
        What the reference DB holds now (None: nothing).
    closes : polars.DataFrame
        Latest stored close per series, columns ``symbol``, ``date``, ``close`` (the history
        store's :meth:`~riskstream.store.market_history.MarketHistory.last_closes`): default
        reference prices, FX rates, and the price series a future may name as underlying.
    base_currency : str
        The reporting currency (the stored universe's, when there is one).
    as_of : datetime.date
        Date of the reference prices: expiries and maturities must fall after it.
    replace : bool
        The file becomes the whole instrument table (ids ``0..n-1`` in file order); stored
        positions in instruments it lacks are dropped and counted. Otherwise a row whose
        symbol is stored updates that instrument (same id) and new symbols are appended.

    Returns
    -------
    InstrumentLoad

    Raises
    ------
    LoadError
        Any row is bad (all bad rows are listed), or the file cannot be read.
    """
    path = Path(path)
    source = str(path)
    rows = read_rows(path, COLUMNS, "instruments")
    errors: list[InputError] = []
    # Every row with a usable symbol, and whether it parsed cleanly: references to a symbol
    # resolve even when its own row is bad, so each row's errors are its own.
    parsed: list[tuple[str, dict[str, Any], bool]] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        where = f"{source}:{line}"
        row_errors: list[InputError] = []
        rec = parse_row(row, where, row_errors)
        cls = rec.get("asset_class")
        if cls is None and "asset_class" not in row:
            row_errors.append(
                InputError("asset_class", None, EXPECTED_WHEN_MISSING["asset_class"], where)
            )
        if cls is not None:
            check_class(row, rec, cls, where, row_errors)
        symbol = rec.get("symbol")
        if symbol is not None:
            if symbol in first_line:
                row_errors.append(
                    InputError(
                        "symbol",
                        symbol,
                        f"each symbol once; already at line {first_line[symbol]}",
                        where,
                    )
                )
            else:
                first_line[symbol] = line
                parsed.append((where, rec, not row_errors))
        errors.extend(row_errors)

    empty = pl.DataFrame(schema=INSTRUMENT_SCHEMA)
    old = stored.instruments if stored is not None else empty
    old_symbols = unique_index(old["symbol"], old["instrument_id"])
    file_symbols = [rec["symbol"] for _, rec, _ in parsed]
    # Ids: under replace, file order; else stored ids kept and new symbols appended.
    if replace:
        ids = {s: i for i, s in enumerate(file_symbols)}
        kept = empty
    else:
        ids = {}
        nxt = old.height
        for where, rec, _ in parsed:
            s = rec["symbol"]
            if s in old_symbols:
                if old_symbols[s] is None:
                    errors.append(
                        InputError(
                            "symbol",
                            s,
                            "a symbol stored once (it is stored twice; load with --replace)",
                            where,
                        )
                    )
                ids[s] = old_symbols[s]
            else:
                ids[s], nxt = nxt, nxt + 1
        kept = old.filter(~pl.col("symbol").is_in(file_symbols))
    # Instruments an option or future may refer to: this file's, and (upsert) those kept.
    referable = dict(ids)
    referable.update(
        {s: i for s, i in old_symbols.items() if i is not None and s not in ids}
        if not replace
        else {}
    )
    class_of = {rec["symbol"]: rec.get("asset_class") for _, rec, _ in parsed}
    class_of.update(dict(zip(kept["symbol"].to_list(), kept["asset_class"].to_list(), strict=True)))
    last_close = dict(zip(closes["symbol"].to_list(), closes["close"].to_list(), strict=True))

    defaults: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    for where, rec, ok in parsed:
        if not ok:
            continue
        row_errors = []
        inst = instrument_record(
            rec, ids, referable, class_of, last_close, as_of, replace, where, row_errors, defaults
        )
        if row_errors:
            errors.extend(row_errors)
            continue
        try:
            records.append(Instrument(**inst).model_dump(mode="python"))
        except ValidationError as exc:
            for e in exc.errors():
                name = ".".join(str(p) for p in e["loc"]) or "row"
                errors.append(InputError(name, e.get("input"), e["msg"].lower(), where))
    # Stored instruments the file leaves as they are must still be alive at the new as-of
    # date (e.g. a generated universe's options, priced at its older date).
    expired = kept.filter(
        (pl.col("expiry") <= as_of).fill_null(False)
        | (pl.col("maturity") <= as_of).fill_null(False)
    )
    if expired.height:
        shown = ", ".join(expired["symbol"].head(5).to_list())
        shown += ", ..." if expired.height > 5 else ""
        errors.append(
            InputError(
                "as_of",
                as_of.isoformat(),
                f"a date before the expiry or maturity of every stored instrument the file "
                f"keeps; {expired.height} expire by then ({shown}): "
                "list them in the file, or load it with --replace",
                source,
            )
        )
    if errors:
        raise LoadError(source, sorted(errors, key=_line_of))

    new = pl.DataFrame(records, schema=INSTRUMENT_SCHEMA, orient="row") if records else empty
    table = pl.concat([kept, new]).sort("instrument_id")
    if stored is not None:
        sym_of_old = dict(zip(old["instrument_id"].to_list(), old["symbol"].to_list(), strict=True))
        new_id = dict(zip(table["symbol"].to_list(), table["instrument_id"].to_list(), strict=True))
        mapping = pl.DataFrame(
            {
                "instrument_id": list(sym_of_old),
                "_new": [new_id.get(s) for s in sym_of_old.values()],
            },
            schema={"instrument_id": pl.Int32(), "_new": pl.Int32()},
        )
        remapped = stored.positions.join(mapping, on="instrument_id", how="left")
        dropped = int(remapped["_new"].null_count())
        positions = (
            remapped.drop_nulls("_new")
            .select("book_id", pl.col("_new").alias("instrument_id"), "quantity")
            .sort("book_id", "instrument_id")
        )
        books = stored.books
    else:
        dropped = 0
        positions = pl.DataFrame(schema=POSITION_SCHEMA)
        books = pl.DataFrame(schema=BOOK_SCHEMA)

    stored_rates = dict(stored.fx_to_base) if stored is not None and not replace else {}
    fx_rates = currency_rates(table, closes, base_currency, stored_rates, source)
    universe = Universe(
        table,
        books,
        positions,
        base_currency,
        {c: r["rate"] for c, r in fx_rates.items()},
        as_of,
    )
    by_class = Counter(r["asset_class"] for r in records)
    return InstrumentLoad(
        universe=universe,
        loaded=len(records),
        replaced=replace,
        positions_dropped=dropped,
        by_asset_class={c: int(by_class.get(c, 0)) for c in ASSET_CLASSES},
        currencies=sorted({r["currency"] for r in records}),
        defaults_applied=dict(sorted(defaults.items())),
        fx_rates=fx_rates,
    )


def _line_of(error: InputError) -> int:
    """The line number of an error located ``file:line`` (0 when it has none)."""
    tail = (error.location or "").rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


def load_instruments(
    path: str | Path,
    refdb: RefDB,
    closes: pl.DataFrame,
    *,
    base_currency: str,
    as_of: dt.date,
    replace: bool = False,
) -> InstrumentLoad:
    """Validate an instruments file and store the merged universe, in one transaction.

    The stored universe's base currency wins over ``base_currency``. The metadata marks the
    universe as loaded by a user (:data:`SOURCE_KEY` = :data:`USER_SOURCE`) and drops the
    generator's settings, so it is never mistaken for (nor regenerated as) the generated
    reference universe.

    Parameters
    ----------
    path, closes, as_of, replace
        As in :func:`read_instruments`.
    refdb : RefDB
        The migrated reference database.
    base_currency : str
        Reporting currency when nothing is stored yet.

    Raises
    ------
    LoadError
        Any row is bad; nothing is written.
    """
    stored = refdb.load_universe() if refdb.has_universe() else None
    base = stored.base_currency if stored is not None else base_currency
    result = read_instruments(
        path, stored, closes, base_currency=base, as_of=as_of, replace=replace
    )
    meta = {
        k: v
        for k, v in refdb.meta().items()
        if not k.startswith("generator") and k not in ("base_currency", "as_of")
    }
    meta[SOURCE_KEY] = USER_SOURCE
    refdb.save_universe(result.universe, meta)
    return result
