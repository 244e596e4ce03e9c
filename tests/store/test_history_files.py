"""History files: each kind of bad row is reported as file:line, field, value, expected; a
file with any bad row returns nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from riskstream.core.errors import InputError, LoadError
from riskstream.store.history_files import SCHEMAS, read_history_file

HEADER = {
    "prices": "date,symbol,close",
    "curves": "date,currency,tenor_years,zero_rate",
    "vols": "date,underlying,expiry_years,moneyness,implied_vol",
}
GOOD = {
    "prices": "2024-01-02,A,1",
    "curves": "2024-01-02,USD,1,0.03",
    "vols": "2024-01-02,S,1,1,0.2",
}

# (kind, the bad row, its field, a phrase of what was expected). Each file is the header, a
# good row (line 2), then the bad row (line 3): "nothing loaded" refuses the good row too.
BAD_ROWS = {
    "unparseable date": ("prices", "2024-02-30,A,1", "date", "ISO"),
    "extra field": ("prices", "2024-01-03,A,1,9", "(extra columns)", "3 fields"),
    "missing value": ("prices", "2024-01-03,A,", "close", "finite"),
    "non-numeric": ("prices", "2024-01-03,A,1.2.3", "close", "finite"),
    "nan": ("prices", "2024-01-03,A,nan", "close", "finite"),
    "infinite": ("prices", "2024-01-03,A,-inf", "close", "finite"),
    "empty symbol": ("prices", "2024-01-03, ,2", "symbol", "non-empty"),
    "repeated key": ("prices", "2024-01-02,A,2", "key", "already at line 2"),
    "negative tenor": ("curves", "2024-01-02,USD,-1,0.03", "tenor_years", ">= 0"),
    "bad currency": ("curves", "2024-01-02,usd,1,0.03", "currency", "ISO 4217"),
    "long currency": ("curves", "2024-01-02,USDX,1,0.03", "currency", "ISO 4217"),
    "repeated tenor": ("curves", "2024-01-02,USD,1.0,0.04", "key", "already at line 2"),
    "negative expiry": ("vols", "2024-01-02,S,-0.5,1,0.2", "expiry_years", "> 0"),
    "zero expiry": ("vols", "2024-01-02,S,0,1,0.2", "expiry_years", "> 0"),
    "negative vol": ("vols", "2024-01-02,S,1,1.1,-0.2", "implied_vol", "> 0"),
    "negative moneyness": ("vols", "2024-01-02,S,1,-1,0.2", "moneyness", "> 0"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_each_bad_row_kind_is_named_and_nothing_returned(case: str, tmp_path: Path) -> None:
    kind, row, field, expected = BAD_ROWS[case]
    path = tmp_path / "bad.csv"
    path.write_text(f"{HEADER[kind]}\n{GOOD[kind]}\n{row}\n")
    with pytest.raises(LoadError) as info:
        read_history_file(path, kind)
    errors = info.value.errors
    assert [(e.location, e.field) for e in errors] == [(f"{path}:3", field)]
    assert expected in errors[0].expected
    assert f"{path}:3: field '{field}' has value" in str(info.value)
    assert "nothing loaded" in str(info.value)


@pytest.mark.parametrize(
    ("header", "field", "value", "expected"),
    [
        ("date,symbol", "close", None, "a column named close"),
        ("date,symbol,close,volume", "column", "volume", "only the columns"),
    ],
)
def test_missing_and_extra_columns_are_named_at_line_1(
    header: str, field: str, value: str | None, expected: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"{header}\n2024-01-02,A,1,5\n")
    with pytest.raises(LoadError) as info:
        read_history_file(path, "prices")
    error = info.value.errors[0]
    assert (error.location, error.field, error.value) == (f"{path}:1", field, value)
    assert expected in error.expected


def test_every_bad_row_is_listed_in_line_order(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER["prices"]
        + "\n2024-01-02,A,1\n"  # 2 good
        + "2024-01-03,A\n"  # 3 missing close
        + "2024-01-04,A,1,9\n"  # 4 extra field
        + "2024-01-05,A,x\n"  # 5 non-numeric
        + "2024-01-05,A,2\n"  # 6 repeats line 5's key
        + "\n"  # 7 blank: skipped
        + "2024-13-05,,inf\n"  # 8 three bad fields
    )
    with pytest.raises(LoadError) as info:
        read_history_file(path, "prices")
    got = [(e.location.rsplit(":", 1)[1], e.field) for e in info.value.errors]
    assert got == [
        ("3", "close"),
        ("4", "(extra columns)"),
        ("5", "close"),
        ("6", "key"),
        ("8", "date"),
        ("8", "symbol"),
        ("8", "close"),
    ]


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="an existing file"):
        read_history_file(tmp_path / "none.csv", "prices")
    other = tmp_path / "prices.xlsx"
    other.write_text("x")
    with pytest.raises(LoadError, match=r"a \.csv or \.parquet file"):
        read_history_file(other, "prices")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(LoadError, match="a column named date"):
        read_history_file(empty, "prices")
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("date,symbol,close\n")
    with pytest.raises(LoadError, match="a readable Parquet file"):
        read_history_file(not_parquet, "prices")
    with pytest.raises(InputError, match="kind"):
        read_history_file(empty, "bonds")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"date,symbol,close\n2024-01-02,A,\xff\xfe1\n")
    with pytest.raises(LoadError, match="a readable UTF-8 CSV file"):
        read_history_file(binary, "prices")


def test_good_csv_parses_to_the_canonical_schema(tmp_path: Path) -> None:
    path = tmp_path / "vols.csv"
    path.write_text(
        " date , underlying, expiry_years,moneyness,implied_vol\n"
        + "2024-01-02, SPX ,0.5,0.9,0.182\n"
    )
    frame = read_history_file(path, "vols")
    assert frame.schema == pl.Schema(SCHEMAS["vols"])
    assert frame.row(0) == (dt.date(2024, 1, 2), "SPX", 0.5, 0.9, 0.182)


def test_parquet_types_and_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    good = pl.DataFrame(
        {
            "date": [dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3)],  # midnight: a day
            "symbol": ["A", "A"],
            "close": [1, 2],  # integers are numbers too
        }
    )
    good.write_parquet(path)
    frame = read_history_file(path, "prices")
    assert frame.schema == pl.Schema(SCHEMAS["prices"])
    assert frame["close"].to_list() == [1.0, 2.0]
    bad = pl.DataFrame(
        {
            "date": [dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3, 15, 30)],  # not a day
            "symbol": ["A", "A"],
            "close": [float("nan"), 2.0],
        }
    )
    bad.write_parquet(path)
    with pytest.raises(LoadError) as info:
        read_history_file(path, "prices")
    # Parquet rows are numbered from 1
    assert [(e.location, e.field) for e in info.value.errors] == [
        (f"{path}:1", "close"),
        (f"{path}:2", "date"),
    ]
