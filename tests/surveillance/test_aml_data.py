"""The AML file formats: validation names field, value and expectation; bad records are
quarantined and counted, never dropped silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskstream.core.errors import InputError, LoadError
from riskstream.surveillance.aml_data import load_accounts, load_labels, load_transactions

HEADER = "tx_id,ts,from_account,to_account,amount,currency,channel\n"


def _write(tmp_path: Path, text: str, name: str = "tx.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_rows_load_and_bad_rows_are_quarantined_with_reason(tmp_path: Path) -> None:
    rows = [
        "1,2026-01-02T10:00:00,A,B,100.5,usd,Wire",  # good (case normalised)
        "2,2026-01-02T11:00:00Z,,B,9500,USD,cash",  # good: cash deposit, blank sender
        "3,2026-01-02T12:00:00,A,,200,USD,cash",  # good: cash withdrawal
        "4,not-a-time,A,B,1,USD,wire",  # bad ts
        "5,2026-01-02T12:00:00,A,B,-3,USD,wire",  # bad amount
        "6,2026-01-02T12:00:00,A,B,nan,USD,wire",  # bad amount
        "7,2026-01-02T12:00:00,A,B,3,US,wire",  # bad currency
        "8,2026-01-02T12:00:00,A,B,3,USD,crypto",  # bad channel
        "9,2026-01-02T12:00:00,,B,3,USD,wire",  # blank sender, not cash
        "10,2026-01-02T12:00:00,A,A,3,USD,wire",  # self transfer
    ]
    loaded = load_transactions(_write(tmp_path, HEADER + "\n".join(rows)))
    assert loaded.frame.height == 3
    assert loaded.frame["channel"].to_list() == ["wire", "cash", "cash"]
    assert loaded.frame["from_account"].to_list() == ["A", None, "A"]
    q = loaded.quarantine.sort("row")
    assert q["row"].to_list() == [4, 5, 6, 7, 8, 9, 10]
    assert q["field"].to_list() == [
        "ts",
        "amount",
        "amount",
        "currency",
        "channel",
        "from_account",
        "to_account",
    ]
    assert q.row(4, named=True)["value"] == "crypto"
    assert "wire, transfer, card, cash" in q.row(4, named=True)["expected"]
    assert loaded.summary()["quarantined"] == 7


def test_missing_column_names_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing \\['channel'\\]"):
        load_transactions(_write(tmp_path, "tx_id,ts,from_account,to_account,amount,currency\n"))


def test_a_file_of_only_bad_records_loads_nothing(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="field 'amount' has value '0'"):
        load_transactions(_write(tmp_path, HEADER + "1,2026-01-02T10:00:00,A,B,0,USD,wire\n"))


def test_accounts_and_labels(tmp_path: Path) -> None:
    accounts = load_accounts(
        _write(
            tmp_path,
            "account,customer,segment,country,risk_rating\n"
            "A,C1,Retail,us,low\nB,C2,bank,US,low\nA,C3,retail,US,high\n"
            "D,C4,Business,gb,Medium\n",
            "acc.csv",
        )
    )
    assert accounts.frame.rows() == [("D", "C4", "business", "GB", "medium")]
    assert accounts.quarantine["field"].to_list() == ["account", "segment", "account"]
    labels = load_labels(
        _write(tmp_path, "account,is_suspicious,typology\nA,1,x\nB,false,\nC,maybe,\n", "lab.csv")
    )
    assert labels.frame["is_suspicious"].to_list() == [True, False]
    assert labels.quarantine["field"].to_list() == ["is_suspicious"]
