"""MiFIR transaction reports: identifiers, content rules, the XML and the CLI contract.

Published values used:
* LEIs from the GLEIF register: Apple Inc. ``HWUPKR0MPOU8FGXBT394``, Deutsche Bank AG
  ``7LTWFZYICNSX8D621K86``, Deutsche Börse AG ``529900T8BM49AURSDO55``.
* ISINs from their issuers' listings: Apple ``US0378331005`` (the ISO 6166 worked example
  ANNA gives), Deutsche Bank ``DE0005140008``, BAE Systems ``GB0002634946``.
* Field formats: RTS 22 (Delegated Regulation (EU) 2017/590) Annex I Table 1 and Table 2.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from riskstream.core.errors import InputError
from riskstream.regulatory.reporting.identifiers import (
    cfi_valid,
    isin_check_digit,
    isin_valid,
    lei_check_digits,
    lei_valid,
    mic_valid,
)
from riskstream.regulatory.reporting.mifir import NAMESPACE, build_report

APPLE_LEI, DB_LEI, DBOERSE_LEI = (
    "HWUPKR0MPOU8FGXBT394",
    "7LTWFZYICNSX8D621K86",
    "529900T8BM49AURSDO55",
)
NOW = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


def trade(**over: str) -> dict[str, str]:
    row = {
        "trade_id": "T0001",
        "executing_entity_lei": DBOERSE_LEI,
        "buyer_lei": DBOERSE_LEI,
        "seller_lei": DB_LEI,
        "trade_time": "2026-12-03T14:05:01.123456Z",
        "isin": "US0378331005",
        "quantity": "100",
        "price": "189.25",
        "price_currency": "USD",
        "venue_mic": "XNAS",
        "trading_capacity": "DEAL",
    }
    row.update(over)
    return row


@pytest.mark.parametrize("lei", [APPLE_LEI, DB_LEI, DBOERSE_LEI])
def test_published_leis_pass_the_iso17442_check(lei: str) -> None:
    assert lei_valid(lei)
    assert lei_check_digits(lei[:18]) == lei[18:]


@pytest.mark.parametrize("isin", ["US0378331005", "DE0005140008", "GB0002634946"])
def test_published_isins_pass_the_iso6166_check(isin: str) -> None:
    assert isin_valid(isin)
    assert isin_check_digit(isin[:11]) == isin[11]


@given(
    st.text(alphabet="0123456789", min_size=18, max_size=18),
    st.integers(0, 19),
    st.sampled_from("0123456789"),
)
def test_any_single_digit_change_breaks_an_lei(prefix: str, at: int, ch: str) -> None:
    lei = prefix + lei_check_digits(prefix)
    assert lei_valid(lei)
    changed = lei[:at] + ch + lei[at + 1 :]
    # MOD 97-10 detects every single-digit substitution (ISO/IEC 7064); letters expand to
    # two digits, so for them the guarantee is probabilistic (1 in 97)
    assert lei_valid(changed) == (changed == lei)


def test_mic_and_cfi_forms() -> None:
    assert mic_valid("XNAS") and mic_valid("XOFF") and not mic_valid("xnas")
    assert cfi_valid("ESVUFR")  # ordinary shares, voting, free, fully paid, registered
    assert not cfi_valid("EZXXXX")  # Z is no equity group
    assert not cfi_valid("ESVUF")


def test_valid_trade_is_written_and_valid_against_the_structure() -> None:
    report = build_report([trade()], now=NOW)
    assert report.reported == ("T0001",) and report.rejected == ()
    doc = etree.fromstring(report.xml)
    ns = {"a": NAMESPACE}
    assert doc.findtext("a:FinInstrmRptgTxRpt/a:Tx/a:New/a:TxId", namespaces=ns) == "T0001"
    amt = doc.find(".//a:Pric/a:Pric/a:MntryVal/a:Amt", ns)
    assert amt.text == "189.25" and amt.get("Ccy") == "USD"
    assert doc.findtext(".//a:TradDt", namespaces=ns) == "2026-12-03T14:05:01.123456Z"


@pytest.mark.parametrize(
    ("over", "field", "rule"),
    [
        ({"trade_id": "t-1"}, "trade_id", "TRN-FORMAT"),
        ({"seller_lei": DB_LEI[:-1] + "7"}, "seller_lei", "LEI-CHECK"),
        ({"executing_entity_lei": "HWUPKR0MPOU8FGXBT395"}, "executing_entity_lei", "LEI-CHECK"),
        ({"seller_lei": DBOERSE_LEI}, "seller_lei", "SAME-PARTY"),
        ({"trade_time": "2026-12-03 14:05:01"}, "trade_time", "DATETIME"),
        ({"trade_time": "2026-12-03T14:05:01.1234567Z"}, "trade_time", "DATETIME"),
        ({"trade_time": "2027-01-01T00:00:00Z"}, "trade_time", "DATETIME"),
        ({"trading_capacity": "PRIN"}, "trading_capacity", "CAPACITY"),
        ({"executing_entity_lei": APPLE_LEI}, "executing_entity_lei", "DEAL-PARTY"),
        ({"quantity": "0"}, "quantity", "QTY-DECIMAL"),
        ({"quantity": "1.123456789012345678"}, "quantity", "QTY-DECIMAL"),
        ({"price": "12.12345678901234"}, "price", "PRICE-DECIMAL"),
        ({"price": "abc"}, "price", "PRICE-DECIMAL"),
        ({"price_currency": "USX"}, "price_currency", "CCY"),
        ({"venue_mic": "XNA"}, "venue_mic", "MIC"),
        ({"isin": "US0378331006"}, "isin", "ISIN-CHECK"),
        ({"cfi": "EZXXXX"}, "cfi", "CFI"),
    ],
)
def test_each_rule_rejects_naming_field_and_rule(over: dict, field: str, rule: str) -> None:
    report = build_report([trade(**over), trade(trade_id="T0002")], now=NOW)
    assert report.reported == ("T0002",)  # the good one is still reported
    (rejection,) = report.rejected
    assert rejection.field == field and rejection.reason.startswith(rule)


def test_each_transaction_once_and_corrections_as_cancel_then_new() -> None:
    rows = [trade(), trade(price="190"), trade(report_status="CANC"), trade(price="190")]
    report = build_report(rows, now=NOW)
    assert report.reported == ("T0001", "T0001", "T0001")
    assert [r.reason.split(":")[0] for r in report.rejected] == ["TRN-UNIQUE"]
    tags = [
        etree.QName(e).localname
        for e in etree.fromstring(report.xml).iterfind(f".//{{{NAMESPACE}}}Tx/*")
        if etree.QName(e).localname in ("New", "Cxl")
    ]
    assert tags == ["New", "Cxl", "New"]


def test_missing_required_column_names_it() -> None:
    row = trade()
    del row["isin"]
    with pytest.raises(InputError, match="isin"):
        build_report([row], now=NOW)


def test_cli_contract(tmp_path) -> None:
    import csv

    path = tmp_path / "trades.csv"
    rows = [trade(trade_time="2026-12-03T14:05:01Z"), trade(trade_id="T0002", isin="US0378331006")]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "report.xml"
    cmd = [
        sys.executable,
        "-m",
        "riskstream",
        "report",
        "mifir",
        "--trades",
        str(path),
        "--out",
        str(out),
        "--json",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["reported"] == 1
    assert result["rejected"] == [
        {
            "trade_id": "T0002",
            "field": "isin",
            "value": "US0378331006",
            "reason": result["rejected"][0]["reason"],
        }
    ]
    assert out.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text().replace("US0378331005", "US0378331006"))
    done = subprocess.run(
        [*cmd[:5], str(bad), "--out", str(tmp_path / "x.xml"), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and not (tmp_path / "x.xml").exists()
