"""Loading positions from CSV and YAML files, validated row by row, all or nothing.

A file lists positions, one per row (CSV) or per list item (YAML)::

    book,symbol,quantity                     # CSV: a header, then one row per position
    EQ-AMER-01,ABCD US,1500
    EQ-AMER-01,ESU24,-3

    positions:                               # YAML: a list (or a mapping with `positions`)
      - {book: EQ-AMER-01, symbol: ABCD US, quantity: 1500}
      - {book_id: 4, instrument_id: 17, quantity: -3}

The book is named by ``book`` (its name) or ``book_id``; the instrument by ``symbol`` or
``instrument_id``; ``quantity`` is signed (long > 0, short < 0), in the instrument's units.
A ``.parquet`` file holds the same columns (its "line" in errors is the 1-based row).

Books: optional columns ``desk``, ``strategy``, ``trader`` create a book that does not exist
yet (a new user has none): a ``book`` name not in the reference data, given with all three on
its first row, becomes a new book (next free ``book_id``); its later rows may repeat them
(they must agree) or leave them empty. For a book that exists they may be given only with its
stored values: a positions file creates books, it never changes them.

Every row is checked — types (the :class:`~riskstream.core.instruments.Position` model), that
the book and instrument exist in the reference data, that no (book, instrument) repeats — and
*every* bad row is reported, each as an :class:`~riskstream.core.errors.InputError` with
``location="file:line"``, the field, the value and what was expected, gathered in one
:class:`~riskstream.core.errors.LoadError`. A file with any bad row loads nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import ValidationError

from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import InputError, LoadError
from riskstream.core.instruments import BOOK_SCHEMA, POSITION_SCHEMA, Position, Universe
from riskstream.store.refdb import RefDB

FIELDS = ("book", "book_id", "symbol", "instrument_id", "quantity", "desk", "strategy", "trader")
"""Columns (keys) a positions file may use."""


BOOK_FIELDS = ("desk", "strategy", "trader")
"""Columns that describe a book a positions file creates."""


def read_positions(path: str | Path, reference: RefDB | Universe) -> pl.DataFrame:
    """Read and validate a positions file against the reference data.

    Positions in books the file creates (``desk``, ``strategy``, ``trader``) carry the new
    books' ids; :func:`read_positions_and_books` also returns those books.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.yaml`` or ``.yml`` file.
    reference : RefDB or Universe
        Where books and instruments are looked up.

    Returns
    -------
    polars.DataFrame
        One row per position, :data:`POSITION_SCHEMA`, in file order.

    Raises
    ------
    LoadError
        Any row is bad (all bad rows are listed), or the file cannot be read or parsed.
    """
    return read_positions_and_books(path, reference)[0]


def read_positions_and_books(
    path: str | Path, reference: RefDB | Universe
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`read_positions`, and the books the file creates (:data:`BOOK_SCHEMA`, possibly
    empty)."""
    path = Path(path)
    source = str(path)
    rows = read_rows(path, FIELDS, "positions")
    if isinstance(reference, RefDB):
        instruments, books = reference.instruments(), reference.books()
    else:
        instruments, books = reference.instruments, reference.books
    symbols = unique_index(instruments["symbol"], instruments["instrument_id"])
    book_names = unique_index(books["name"], books["book_id"])
    known_instruments = set(instruments["instrument_id"].to_list())
    known_books = set(books["book_id"].to_list())
    stored_books = {r["name"]: r for r in books.iter_rows(named=True)}
    new_books: dict[str, dict[str, Any]] = {}
    next_book = max(known_books, default=-1) + 1

    errors: list[InputError] = []
    good: list[Position] = []
    first_seen: dict[tuple[int, int], int] = {}
    for line, row in rows:
        where = f"{source}:{line}"
        row_errors: list[InputError] = []
        unknown = sorted(set(row) - set(FIELDS))
        for name in unknown:
            row_errors.append(
                InputError(name, row[name], f"only the fields {', '.join(FIELDS)}", where)
            )
        undescribed = False  # a new book without all its columns: reported once, here
        if "book" in row and any(f in row for f in BOOK_FIELDS):
            name = str(row["book"]).strip()
            given = {f: str(row[f]).strip() for f in BOOK_FIELDS if f in row}
            known = stored_books.get(name) or new_books.get(name)
            if known is None:
                for f in BOOK_FIELDS:
                    if f not in row:
                        row_errors.append(
                            InputError(
                                f,
                                None,
                                f"a {f} name: book {name!r} is new, so desk, strategy and "
                                "trader are all needed to create it",
                                where,
                            )
                        )
                undescribed = any(f not in row for f in BOOK_FIELDS)
                if not row_errors:
                    new_books[name] = {"book_id": next_book, "name": name, **given}
                    book_names[name] = next_book
                    known_books.add(next_book)
                    next_book += 1
            else:
                for f, value in given.items():
                    if value != known[f]:
                        row_errors.append(
                            InputError(
                                f,
                                value,
                                f"{known[f]!r}, book {name!r}'s {f} (a positions file creates "
                                "books, it does not change them)",
                                where,
                            )
                        )
        elif any(f in row for f in BOOK_FIELDS):
            f = next(f for f in BOOK_FIELDS if f in row)
            row_errors.append(
                InputError(f, row[f], "no value unless the book is named by book", where)
            )
        book_id = (
            None
            if undescribed
            else _resolve(
                row, "book", "book_id", book_names, known_books, "a book", where, row_errors
            )
        )
        instrument_id = _resolve(
            row,
            "symbol",
            "instrument_id",
            symbols,
            known_instruments,
            "an instrument",
            where,
            row_errors,
        )
        if "quantity" not in row or row["quantity"] in (None, ""):
            row_errors.append(InputError("quantity", row.get("quantity"), "a signed number", where))
        if row_errors or book_id is None or instrument_id is None:
            errors.extend(row_errors)
            continue
        try:
            position = Position(
                book_id=book_id, instrument_id=instrument_id, quantity=row["quantity"]
            )
        except ValidationError as exc:
            for e in exc.errors():
                field = ".".join(str(p) for p in e["loc"])
                errors.append(InputError(field, e.get("input"), e["msg"].lower(), where))
            continue
        key = (position.book_id, position.instrument_id)
        if key in first_seen:
            errors.append(
                InputError(
                    "instrument",
                    row.get("symbol", row.get("instrument_id")),
                    f"each (book, instrument) once; already at line {first_seen[key]}",
                    where,
                )
            )
            continue
        first_seen[key] = line
        good.append(position)
    if errors:
        raise LoadError(source, errors)
    positions = pl.DataFrame(
        {
            "book_id": [p.book_id for p in good],
            "instrument_id": [p.instrument_id for p in good],
            "quantity": [p.quantity for p in good],
        },
        schema=POSITION_SCHEMA,
    )
    created = pl.DataFrame(
        [{k: b[k] for k in BOOK_SCHEMA} for b in new_books.values()],
        schema=BOOK_SCHEMA,
        orient="row",
    )
    return positions, created


def load_positions(
    path: str | Path,
    refdb: RefDB,
    *,
    replace: bool = False,
    actor: str = "cli",
    clock: Clock | None = None,
) -> int:
    """Validate a positions file and write it (and the books it creates) to the reference DB
    in one transaction, audited like every position change (action ``position.load``, one
    entry per position, :func:`riskstream.store.positions.load_positions_audited`) and
    raising the positions version, so a running position keeper publishes it.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.yaml`` or ``.yml`` file (see the module docstring).
    refdb : RefDB
        The migrated reference database holding the books and instruments.
    replace : bool
        The file is the whole portfolio: positions not in it are closed. Otherwise each
        (book, instrument) in the file is inserted or has its quantity set.
    actor : str
        Who loads (the audit entries' actor).
    clock : Clock, optional
        The audit entries' time (default the system clock).

    Returns
    -------
    int
        Positions written.

    Raises
    ------
    LoadError
        Any row is bad; nothing is written.
    """
    from riskstream.store.positions import load_positions_audited

    positions, books = read_positions_and_books(path, refdb)
    written, _ = load_positions_audited(
        refdb,
        positions,
        replace=replace,
        new_books=books if books.height else None,
        actor=actor,
        role="admin",
        reason=f"positions file {Path(path).name}" + (" (replace)" if replace else ""),
        ts_ns=(clock or SystemClock()).now_ns(),
    )
    return written


# ---------------------------------------------------------------------------- parsing


def read_rows(
    path: Path, fields: tuple[str, ...], list_key: str
) -> list[tuple[int, dict[str, Any]]]:
    """(line number, raw record) pairs of a CSV, YAML or Parquet file.

    Empty CSV cells and null Parquet values are left out of a record (a missing field). A
    Parquet file has no lines: its "line" is the 1-based row number. ``fields`` names the
    columns in the error for a CSV without a header; ``list_key`` is the key under which a
    YAML file may hold its list (``{positions: [...]}``).
    """
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml", ".parquet", ".pq"):
        raise LoadError(
            source, [InputError("file", source, "a .csv, .yaml, .yml or .parquet file")]
        )
    if suffix in (".parquet", ".pq"):
        return _parquet_rows(path, source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadError(source, [InputError("file", source, "an existing file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(
            source, [InputError("file", source, f"a readable UTF-8 file ({exc})")]
        ) from None
    if suffix == ".csv":
        return _csv_rows(text, source, fields)
    return _yaml_rows(text, source, list_key)


def _parquet_rows(path: Path, source: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        frame = pl.read_parquet(path)
    except FileNotFoundError:
        raise LoadError(source, [InputError("file", source, "an existing file")]) from None
    except Exception as exc:  # polars raises several types for a damaged file
        raise LoadError(
            source, [InputError("file", source, f"a readable Parquet file ({exc})")]
        ) from None
    return [
        (i + 1, {k: v for k, v in row.items() if v is not None and v != ""})
        for i, row in enumerate(frame.iter_rows(named=True))
    ]


def _csv_rows(text: str, source: str, fields: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines(keepends=True), skipinitialspace=True)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise LoadError(
            source,
            [InputError("header", "", f"a header naming {', '.join(fields)}", f"{source}:1")],
        )
    reader.fieldnames = header
    rows = []
    for record in reader:
        extra = record.pop(None, None)  # values beyond the header's columns
        row = {
            k: v.strip() if isinstance(v, str) else v
            for k, v in record.items()
            if v not in (None, "")
        }
        if extra:
            row["(extra columns)"] = extra
        rows.append((reader.line_num, row))
    return rows


def _yaml_rows(text: str, source: str, list_key: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise LoadError(
            source, [InputError("yaml", getattr(exc, "problem", str(exc)), "valid YAML", where)]
        ) from None
    if isinstance(data, dict) and set(data) == {list_key}:
        data = data[list_key]
        root = next(v for k, v in root.value if k.value == list_key)
    if data is None:
        return []
    if not isinstance(data, list):
        raise LoadError(
            source,
            [
                InputError(
                    list_key,
                    type(data).__name__,
                    f"a list of {list_key}, or a mapping {{{list_key}: [...]}}",
                    f"{source}:1",
                )
            ],
        )
    rows = []
    for node, item in zip(root.value, data, strict=True):
        line = node.start_mark.line + 1
        rows.append((line, item if isinstance(item, dict) else {f"({list_key[:-1]})": item}))
    return rows


def unique_index(names: pl.Series, ids: pl.Series) -> dict[str, int | None]:
    """name → id; a name used twice maps to ``None`` (ambiguous)."""
    index: dict[str, int | None] = {}
    for name, id_ in zip(names.to_list(), ids.to_list(), strict=True):
        index[name] = None if name in index else id_
    return index


def _resolve(
    row: dict[str, Any],
    name_field: str,
    id_field: str,
    by_name: dict[str, int | None],
    known_ids: set[int],
    what: str,
    where: str,
    errors: list[InputError],
) -> int | None:
    """The id a row names by ``name_field`` or ``id_field``, or ``None`` with an error."""
    if name_field in row and id_field in row:
        errors.append(
            InputError(
                id_field, row[id_field], f"either {name_field} or {id_field}, not both", where
            )
        )
        return None
    if name_field in row:
        name = str(row[name_field]).strip()
        if name not in by_name:
            errors.append(InputError(name_field, name, f"{what} in the reference data", where))
            return None
        if by_name[name] is None:
            errors.append(
                InputError(name_field, name, f"a name of one {what[2:]}; use {id_field}", where)
            )
            return None
        return by_name[name]
    if id_field in row:
        value = row[id_field]
        try:
            id_ = int(str(value).strip())
        except ValueError:
            errors.append(InputError(id_field, value, "an integer id", where))
            return None
        if id_ not in known_ids:
            errors.append(InputError(id_field, value, f"{what} in the reference data", where))
            return None
        return id_
    errors.append(
        InputError(name_field, None, f"{what} named by {name_field} or {id_field}", where)
    )
    return None
