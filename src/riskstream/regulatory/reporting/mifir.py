"""MiFIR transaction reports: RTS 22 (Delegated Regulation (EU) 2017/590), Annex I Table 2,
as ISO 20022 ``auth.016.001.01`` (``FinInstrmRptgTxRpt``) XML.

An investment firm that executes a transaction in a financial instrument admitted to
trading in the EU reports it to its national competent authority by the close of the next
working day (MiFIR Art. 26). Each report has up to 65 fields (:data:`FIELDS`); this module
validates each transaction against ESMA-style content rules (:data:`RULES`), writes the
valid ones as ``New`` (``NEWT``) or ``Cxl`` (``CANC``) records and lists the rejected ones
with the field and the rule, so one bad trade never holds back the others. A correction is
a ``CANC`` followed by a ``NEWT`` under the same transaction reference number (ESMA
Guidelines on transaction reporting, ESMA/2016/1452, part I section 5.18).

ESMA's own XSD (``auth.016.001.01_ESMAUG_Reporting``) is not shipped with the project (its
licence terms are ESMA's); :data:`STRUCTURE_XSD` is a structural schema of the elements
this writer emits, in the message definition's order and cardinalities, and every document
is validated against it before it is written (see docs/reporting.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from lxml import etree

from riskstream.core.errors import InputError
from riskstream.regulatory.reporting.currencies import ISO_4217
from riskstream.regulatory.reporting.identifiers import (
    cfi_valid,
    isin_valid,
    lei_valid,
    mic_valid,
)

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:auth.016.001.01"

#: RTS 22 Annex I Table 2: (field number, field name, auth.016 element path under
#: ``Tx/New``, the input column that fills it or None where this writer leaves it out
#: because it does not apply to legal-entity counterparties on a venue or OTC).
FIELDS: tuple[tuple[int, str, str, str | None], ...] = (
    (1, "Report status", "New|Cxl", "report_status"),
    (2, "Transaction reference number", "TxId", "trade_id"),
    (3, "Trading venue transaction identification code", "Tx/TradVnTxId", "venue_transaction_id"),
    (4, "Executing entity identification code", "ExctgPty", "executing_entity_lei"),
    (5, "Investment firm covered by Directive 2014/65/EU", "InvstmtPtyInd", "investment_firm"),
    (6, "Submitting entity identification code", "SubmitgPty/LEI", "submitting_entity_lei"),
    (7, "Buyer identification code", "Buyr/AcctOwnr/Id/LEI", "buyer_lei"),
    (8, "Country of the branch for the buyer", "Buyr/AcctOwnr/CtryOfBrnch", "buyer_branch"),
    (9, "Buyer - first name(s)", "Buyr/AcctOwnr/Id/Prsn/FrstNm", None),
    (10, "Buyer - surname(s)", "Buyr/AcctOwnr/Id/Prsn/Nm", None),
    (11, "Buyer - date of birth", "Buyr/AcctOwnr/Id/Prsn/BirthDt", None),
    (12, "Buyer decision maker code", "Buyr/DcsnMakr/LEI", "buyer_decision_maker_lei"),
    (13, "Buy decision maker - first name(s)", "Buyr/DcsnMakr/Prsn/FrstNm", None),
    (14, "Buy decision maker - surname(s)", "Buyr/DcsnMakr/Prsn/Nm", None),
    (15, "Buy decision maker - date of birth", "Buyr/DcsnMakr/Prsn/BirthDt", None),
    (16, "Seller identification code", "Sellr/AcctOwnr/Id/LEI", "seller_lei"),
    (17, "Country of the branch for the seller", "Sellr/AcctOwnr/CtryOfBrnch", "seller_branch"),
    (18, "Seller - first name(s)", "Sellr/AcctOwnr/Id/Prsn/FrstNm", None),
    (19, "Seller - surname(s)", "Sellr/AcctOwnr/Id/Prsn/Nm", None),
    (20, "Seller - date of birth", "Sellr/AcctOwnr/Id/Prsn/BirthDt", None),
    (21, "Sell decision maker code", "Sellr/DcsnMakr/LEI", "seller_decision_maker_lei"),
    (22, "Sell decision maker - first name(s)", "Sellr/DcsnMakr/Prsn/FrstNm", None),
    (23, "Sell decision maker - surname(s)", "Sellr/DcsnMakr/Prsn/Nm", None),
    (24, "Sell decision maker - date of birth", "Sellr/DcsnMakr/Prsn/BirthDt", None),
    (25, "Transmission of order indicator", "OrdrTrnsmssn/TrnsmssnInd", "transmission"),
    (26, "Transmitting firm identification code for the buyer", "OrdrTrnsmssn/TrnsmttgBuyr", None),
    (
        27,
        "Transmitting firm identification code for the seller",
        "OrdrTrnsmssn/TrnsmttgSellr",
        None,
    ),
    (28, "Trading date time", "Tx/TradDt", "trade_time"),
    (29, "Trading capacity", "Tx/TradgCpcty", "trading_capacity"),
    (30, "Quantity", "Tx/Qty/Unit", "quantity"),
    (31, "Quantity currency", "Tx/Qty/MntryVal/@Ccy", None),
    (32, "Derivative notional increase/decrease", "Tx/DerivNtnlChng", None),
    (33, "Price", "Tx/Pric/Pric/MntryVal/Amt", "price"),
    (34, "Price currency", "Tx/Pric/Pric/MntryVal/Amt/@Ccy", "price_currency"),
    (35, "Net amount", "Tx/NetAmt", "net_amount"),
    (36, "Venue", "Tx/TradVn", "venue_mic"),
    (37, "Country of the branch membership", "Tx/CtryOfBrnch", "branch_membership"),
    (38, "Up-front payment", "Tx/UpFrntPmt/Amt", None),
    (39, "Up-front payment currency", "Tx/UpFrntPmt/Amt/@Ccy", None),
    (40, "Complex trade component id", "Tx/CmplxTradCmpntId", None),
    (41, "Instrument identification code", "FinInstrm/Id", "isin"),
    (42, "Instrument full name", "FinInstrm/Othr/FinInstrmGnlAttrbts/FullNm", None),
    (43, "Instrument classification", "FinInstrm/Othr/FinInstrmGnlAttrbts/ClssfctnTp", None),
    (44, "Notional currency 1", "FinInstrm/Othr/FinInstrmGnlAttrbts/NtnlCcy", None),
    (45, "Notional currency 2", "FinInstrm/Othr/DerivInstrmAttrbts/.../OthrNtnlCcy", None),
    (46, "Price multiplier", "FinInstrm/Othr/DerivInstrmAttrbts/PricMltplr", None),
    (47, "Underlying instrument code", "FinInstrm/Othr/DerivInstrmAttrbts/UndrlygInstrm", None),
    (48, "Underlying index name", "FinInstrm/Othr/DerivInstrmAttrbts/UndrlygInstrm/.../Nm", None),
    (49, "Term of the underlying index", "FinInstrm/Othr/DerivInstrmAttrbts/.../Term", None),
    (50, "Option type", "FinInstrm/Othr/DerivInstrmAttrbts/OptnTp", None),
    (51, "Strike price", "FinInstrm/Othr/DerivInstrmAttrbts/StrkPric", None),
    (52, "Strike price currency", "FinInstrm/Othr/DerivInstrmAttrbts/StrkPric/@Ccy", None),
    (53, "Option exercise style", "FinInstrm/Othr/DerivInstrmAttrbts/OptnExrcStyle", None),
    (54, "Maturity date", "FinInstrm/Othr/DebtInstrmAttrbts/MtrtyDt", None),
    (55, "Expiry date", "FinInstrm/Othr/DerivInstrmAttrbts/XpryDt", None),
    (56, "Delivery type", "FinInstrm/Othr/DerivInstrmAttrbts/DlvryTp", None),
    (57, "Investment decision within firm", "InvstmtDcsnPrsn/Algo", "investment_decision"),
    (
        58,
        "Country of the branch responsible for the investment decision",
        "InvstmtDcsnPrsn/Prsn/CtryOfBrnch",
        None,
    ),
    (59, "Execution within firm", "ExctgPrsn/Algo|Clnt", "execution_within_firm"),
    (60, "Country of the branch supervising the execution", "ExctgPrsn/Prsn/CtryOfBrnch", None),
    (61, "Waiver indicator", "AddtlAttrbts/WvrInd", "waiver"),
    (62, "Short selling indicator", "AddtlAttrbts/ShrtSellgInd", "short_selling"),
    (63, "OTC post-trade indicator", "AddtlAttrbts/OTCPstTradInd", "otc_post_trade"),
    (64, "Commodity derivative indicator", "AddtlAttrbts/RskRdcgTx", "commodity_derivative"),
    (65, "Securities financing transaction indicator", "AddtlAttrbts/SctiesFincgTxInd", "sft"),
)

#: The columns ``riskstream report mifir --trades`` requires.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "trade_id",
    "executing_entity_lei",
    "buyer_lei",
    "seller_lei",
    "trade_time",
    "isin",
    "quantity",
    "price",
    "price_currency",
    "venue_mic",
    "trading_capacity",
)

#: The content rules, by id: what each checks (ESMA validation rules and the RTS 22 field
#: formats of Annex I Table 1: {LEI}, {ISIN}, {MIC}, {DECIMAL-18/17}, {DECIMAL-18/13},
#: {CURRENCYCODE_3}, {DATE_TIME_FORMAT}).
RULES: dict[str, str] = {
    "TRN-FORMAT": "field 2: up to 52 upper-case letters and digits ({ALPHANUM-52})",
    "TRN-UNIQUE": "field 2: each transaction reported once under its reference number",
    "STATUS": "field 1: NEWT or CANC",
    "LEI-CHECK": "an ISO 17442 LEI: 20 characters with valid MOD 97-10 check digits",
    "DEAL-PARTY": "field 29 DEAL: the executing entity is the buyer or the seller",
    "SAME-PARTY": "fields 7/16: the buyer and the seller are different parties",
    "DATETIME": "field 28: ISO 8601 UTC date-time with 0-6 fractional digits, "
    "not in the future (RTS 25 granularity)",
    "ISIN-CHECK": "field 41: an ISO 6166 ISIN with a valid check digit",
    "QTY-DECIMAL": "field 30: a positive decimal of at most 18 digits, 17 after the point",
    "PRICE-DECIMAL": "field 33: a non-negative decimal of at most 18 digits, 13 after the point",
    "CCY": "field 34: an ISO 4217 currency code",
    "MIC": "field 36: an ISO 10383 segment MIC, or XOFF/XXXX off venue",
    "CAPACITY": "field 29: DEAL, MTCH or AOTC",
    "CFI": "field 43: an ISO 10962 CFI code",
    "BOOL": "an indicator field: true or false",
    "SHORT-SELL": "field 62: SESH, SSEX, SELL or UNDI",
}

_TRN = re.compile(r"^[A-Z0-9]{1,52}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$")


@dataclass(frozen=True)
class Rejection:
    """One transaction refused: the field and the rule it broke."""

    trade_id: str
    field: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "trade_id": self.trade_id,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class MifirReport:
    """The outcome of one reporting run: the XML of the valid records and the rejections."""

    xml: bytes
    reported: tuple[str, ...]
    rejected: tuple[Rejection, ...]


def _decimal(text: str, total: int, fraction: int) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    _, digits, exponent = value.normalize().as_tuple()
    frac = max(0, -int(exponent))
    whole = max(0, len(digits) + int(exponent))
    return value if frac <= fraction and whole + frac <= total else None


def _bool(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.strip().lower())


def _check(row: Mapping[str, str], now: dt.datetime) -> Rejection | None:
    """The first rule ``row`` breaks, or None. Rules run in field order."""
    tid = row["trade_id"]

    def bad(field: str, rule: str) -> Rejection:
        return Rejection(tid, field, row.get(field, ""), f"{rule}: {RULES[rule]}")

    if not _TRN.match(tid):
        return bad("trade_id", "TRN-FORMAT")
    if row.get("report_status", "NEWT") not in ("NEWT", "CANC"):
        return bad("report_status", "STATUS")
    for field in ("executing_entity_lei", "submitting_entity_lei"):
        if field in row and not lei_valid(row[field]):
            return bad(field, "LEI-CHECK")
    if row.get("report_status", "NEWT") == "CANC":
        return None  # a cancellation carries only fields 1, 2, 4 and 6
    for field in (
        "buyer_lei",
        "seller_lei",
        "buyer_decision_maker_lei",
        "seller_decision_maker_lei",
    ):
        if row.get(field) and not lei_valid(row[field]):
            return bad(field, "LEI-CHECK")
    if row["buyer_lei"] == row["seller_lei"]:
        return bad("seller_lei", "SAME-PARTY")
    if not _DATETIME.match(row["trade_time"]):
        return bad("trade_time", "DATETIME")
    when = dt.datetime.fromisoformat(row["trade_time"].replace("Z", "+00:00"))
    if when > now:
        return bad("trade_time", "DATETIME")
    if row["trading_capacity"] not in ("DEAL", "MTCH", "AOTC"):
        return bad("trading_capacity", "CAPACITY")
    if row["trading_capacity"] == "DEAL" and row["executing_entity_lei"] not in (
        row["buyer_lei"],
        row["seller_lei"],
    ):
        return bad("executing_entity_lei", "DEAL-PARTY")
    quantity = _decimal(row["quantity"], 18, 17)
    if quantity is None or quantity <= 0:
        return bad("quantity", "QTY-DECIMAL")
    price = _decimal(row["price"], 18, 13)
    if price is None or price < 0:
        return bad("price", "PRICE-DECIMAL")
    if row["price_currency"] not in ISO_4217:
        return bad("price_currency", "CCY")
    if row.get("net_amount") and _decimal(row["net_amount"], 18, 5) is None:
        return bad("net_amount", "PRICE-DECIMAL")
    if not mic_valid(row["venue_mic"]):
        return bad("venue_mic", "MIC")
    if not isin_valid(row["isin"]):
        return bad("isin", "ISIN-CHECK")
    if row.get("cfi") and not cfi_valid(row["cfi"]):
        return bad("cfi", "CFI")
    for field in ("investment_firm", "transmission", "sft", "commodity_derivative"):
        if row.get(field) and _bool(row[field]) is None:
            return bad(field, "BOOL")
    if row.get("short_selling") and row["short_selling"] not in ("SESH", "SSEX", "SELL", "UNDI"):
        return bad("short_selling", "SHORT-SELL")
    return None


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    node = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _party(
    parent: etree._Element, tag: str, lei: str, branch: str | None, decision_maker: str | None
) -> None:
    party = _sub(parent, tag)
    owner = _sub(party, "AcctOwnr")
    _sub(_sub(owner, "Id"), "LEI", lei)
    if branch:
        _sub(owner, "CtryOfBrnch", branch)
    if decision_maker:
        _sub(_sub(party, "DcsnMakr"), "LEI", decision_maker)


def _time(text: str) -> str:
    """Field 28 as the report writes it: UTC with a ``Z`` and the digits the venue gave."""
    return text.replace("+00:00", "Z")


def _new(parent: etree._Element, row: Mapping[str, str]) -> None:
    new = _sub(parent, "New")
    _sub(new, "TxId", row["trade_id"])
    _sub(new, "ExctgPty", row["executing_entity_lei"])
    _sub(new, "InvstmtPtyInd", row.get("investment_firm", "true").lower() or "true")
    _sub(
        _sub(new, "SubmitgPty"),
        "LEI",
        row.get("submitting_entity_lei") or row["executing_entity_lei"],
    )
    _party(
        new, "Buyr", row["buyer_lei"], row.get("buyer_branch"), row.get("buyer_decision_maker_lei")
    )
    _party(
        new,
        "Sellr",
        row["seller_lei"],
        row.get("seller_branch"),
        row.get("seller_decision_maker_lei"),
    )
    _sub(
        _sub(new, "OrdrTrnsmssn"),
        "TrnsmssnInd",
        row.get("transmission", "false").lower() or "false",
    )
    tx = _sub(new, "Tx")
    _sub(tx, "TradDt", _time(row["trade_time"]))
    _sub(tx, "TradgCpcty", row["trading_capacity"])
    _sub(_sub(tx, "Qty"), "Unit", format(Decimal(row["quantity"]).normalize(), "f"))
    price = _sub(_sub(_sub(tx, "Pric"), "Pric"), "MntryVal")
    _sub(price, "Amt", format(Decimal(row["price"]).normalize(), "f"), Ccy=row["price_currency"])
    if row.get("net_amount"):
        _sub(tx, "NetAmt", format(Decimal(row["net_amount"]).normalize(), "f"))
    _sub(tx, "TradVn", row["venue_mic"])
    if row.get("branch_membership"):
        _sub(tx, "CtryOfBrnch", row["branch_membership"])
    if row.get("venue_transaction_id"):
        _sub(tx, "TradPlcMtchgId", row["venue_transaction_id"])
    _sub(_sub(new, "FinInstrm"), "Id", row["isin"])
    if row.get("investment_decision"):
        _sub(_sub(new, "InvstmtDcsnPrsn"), "Algo", row["investment_decision"])
    executing = _sub(new, "ExctgPrsn")
    if row.get("execution_within_firm"):
        _sub(executing, "Algo", row["execution_within_firm"])
    else:
        _sub(executing, "Clnt", "NORE")  # no person or algorithm of the firm decided
    extra = _sub(new, "AddtlAttrbts")
    if row.get("waiver"):
        _sub(extra, "WvrInd", row["waiver"])
    if row.get("short_selling"):
        _sub(extra, "ShrtSellgInd", row["short_selling"])
    if row.get("otc_post_trade"):
        _sub(extra, "OTCPstTradInd", row["otc_post_trade"])
    if row.get("commodity_derivative"):
        _sub(extra, "RskRdcgTx", row["commodity_derivative"].lower())
    _sub(extra, "SctiesFincgTxInd", (row.get("sft") or "false").lower())


def _cancel(parent: etree._Element, row: Mapping[str, str]) -> None:
    cxl = _sub(parent, "Cxl")
    _sub(cxl, "TxId", row["trade_id"])
    _sub(cxl, "ExctgPty", row["executing_entity_lei"])
    _sub(
        _sub(cxl, "SubmitgPty"),
        "LEI",
        row.get("submitting_entity_lei") or row["executing_entity_lei"],
    )


def _schema() -> etree.XMLSchema:
    source = resources.files("riskstream.regulatory.reporting").joinpath(STRUCTURE_XSD)
    return etree.XMLSchema(etree.fromstring(source.read_bytes()))


#: The structural schema every written document is validated against.
STRUCTURE_XSD = "auth016_structure.xsd"


def build_report(
    rows: Iterable[Mapping[str, str]], *, now: dt.datetime | None = None
) -> MifirReport:
    """Validate ``rows`` (one mapping of column → text per transaction) and write the valid
    ones as an ``auth.016.001.01`` document.

    A transaction reference number is reported once per status: a second ``NEWT`` under a
    number already reported as ``NEWT`` in the file is rejected (``TRN-UNIQUE``) unless a
    ``CANC`` of it came in between — that pair is a correction.
    """
    rows = list(rows)
    if rows:
        missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
        if missing:
            raise InputError("columns", sorted(rows[0]), f"the columns {', '.join(missing)} too")
    now = now or dt.datetime.now(dt.UTC)
    document = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    body = _sub(document, "FinInstrmRptgTxRpt")
    live: set[str] = set()  # numbers with a NEWT standing
    reported: list[str] = []
    rejected: list[Rejection] = []
    for row in rows:
        row = {k: (v or "").strip() for k, v in row.items()}
        rejection = _check(row, now)
        status = row.get("report_status") or "NEWT"
        if rejection is None and status == "NEWT" and row["trade_id"] in live:
            rejection = Rejection(
                row["trade_id"], "trade_id", row["trade_id"], f"TRN-UNIQUE: {RULES['TRN-UNIQUE']}"
            )
        if rejection is not None:
            rejected.append(rejection)
            continue
        tx = _sub(body, "Tx")
        if status == "CANC":
            _cancel(tx, row)
            live.discard(row["trade_id"])
        else:
            _new(tx, row)
            live.add(row["trade_id"])
        reported.append(row["trade_id"])
    if reported:
        _schema().assertValid(document)
    xml = etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return MifirReport(xml=xml, reported=tuple(reported), rejected=tuple(rejected))
