"""Position loaders: every bad row reported with file, line, field, value and reason;
nothing half-loaded."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from riskstream.core.errors import LoadError
from riskstream.core.instruments import Universe
from riskstream.store.loaders import load_positions, read_positions
from riskstream.store.refdb import RefDB


@pytest.fixture()
def names(small_universe: Universe) -> dict[str, str]:
    inst = small_universe.instruments
    return {
        "book": small_universe.books["name"][0],
        "book2": small_universe.books["name"][1],
        "stock": inst.filter(pl.col("asset_class") == "equity")["symbol"][0],
        "future": inst.filter(pl.col("asset_class") == "future")["symbol"][0],
        "bond": inst.filter(pl.col("asset_class") == "bond")["symbol"][0],
    }


def by_line(error: LoadError) -> dict[str, list[tuple[str, object, str]]]:
    out: dict[str, list[tuple[str, object, str]]] = {}
    for e in error.errors:
        out.setdefault(e.location, []).append((e.field, e.value, e.expected))
    return out


def test_csv_good_file_reads_in_file_order(tmp_path: Path, small_universe, names) -> None:
    f = tmp_path / "pos.csv"
    f.write_text(
        "book,symbol,quantity\n"
        f"{names['book']},{names['stock']},1500\n"
        f'"{names["book"]}","{names["bond"]}",-250\n'
        "\n"  # a blank line is skipped
        f"{names['book2']}, {names['future']} , -3\n"
    )
    frame = read_positions(f, small_universe)
    sym = dict(small_universe.instruments.select("symbol", "instrument_id").iter_rows())
    assert frame["instrument_id"].to_list() == [
        sym[names["stock"]],
        sym[names["bond"]],
        sym[names["future"]],
    ]
    assert frame["quantity"].to_list() == [1500.0, -250.0, -3.0]
    assert frame["book_id"].to_list() == [0, 0, 1]


def test_csv_bad_rows_are_each_reported(tmp_path: Path, small_universe, names) -> None:
    f = tmp_path / "pos.csv"
    f.write_text(
        "book,symbol,quantity\n"  # line 1
        f"{names['book']},{names['stock']},100\n"  # 2 good
        f"NO-SUCH-BOOK,{names['stock']},100\n"  # 3 unknown book
        f"{names['book']},NOPE US,100\n"  # 4 unknown instrument
        f"{names['book']},{names['bond']},abc\n"  # 5 not a number
        f"{names['book']},{names['future']},nan\n"  # 6 not finite
        f"{names['book']},{names['future']},\n"  # 7 missing quantity
        f"{names['book']},{names['stock']},5\n"  # 8 duplicate of line 2
    )
    with pytest.raises(LoadError) as info:
        read_positions(f, small_universe)
    got = by_line(info.value)
    src = str(f)
    assert set(got) == {f"{src}:{n}" for n in (3, 4, 5, 6, 7, 8)}
    assert got[f"{src}:3"] == [("book", "NO-SUCH-BOOK", "a book in the reference data")]
    assert got[f"{src}:4"] == [("symbol", "NOPE US", "an instrument in the reference data")]
    ((field, value, expected),) = got[f"{src}:5"]
    assert (field, value) == ("quantity", "abc") and "number" in expected
    ((field, value, expected),) = got[f"{src}:6"]
    assert (field, value) == ("quantity", "nan") and "finite" in expected
    assert got[f"{src}:7"] == [("quantity", None, "a signed number")]
    ((field, value, expected),) = got[f"{src}:8"]
    assert field == "instrument" and "already at line 2" in expected
    message = str(info.value)
    assert "6 bad record(s), nothing loaded" in message
    assert f"{src}:3: field 'book' has value 'NO-SUCH-BOOK'" in message


def test_csv_ids_unknown_columns_and_both_names(tmp_path: Path, small_universe) -> None:
    f = tmp_path / "pos.csv"
    f.write_text(
        "book_id,instrument_id,quantity,side\n"
        "0,1,10,\n"  # 2 good (empty extra column is ignored)
        "0,99999,10,\n"  # 3 unknown id
        "x,1,10,\n"  # 4 not an integer
        "0,2,10,BUY\n"  # 5 unknown column
    )
    with pytest.raises(LoadError) as info:
        read_positions(f, small_universe)
    got = by_line(info.value)
    src = str(f)
    assert got[f"{src}:3"] == [("instrument_id", "99999", "an instrument in the reference data")]
    assert got[f"{src}:4"] == [("book_id", "x", "an integer id")]
    assert got[f"{src}:5"][0][:2] == ("side", "BUY")


def test_yaml_lines_point_at_the_bad_items(tmp_path: Path, small_universe, names) -> None:
    f = tmp_path / "pos.yaml"
    f.write_text(
        "# positions of the day\n"  # 1
        "positions:\n"  # 2
        f"  - {{book: {names['book']}, symbol: {names['stock']}, quantity: 100}}\n"  # 3
        f"  - book: {names['book']}\n"  # 4
        "    symbol: NOPE\n"  # 5
        "    quantity: 1\n"  # 6
        "  - {book_id: 0, instrument_id: 3, quantity: -1e400}\n"  # 7 (inf)
        "  - just a string\n"  # 8
    )
    with pytest.raises(LoadError) as info:
        read_positions(f, small_universe)
    got = by_line(info.value)
    src = str(f)
    assert set(got) == {f"{src}:4", f"{src}:7", f"{src}:8"}
    assert got[f"{src}:4"] == [("symbol", "NOPE", "an instrument in the reference data")]
    assert got[f"{src}:7"][0][0] == "quantity"


def test_yaml_plain_list_and_ids(tmp_path: Path, small_universe) -> None:
    f = tmp_path / "pos.yml"
    f.write_text(
        "- {book_id: 1, instrument_id: 3, quantity: 2}\n"
        "- {book_id: 2, instrument_id: 3, quantity: -2}\n"
    )
    frame = read_positions(f, small_universe)
    assert frame.rows() == [(1, 3, 2.0), (2, 3, -2.0)]


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        ("pos.txt", "book,symbol,quantity\n", "file"),
        ("bad.yaml", "positions: [ {book: 1\n", "yaml"),
        ("scalar.yaml", "42\n", "positions"),
        ("empty.csv", "", "header"),
    ],
)
def test_unreadable_files(tmp_path: Path, small_universe, name: str, text: str, field: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(LoadError) as info:
        read_positions(f, small_universe)
    assert info.value.errors[0].field == field
    with pytest.raises(LoadError, match="an existing file"):
        read_positions(tmp_path / "missing.csv", small_universe)


def test_load_is_all_or_nothing(
    refdb: RefDB, small_universe: Universe, tmp_path: Path, names
) -> None:
    refdb.save_universe(small_universe)
    before = refdb.positions()
    f = tmp_path / "pos.csv"
    f.write_text(
        "book,symbol,quantity\n"
        f"{names['book']},{names['stock']},10\n"
        f"{names['book2']},{names['bond']},20\n"
        f"{names['book']},NOPE,1\n"  # one bad row, last
    )
    with pytest.raises(LoadError):
        load_positions(f, refdb)
    assert refdb.positions().equals(before)  # not one row written

    good = tmp_path / "good.csv"
    good.write_text(
        "book,symbol,quantity\n"
        f"{names['book']},{names['stock']},1500\n"
        f"{names['book2']},{names['future']},-3\n"
    )
    assert load_positions(good, refdb) == 2
    after = refdb.positions()
    assert after.height >= before.height
    assert load_positions(good, refdb, replace=True) == 2
    assert refdb.positions().height == 2


def test_a_positions_file_creates_the_books_it_describes(
    refdb: RefDB, small_universe: Universe, tmp_path: Path, names
) -> None:
    refdb.save_universe(small_universe)
    n_books = small_universe.books.height
    f = tmp_path / "pos.csv"
    f.write_text(
        "book,symbol,quantity,desk,strategy,trader\n"
        f"NEW-1,{names['stock']},10,Equities,Value,jdoe\n"  # created
        f"NEW-1,{names['bond']},20,,,\n"  # later rows may leave them out
        f"NEW-2,{names['stock']},5,Macro,Carry,asmith\n"
        f"{names['book']},{names['future']},-3,,,\n"
    )
    assert load_positions(f, refdb) == 4
    books = refdb.books()
    assert books.height == n_books + 2
    new = books.filter(pl.col("name").str.starts_with("NEW-")).rows()
    assert new == [
        (n_books, "NEW-1", "Equities", "Value", "jdoe"),
        (n_books + 1, "NEW-2", "Macro", "Carry", "asmith"),
    ]
    assert sorted(refdb.positions(book_id=n_books)["quantity"].to_list()) == [10.0, 20.0]
    assert refdb.positions(book_id=n_books + 1)["quantity"].to_list() == [5.0]


def test_book_columns_must_create_or_agree(
    refdb: RefDB, small_universe: Universe, tmp_path: Path, names
) -> None:
    refdb.save_universe(small_universe)
    stored = small_universe.books.row(0, named=True)
    before = (refdb.books(), refdb.positions())
    f = tmp_path / "pos.csv"
    f.write_text(
        "book,book_id,symbol,quantity,desk,strategy,trader\n"
        f"NEW-1,,{names['stock']},10,Equities,,\n"  # 2: strategy and trader missing
        f"{stored['name']},,{names['stock']},1,Other desk,,\n"  # 3: changes a stored book
        f",0,{names['bond']},1,Equities,,\n"  # 4: a book named by id cannot be described
        f"NEW-3,,{names['stock']},1,D,S,T\n"  # 5: good
        f"NEW-3,,{names['bond']},1,D,S2,T\n"  # 6: disagrees with line 5
    )
    with pytest.raises(LoadError) as info:
        load_positions(f, refdb)
    got = [str(e) for e in info.value.errors]
    src = str(f)
    assert got == [
        f"{src}:2: field 'strategy' has value None; expected a strategy name: book 'NEW-1' is "
        "new, so desk, strategy and trader are all needed to create it",
        f"{src}:2: field 'trader' has value None; expected a trader name: book 'NEW-1' is "
        "new, so desk, strategy and trader are all needed to create it",
        f"{src}:3: field 'desk' has value 'Other desk'; expected {stored['desk']!r}, book "
        f"{stored['name']!r}'s desk (a positions file creates books, it does not change them)",
        f"{src}:4: field 'desk' has value 'Equities'; expected no value unless the book is "
        "named by book",
        f"{src}:6: field 'strategy' has value 'S2'; expected 'S', book 'NEW-3''s strategy (a "
        "positions file creates books, it does not change them)",
    ]
    assert refdb.books().equals(before[0]) and refdb.positions().equals(before[1])


def test_positions_load_from_parquet(tmp_path: Path, small_universe, names) -> None:
    f = tmp_path / "pos.parquet"
    pl.DataFrame(
        {"book": [names["book"], names["book2"]], "symbol": [names["stock"], names["bond"]],
         "quantity": [100.0, -5.0]}
    ).write_parquet(f)  # fmt: skip
    frame = read_positions(f, small_universe)
    assert frame["quantity"].to_list() == [100.0, -5.0]
