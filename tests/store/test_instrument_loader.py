"""Instrument files (CSV, YAML, Parquet): every class validated against its own fields, every
bad row reported as file:line: field, value, expected; defaults counted; merge with what is
stored (upsert by symbol, or --replace with positions remapped or dropped)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import LoadError
from riskstream.core.instruments import BOOK_SCHEMA, INSTRUMENT_SCHEMA, POSITION_SCHEMA, Universe
from riskstream.store.instrument_fields import LIQUIDITY_DEFAULTS
from riskstream.store.instrument_loader import (
    SOURCE_KEY,
    USER_SOURCE,
    load_instruments,
    read_instruments,
)
from riskstream.store.refdb import RefDB

AS_OF = dt.date(2026, 11, 30)
CLOSES = pl.DataFrame(
    {
        "symbol": ["AAPL", "SPX", "EURUSD", "USDJPY", "T 4 02/15/34", "ESH7"],
        "date": [AS_OF] * 6,
        "close": [230.0, 6000.0, 1.08, 150.0, 98.5, 6010.0],
    }
)
HEADER = (
    "symbol,asset_class,currency,multiplier,underlying,strike,expiry,right,exercise,"
    "base,quote,coupon,maturity,frequency,ref_price,issuer,dividend_yield,sector\n"
)
# One instrument of each class (two equities, two bonds), the option's underlying in the file.
FIVE_CLASSES = [
    {"symbol": "AAPL", "asset_class": "equity", "currency": "USD", "multiplier": 1,
     "dividend_yield": 0.005},
    {"symbol": "SONY", "asset_class": "equity", "currency": "JPY", "multiplier": 1,
     "ref_price": 3200},
    {"symbol": "AAPL 270115C200", "asset_class": "option", "currency": "USD",
     "multiplier": 100, "underlying": "AAPL", "strike": 200, "expiry": "2027-01-15",
     "right": "call", "exercise": "american", "ref_price": 41.5},
    {"symbol": "ESH7", "asset_class": "future", "currency": "USD", "multiplier": 50,
     "underlying": "SPX", "expiry": "2027-03-19"},
    {"symbol": "EURUSD", "asset_class": "fx", "currency": "USD", "multiplier": 1,
     "base": "EUR", "quote": "USD"},
    {"symbol": "T 4 02/15/34", "asset_class": "bond", "currency": "USD", "multiplier": 10,
     "coupon": 0.04, "maturity": "2034-02-15", "frequency": 2},
    {"symbol": "ACME 5 06/01/30", "asset_class": "bond", "currency": "EUR", "multiplier": 10,
     "coupon": 0.05, "maturity": "2030-06-01", "frequency": 1, "ref_price": 101.5,
     "issuer": "ACME"},
]  # fmt: skip
COLUMNS = HEADER.strip().split(",")


def write_csv(path: Path, records: list[dict]) -> Path:
    lines = [HEADER.strip()]
    for r in records:
        lines.append(",".join(f'"{r[c]}"' if c in r else "" for c in COLUMNS))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_yaml(path: Path, records: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"instruments": records}, sort_keys=False))
    return path


def write_parquet(path: Path, records: list[dict]) -> Path:
    frame = pl.DataFrame(
        [{c: (str(r[c]) if c in r else None) for c in COLUMNS} for r in records],
        schema=dict.fromkeys(COLUMNS, pl.String()),
        orient="row",
    )
    # Typed columns, as a user's Parquet would have them.
    frame = frame.with_columns(
        pl.col("multiplier", "strike", "coupon", "ref_price", "dividend_yield").cast(pl.Float64),
        pl.col("frequency").cast(pl.Int8),
        pl.col("expiry", "maturity").str.to_date(),
    )
    frame.write_parquet(path)
    return path


def read(path: Path, stored: Universe | None = None, replace: bool = False):
    return read_instruments(path, stored, CLOSES, base_currency="USD", as_of=AS_OF, replace=replace)


def errors_of(excinfo: pytest.ExceptionInfo[LoadError]) -> list[str]:
    return [str(e) for e in excinfo.value.errors]


@pytest.mark.parametrize("writer", [write_csv, write_yaml, write_parquet])
def test_a_five_class_book_loads_from_each_format(tmp_path: Path, writer) -> None:
    suffix = {write_csv: "csv", write_yaml: "yaml", write_parquet: "parquet"}[writer]
    load = read(writer(tmp_path / f"book.{suffix}", FIVE_CLASSES))
    inst = load.universe.instruments
    assert dict(inst.schema) == INSTRUMENT_SCHEMA
    assert inst["symbol"].to_list() == [r["symbol"] for r in FIVE_CLASSES]
    assert inst["instrument_id"].to_list() == list(range(7))
    assert load.by_asset_class == {"equity": 2, "future": 1, "option": 1, "fx": 1, "bond": 2}
    row = {r["symbol"]: r for r in inst.iter_rows(named=True)}
    assert row["AAPL"]["ref_price"] == 230.0  # the stored close
    assert row["AAPL"]["dividend_yield"] == 0.005
    option = row["AAPL 270115C200"]
    assert option["underlying_id"] == 0 and option["right"] == "C"
    assert option["exercise"] == "american" and option["expiry"] == dt.date(2027, 1, 15)
    # A future on a price series that is not an instrument keeps it in sector.
    assert row["ESH7"]["sector"] == "SPX" and row["ESH7"]["underlying_id"] is None
    assert row["ESH7"]["ref_price"] == 6010.0
    assert row["EURUSD"]["base_currency"] == "EUR" and row["EURUSD"]["currency"] == "USD"
    assert row["T 4 02/15/34"]["coupon_frequency"] == 2
    assert row["ACME 5 06/01/30"]["sector"] == "corporate:ACME"
    # Defaults: country from the currency code, OTC for FX and bonds, XXXX (no market) else.
    assert row["SONY"]["country"] == "JP" and row["SONY"]["exchange"] == "XXXX"
    assert row["ACME 5 06/01/30"]["country"] == "EU" and row["EURUSD"]["exchange"] == "OTC"
    assert row["ESH7"]["adv"] == LIQUIDITY_DEFAULTS["future"]["adv"]
    assert load.defaults_applied["ref_price"] == 4  # AAPL, ESH7, EURUSD, T 4
    assert load.defaults_applied["spread_bps"] == 7
    # FX from the stored pairs: EUR directly, JPY by inverting USDJPY.
    assert load.universe.fx_to_base["EUR"] == pytest.approx(1.08)
    assert load.universe.fx_to_base["JPY"] == pytest.approx(1 / 150.0)
    assert load.fx_rates["JPY"]["pairs"] == ["USDJPY"]
    assert load.universe.as_of == AS_OF


def test_formats_agree(tmp_path: Path) -> None:
    frames = [
        read(w(tmp_path / f"b.{s}", FIVE_CLASSES)).universe.instruments
        for w, s in ((write_csv, "csv"), (write_yaml, "yml"), (write_parquet, "parquet"))
    ]
    assert frames[0].equals(frames[1]) and frames[0].equals(frames[2])


def test_an_equity_needs_only_four_columns(tmp_path: Path) -> None:
    f = tmp_path / "eq.csv"
    f.write_text("symbol,asset_class,currency,multiplier\nAAPL,equity,USD,1\n")
    load = read(f)
    assert load.universe.instruments["ref_price"].to_list() == [230.0]
    assert load.loaded == 1


MISSING = {
    "option": [
        ("underlying", "the symbol of an instrument in this file or already stored"),
        ("strike", "a positive number"),
        ("expiry", "a date YYYY-MM-DD"),
        ("right", "call or put (C or P)"),
        ("exercise", "european or american"),
    ],
    "future": [("expiry", "a date YYYY-MM-DD")],
    "fx": [("base", "an ISO 4217 currency code (3 letters)")],
    "bond": [
        ("coupon", "an annual rate as a fraction of face, 0 <= coupon < 1 (0.0425 for 4.25 %)"),
        ("maturity", "a date YYYY-MM-DD"),
        ("frequency", "coupons a year: 1, 2, 4 or 12"),
    ],
    "equity": [("multiplier", "a positive number"), ("currency", "an ISO 4217 currency code "
                                                     "(3 letters)")],
}  # fmt: skip


@pytest.mark.parametrize("cls", list(MISSING))
def test_each_required_field_missing_is_named(tmp_path: Path, cls: str) -> None:
    base = next(r for r in FIVE_CLASSES if r["asset_class"] == cls)
    for field, expected in MISSING[cls]:
        record = {k: v for k, v in base.items() if k != field}
        rows = [FIVE_CLASSES[0], record] if cls != "equity" else [record]
        f = write_csv(tmp_path / f"{cls}-{field}.csv", rows)
        with pytest.raises(LoadError) as excinfo:
            read(f)
        article = "an" if cls[0] in "aeiou" else "a"
        line = 3 if cls != "equity" else 2
        message = (
            f"{f}:{line}: field '{field}' has value None; expected {expected} (required for "
            f"{article} {cls})"
        )
        assert message in errors_of(excinfo)


def test_bad_values_and_cross_row_errors_are_all_reported(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(
        "symbol,asset_class,currency,multiplier,underlying,strike,expiry,right,exercise,"
        "base,quote,coupon,frequency,maturity,ref_price\n"
        "X,option,USD,100,NOPE,10,2020-01-01,C,european,,,,,,\n"  # 2
        "Y,option,USD,100,X,-1,2027-01-01,maybe,european,,,,,,5\n"  # 3 (X resolves)
        "Z,future,USD,50,VIX,,2027-01-01,,,,,,,,\n"  # 4
        "W,fx,EUR,1,,,,,,EUR,USD,,,,\n"  # 5
        "V,bond,USD,10,,,,,,,,4.5,3,2030-01-01,100\n"  # 6
        "U,equity,USD,1,,5,,,,,,,,,\n"  # 7
        "X,equity,USD,1,,,,,,,,,,,1\n"  # 8
        "Q,swap,USD,1,,,,,,,,,,,1\n"  # 9
    )
    with pytest.raises(LoadError) as excinfo:
        read(f)
    got = errors_of(excinfo)
    s = str(f)
    expected = [
        f"{s}:2: field 'underlying' has value 'NOPE'; expected the symbol of an instrument "
        "in this file or already stored",
        f"{s}:2: field 'expiry' has value '2020-01-01'; expected a date after the as-of date "
        "2026-11-30",
        f"{s}:2: field 'ref_price' has value None; expected a positive price, or a stored "
        "close for X: load its history first (riskstream history load)",
        f"{s}:3: field 'strike' has value '-1'; expected a positive number",
        f"{s}:3: field 'right' has value 'maybe'; expected call or put (C or P)",
        f"{s}:4: field 'underlying' has value 'VIX'; expected the symbol of an instrument in "
        "this file or already stored, or a price series in the history store (riskstream "
        "history load)",
        f"{s}:5: field 'currency' has value 'EUR'; expected the quote currency USD (or no "
        "currency)",
        f"{s}:6: field 'coupon' has value '4.5'; expected an annual rate as a fraction of "
        "face, 0 <= coupon < 1 (0.0425 for 4.25 %)",
        f"{s}:6: field 'frequency' has value '3'; expected coupons a year: 1, 2, 4 or 12",
        f"{s}:7: field 'strike' has value '5'; expected no value for an equity (strike "
        "applies to options)",
        f"{s}:8: field 'symbol' has value 'X'; expected each symbol once; already at line 2",
        f"{s}:9: field 'asset_class' has value 'swap'; expected one of equity, future, "
        "option, fx, bond",
    ]
    for e in expected:
        assert e in got, (e, got)
    assert len(got) == len(expected) + 1  # and ref_price of Z (no stored close)


def test_a_currency_without_an_fx_rate_names_the_pair(tmp_path: Path) -> None:
    f = tmp_path / "chf.csv"
    f.write_text("symbol,asset_class,currency,multiplier,ref_price\nNESN,equity,CHF,1,100\n")
    with pytest.raises(LoadError) as excinfo:
        read(f)
    assert errors_of(excinfo) == [
        f"{f}: field 'currency' has value 'CHF'; expected an FX rate to USD: load the history "
        "of CHFUSD or USDCHF (or pairs linking it to another currency) first (riskstream "
        "history load)"
    ]


def test_issuer_and_sector_of_a_bond_conflict(tmp_path: Path) -> None:
    record = {**FIVE_CLASSES[-1], "sector": "corporate:Industrials"}
    f = write_csv(tmp_path / "b.csv", [record])
    with pytest.raises(LoadError) as excinfo:
        read(f)
    assert errors_of(excinfo) == [
        f"{f}:2: field 'issuer' has value 'ACME'; expected issuer or sector, not both: a "
        "bond's issuer is kept in its sector as corporate:<issuer>"
    ]


def test_a_future_on_an_instrument_moves_with_it(tmp_path: Path) -> None:
    rows = [FIVE_CLASSES[0], {**FIVE_CLASSES[3], "underlying": "AAPL", "ref_price": 231}]
    inst = read(write_csv(tmp_path / "f.csv", rows)).universe.instruments
    assert inst["underlying_id"].to_list() == [None, 0]
    assert inst["sector"].to_list() == [None, None]


@pytest.fixture()
def stored(refdb: RefDB, tmp_path: Path) -> RefDB:
    """A reference DB holding the five-class book and two positions in a book."""
    load_instruments(
        write_csv(tmp_path / "first.csv", FIVE_CLASSES),
        refdb,
        CLOSES,
        base_currency="USD",
        as_of=AS_OF,
    )
    refdb.upsert_positions(
        pl.DataFrame({"book_id": [0, 0], "instrument_id": [0, 6], "quantity": [100.0, -5.0]}),
        new_books=pl.DataFrame(
            {"book_id": [0], "name": ["B"], "desk": ["d"], "strategy": ["s"], "trader": ["t"]}
        ),
    )
    return refdb


def test_upsert_updates_by_symbol_and_appends(stored: RefDB, tmp_path: Path) -> None:
    # An option on an underlying already stored; AAPL updated in place (same id).
    f = write_csv(
        tmp_path / "more.csv",
        [
            {**FIVE_CLASSES[0], "ref_price": 235.0},
            {**FIVE_CLASSES[2], "symbol": "AAPL 270115P180", "strike": 180, "right": "P"},
        ],
    )
    load = load_instruments(f, stored, CLOSES, base_currency="USD", as_of=AS_OF)
    inst = stored.instruments()
    assert inst.height == 8 and load.loaded == 2 and not load.replaced
    assert inst.row(0, named=True)["ref_price"] == 235.0
    put = inst.row(7, named=True)
    assert put["symbol"] == "AAPL 270115P180" and put["underlying_id"] == 0
    assert stored.positions().height == 2 and load.positions_dropped == 0
    assert inst.row(0, named=True)["dividend_yield"] == 0.005  # through the reference DB
    assert stored.meta()[SOURCE_KEY] == USER_SOURCE


def test_replace_reassigns_ids_and_drops_positions_of_removed(
    stored: RefDB, tmp_path: Path
) -> None:
    # ACME (id 6, held) is gone; AAPL (id 0, held) becomes id 1.
    rows = [FIVE_CLASSES[1], FIVE_CLASSES[0], FIVE_CLASSES[4]]
    f = write_csv(tmp_path / "whole.csv", rows)
    load = load_instruments(f, stored, CLOSES, base_currency="USD", as_of=AS_OF, replace=True)
    inst = stored.instruments()
    assert inst["symbol"].to_list() == ["SONY", "AAPL", "EURUSD"]
    assert load.positions_dropped == 1 and load.replaced
    pos = stored.positions()
    assert pos.rows() == [(0, 1, 100.0)]
    assert stored.books()["name"].to_list() == ["B"]


def test_replace_does_not_resolve_underlyings_it_removes(stored: RefDB, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "opt.csv", [FIVE_CLASSES[2]])
    with pytest.raises(LoadError) as excinfo:
        load_instruments(f, stored, CLOSES, base_currency="USD", as_of=AS_OF, replace=True)
    assert errors_of(excinfo) == [
        f"{f}:2: field 'underlying' has value 'AAPL'; expected the symbol of an instrument "
        "in this file"
    ]
    assert stored.instruments().height == 7  # nothing written


def test_a_bad_file_leaves_the_store_as_it_was(stored: RefDB, tmp_path: Path) -> None:
    before = stored.load_universe()
    f = write_csv(tmp_path / "bad.csv", [{**FIVE_CLASSES[0], "multiplier": 0}])
    with pytest.raises(LoadError):
        load_instruments(f, stored, CLOSES, base_currency="USD", as_of=AS_OF)
    assert stored.load_universe().instruments.equals(before.instruments)


def test_kept_instruments_must_outlive_the_new_as_of(stored: RefDB, tmp_path: Path) -> None:
    # Upserting at a later as-of date would keep an expired option and future: refused.
    later = dt.date(2027, 6, 1)
    f = write_csv(tmp_path / "later.csv", [{**FIVE_CLASSES[0], "ref_price": 240.0}])
    with pytest.raises(LoadError) as excinfo:
        load_instruments(f, stored, CLOSES, base_currency="USD", as_of=later)
    assert errors_of(excinfo) == [
        f"{f}: field 'as_of' has value '2027-06-01'; expected a date before the expiry or "
        "maturity of every stored instrument the file keeps; 2 expire by then (AAPL "
        "270115C200, ESH7): list them in the file, or load it with --replace"
    ]


POOL = [f"S{i}" for i in range(12)]


@given(
    first=st.lists(st.sampled_from(POOL), min_size=1, max_size=8, unique=True),
    second=st.lists(st.sampled_from(POOL), min_size=1, max_size=8, unique=True),
    held=st.lists(st.booleans(), min_size=8, max_size=8),
)
@settings(max_examples=40)
def test_merge_invariants(first: list[str], second: list[str], held: list[bool]) -> None:
    # Upsert: stored ids never move, new symbols follow in file order, nothing is dropped.
    # Replace: ids are the file order; a position survives exactly when its symbol does, with
    # its quantity, at its symbol's new id.
    import tempfile

    def equities(symbols: list[str], price: float) -> list[dict]:
        return [
            {"symbol": s, "asset_class": "equity", "currency": "USD", "multiplier": 1,
             "ref_price": price}
            for s in symbols
        ]  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        base = read(write_csv(Path(tmp) / "a.csv", equities(first, 10.0))).universe
        qty = [float(i + 1) for i, h in enumerate(held[: len(first)]) if h]
        ids = [i for i, h in enumerate(held[: len(first)]) if h]
        stored = Universe(
            base.instruments,
            pl.DataFrame(
                {"book_id": [0], "name": ["B"], "desk": ["d"], "strategy": ["s"], "trader": ["t"]},
                schema=BOOK_SCHEMA,
            ),
            pl.DataFrame(
                {"book_id": [0] * len(ids), "instrument_id": ids, "quantity": qty},
                schema=POSITION_SCHEMA,
            ),
            "USD",
            {"USD": 1.0},
            AS_OF,
        )
        f = write_csv(Path(tmp) / "b.csv", equities(second, 20.0))
        up = read(f, stored).universe
        symbols = up.instruments["symbol"].to_list()
        assert symbols[: len(first)] == first
        assert symbols[len(first) :] == [s for s in second if s not in first]
        assert up.instruments["instrument_id"].to_list() == list(range(len(symbols)))
        assert up.positions.equals(stored.positions)
        price = dict(up.instruments.select("symbol", "ref_price").iter_rows())
        assert all(price[s] == (20.0 if s in second else 10.0) for s in symbols)

        load = read(f, stored, replace=True)
        rep = load.universe
        assert rep.instruments["symbol"].to_list() == second
        before = {first[i]: q for i, q in zip(ids, qty, strict=True)}
        after = {second[i]: q for i, q in rep.positions.select("instrument_id", "quantity").rows()}
        assert after == {s: q for s, q in before.items() if s in second}
        assert load.positions_dropped == len(before) - len(after)
