"""Sensitivities in a CRIF-style file (the industry's common risk interchange shape).

One row per sensitivity, columns ``risk_type, qualifier, bucket, label1, label2, amount,
amount_currency`` (CSV with a header; extra columns are ignored):

============== ============ =========== ===================== =========================
risk_type      qualifier    bucket      label1                label2
============== ============ =========== ===================== =========================
GIRR_DELTA     currency     (unused)    tenor 3m..30y         curve name
GIRR_INFLATION currency     (unused)    (empty)               inflation curve name
GIRR_XCCY      currency     (unused)    (empty)               basis curve name
GIRR_VEGA      currency     (unused)    option maturity       underlying maturity
CSR_DELTA      issuer       1-18        tenor 6m,1y,3y,5y,10y curve: bond or cds
CSR_VEGA       issuer       1-18        option maturity
EQ_DELTA       issuer/index 1-13        spot or repo
EQ_VEGA        issuer/index 1-13        option maturity
COMM_DELTA     commodity    1-11        tenor 0,3m..30y       delivery location
COMM_VEGA      commodity    1-11        option maturity
FX_DELTA       currency     (unused)
FX_VEGA        currency     (unused)    option maturity
\\*_CURV       as delta     as delta    up or down
============== ============ =========== ===================== =========================

Vega option maturities are ``6m, 1y, 3y, 5y, 10y`` (MAR21.8-21.14), a GIRR vega underlying
maturity any ``<n>m``/``<n>y``. Units (MAR21.19-21.25): GIRR and CSR delta per 1 bp
(``(V(r + 1bp) - V(r)) / 0.0001``); equity, commodity and FX delta per relative move
(``(V(1.01 x) - V(x)) / 0.01``); equity repo per 1 bp; vega ``vega x implied vol``;
curvature rows carry the net curvature charge ``CVR_k`` of MAR21.5(2) (loss positive) of
the upward (``up``) or downward (``down``) shock. FX delta and curvature rows are against the
reporting currency.

``amount`` is in ``amount_currency`` and converted to the reporting currency here, with
rates from :func:`riskstream.core.fx.rates_to_base` (the caller passes the units of reporting
currency per unit of each currency). A bad row is quarantined with its reason, never dropped
silently: :func:`read_crif` returns the good rows and the list of bad ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from riskstream.core.errors import InputError
from riskstream.regulatory.sa.params import sbm
from riskstream.regulatory.sa.sbm import RISK_TYPES

COLUMNS: tuple[str, ...] = (
    "risk_type",
    "qualifier",
    "bucket",
    "label1",
    "label2",
    "amount",
    "amount_currency",
)
_MATURITY = re.compile(r"^\d+(\.\d+)?[my]$")
_CCY = re.compile(r"^[A-Z]{3}$")


def _check_row(row: dict[str, Any], reporting: str) -> None:
    """Raise :class:`InputError` naming the field when ``row`` is not a valid CRIF row."""
    p = sbm()
    rt = row["risk_type"]
    if rt not in RISK_TYPES:
        raise InputError("risk_type", rt, f"one of {', '.join(RISK_TYPES)}")
    rc, measure = RISK_TYPES[rt]
    amount = row["amount"]
    if amount is None or not math.isfinite(amount):
        raise InputError("amount", amount, "a finite number")
    if not _CCY.match(row["amount_currency"] or ""):
        raise InputError("amount_currency", row["amount_currency"], "an ISO 4217 code")
    q = row["qualifier"]
    if not q:
        raise InputError("qualifier", q, "a risk factor name (currency, issuer, commodity)")
    if rc in ("GIRR", "FX") and not _CCY.match(q):
        raise InputError("qualifier", q, f"a currency code for {rt}")
    if rc == "FX" and q == reporting:
        raise InputError("qualifier", q, "a currency other than the reporting currency")
    buckets = {"CSR_NONSEC": 18, "EQ": 13, "COMM": 11}
    if rc in buckets:
        b = row["bucket"]
        if not (b or "").isdigit() or not 1 <= int(b) <= buckets[rc]:
            raise InputError("bucket", b, f"a bucket number 1-{buckets[rc]} for {rt}")
    l1 = row["label1"]
    if measure == "curvature":
        if l1 not in ("up", "down"):
            raise InputError("label1", l1, f"up or down for {rt}")
        return
    if measure == "vega":
        labels = p["vega"]["option_maturity_labels"]
        if l1 not in labels:
            raise InputError("label1", l1, f"an option maturity, one of {', '.join(labels)}")
        if rc == "GIRR" and not _MATURITY.match(row["label2"] or ""):
            raise InputError("label2", row["label2"], "an underlying maturity such as 5y")
        return
    tenors = {
        "GIRR_DELTA": p["girr"]["tenor_labels"],
        "CSR_DELTA": p["csr"]["tenor_labels"],
        "COMM_DELTA": p["commodity"]["tenor_labels"],
        "EQ_DELTA": ["spot", "repo"],
    }.get(rt)
    if tenors is not None and l1 not in tenors:
        raise InputError("label1", l1, f"one of {', '.join(tenors)} for {rt}")
    if rt == "CSR_DELTA" and row["label2"] not in ("bond", "cds"):
        raise InputError("label2", row["label2"], "bond or cds (the credit spread curve)")
    if rt in ("GIRR_DELTA", "GIRR_INFLATION", "GIRR_XCCY") and not row["label2"]:
        raise InputError("label2", row["label2"], f"the curve name for {rt}")


def normalise_crif(
    frame: pl.DataFrame,
    reporting_currency: str,
    fx_to_reporting: Mapping[str, float],
    source: str = "crif",
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Validate CRIF rows and convert ``amount`` to the reporting currency.

    Parameters
    ----------
    frame : polars.DataFrame
        The columns of :data:`COLUMNS` (``amount`` numeric, the rest text).
    reporting_currency : str
    fx_to_reporting : mapping of str to float
        Units of reporting currency per unit of each ``amount_currency`` (the reporting
        currency itself need not be listed).
    source : str
        Named in each quarantined row's location (``source:line``).

    Returns
    -------
    rows : polars.DataFrame
        The valid rows, ``amount`` in the reporting currency, ``amount_currency`` dropped.
    quarantined : list of dict
        One :meth:`InputError.as_dict` per bad row (its line number in the location).
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError("columns", frame.columns, f"the CRIF columns {', '.join(COLUMNS)}")
    text = [c for c in COLUMNS if c != "amount"]
    frame = frame.select(
        *[pl.col(c).cast(pl.String).fill_null("").str.strip_chars() for c in text],
        pl.col("amount").cast(pl.Float64, strict=False),
    )
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    rates = {reporting_currency: 1.0, **fx_to_reporting}
    for i, row in enumerate(frame.iter_rows(named=True)):
        where = f"{source}:{i + 2}"  # header is line 1
        try:
            _check_row(row, reporting_currency)
            ccy = row["amount_currency"]
            if ccy not in rates:
                raise InputError(
                    "amount_currency", ccy, f"a currency with an FX rate to {reporting_currency}"
                )
        except InputError as exc:
            exc.location = where
            bad.append(exc.as_dict())
            continue
        row["amount"] = row["amount"] * rates[ccy]
        good.append(row)
    schema = {c: pl.String for c in text} | {"amount": pl.Float64}
    rows = pl.DataFrame(good, schema=schema, orient="row").drop("amount_currency")
    return rows, bad


def read_crif_frame(path: Path) -> pl.DataFrame:
    """The raw columns of a CRIF CSV file (all text but ``amount``)."""
    if not Path(path).is_file():
        raise InputError("--crif", str(path), "an existing CRIF CSV file")
    frame = pl.read_csv(path, infer_schema=False)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError("columns", frame.columns, f"a header with {', '.join(COLUMNS)}", str(path))
    return frame


def crif_currencies(frame: pl.DataFrame) -> list[str]:
    """The distinct ``amount_currency`` codes of a CRIF frame."""
    return sorted(c for c in frame["amount_currency"].drop_nulls().unique().to_list() if c)
