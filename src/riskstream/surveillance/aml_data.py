"""AML file formats: transactions, account reference data and labels, loaded with validation.

Transactions (CSV, one row per payment; docs/architecture.md "Surveillance" documents it)::

    tx_id, ts, from_account, to_account, amount, currency, channel

- ``ts``: ISO-8601 date-time, UTC (``2026-01-05T14:03:00``; a trailing ``Z`` is accepted);
- ``amount``: positive, finite, in ``currency`` (a 3-letter ISO-4217 code);
- ``channel``: one of ``wire, transfer, card, cash``;
- a cash **deposit** has an empty ``from_account`` (the money enters from outside the
  bank), a cash **withdrawal** an empty ``to_account``; every other row names both.

Accounts (CSV, optional): ``account, customer, segment, country, risk_rating`` with
``segment`` in ``retail, business, correspondent``, ``country`` an ISO-3166 alpha-2 code and
``risk_rating`` in ``low, medium, high`` (the customer's KYC rating).

Labels (CSV): ``account, is_suspicious`` (``1/0``, ``true/false``); extra columns (e.g. the
typology) are kept.

Bad input: a missing column raises :class:`InputError`; a bad *record* is quarantined with
its row number, field, value and what was expected, counted, and never silently dropped
(the caller reports the quarantine); a file whose every record is bad raises
:class:`LoadError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from riskstream.core.errors import InputError, LoadError

TRANSACTION_COLUMNS = ("tx_id", "ts", "from_account", "to_account", "amount", "currency", "channel")
CHANNELS = ("wire", "transfer", "card", "cash")
ACCOUNT_COLUMNS = ("account", "customer", "segment", "country", "risk_rating")
SEGMENTS = ("retail", "business", "correspondent")
RISK_RATINGS = ("low", "medium", "high")
LABEL_COLUMNS = ("account", "is_suspicious")
QUARANTINE_SCHEMA = {
    "row": pl.Int64,
    "field": pl.String,
    "value": pl.String,
    "expected": pl.String,
}


@dataclass(frozen=True)
class Loaded:
    """A validated table and the records quarantined out of it.

    ``quarantine`` has one row per bad record: ``row`` (1-based data row of the file),
    ``field``, ``value`` and ``expected``; ``source`` names the file.
    """

    frame: pl.DataFrame
    quarantine: pl.DataFrame
    source: str

    @property
    def n_quarantined(self) -> int:
        return self.quarantine.height

    def summary(self) -> dict[str, object]:
        reasons = (
            self.quarantine.group_by("field").len().sort("field").rows()
            if self.n_quarantined
            else []
        )
        return {
            "source": self.source,
            "loaded": self.frame.height,
            "quarantined": self.n_quarantined,
            "quarantine_by_field": dict(reasons),
        }


def _read_csv(path: Path | str, required: tuple[str, ...], what: str) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError(what, str(path), "an existing CSV file")
    frame = pl.read_csv(path, infer_schema=False)  # every column as text: we validate
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            "columns", frame.columns, f"a header with {', '.join(required)} (missing {missing})"
        )
    return frame.with_row_index("_row", offset=1)


def _quarantine(frame: pl.DataFrame, checks: list[tuple[str, pl.Expr, str]], source: str) -> Loaded:
    """Split ``frame`` by ``checks`` (field, *bad* mask, expected); the first failing check
    names a record's reason."""
    reason_field = pl.lit(None, dtype=pl.String)
    reason_expected = pl.lit(None, dtype=pl.String)
    for field, bad, expected in reversed(checks):
        reason_field = pl.when(bad).then(pl.lit(field)).otherwise(reason_field)
        reason_expected = pl.when(bad).then(pl.lit(expected)).otherwise(reason_expected)
    tagged = frame.with_columns(_field=reason_field, _expected=reason_expected)
    bad = tagged.filter(pl.col("_field").is_not_null())
    quarantine = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    if bad.height:
        values = [
            str(raw.get(field)) for raw, field in zip(bad.to_dicts(), bad["_field"], strict=True)
        ]
        quarantine = pl.DataFrame(
            {
                "row": bad["_row"].cast(pl.Int64),
                "field": bad["_field"],
                "value": values,
                "expected": bad["_expected"],
            },
            schema=QUARANTINE_SCHEMA,
        )
    good = tagged.filter(pl.col("_field").is_null()).drop("_field", "_expected", "_row")
    if good.height == 0 and frame.height > 0:
        errors = [
            InputError(r["field"], r["value"], r["expected"], f"{source}:{r['row']}")
            for r in quarantine.head(50).to_dicts()
        ]
        raise LoadError(source, errors)
    return Loaded(good, quarantine, source)


def _blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).str.strip_chars() == "")


def parse_transactions(frame: pl.DataFrame, source: str = "transactions") -> Loaded:
    """Validate a text frame with the transaction columns (see the module docstring).

    Returns the valid rows typed as ``tx_id, from_account, to_account, currency, channel``
    (String; a blank account is null), ``ts`` (Datetime[ns], UTC-naive), ``amount``
    (Float64), sorted by ``ts``.
    """
    if "_row" not in frame.columns:
        frame = frame.with_row_index("_row", offset=1)
    text = frame.with_columns(
        [pl.col(c).cast(pl.String).str.strip_chars() for c in TRANSACTION_COLUMNS]
    ).with_columns(
        _amount=pl.col("amount").cast(pl.Float64, strict=False),
        _ts=pl.col("ts")
        .str.strip_suffix("Z")
        .str.to_datetime(time_unit="ns", strict=False, ambiguous="earliest"),
        channel=pl.col("channel").str.to_lowercase(),
        currency=pl.col("currency").str.to_uppercase(),
    )
    cash = pl.col("channel") == "cash"
    checks = [
        ("tx_id", _blank("tx_id"), "a non-empty transaction id"),
        ("ts", pl.col("_ts").is_null(), "an ISO-8601 date-time such as 2026-01-05T14:03:00"),
        (
            "amount",
            pl.col("_amount").is_null() | ~pl.col("_amount").is_finite() | (pl.col("_amount") <= 0),
            "a positive finite number",
        ),
        ("currency", ~pl.col("currency").str.contains(r"^[A-Z]{3}$"), "a 3-letter ISO code"),
        ("channel", ~pl.col("channel").is_in(CHANNELS), "one of " + ", ".join(CHANNELS)),
        (
            "from_account",
            _blank("from_account") & (~cash | _blank("to_account")),
            "an account (blank only for a cash deposit)",
        ),
        ("to_account", _blank("to_account") & ~cash, "an account (blank only for cash)"),
        (
            "to_account",
            pl.col("from_account") == pl.col("to_account"),
            "an account other than from_account",
        ),
    ]
    loaded = _quarantine(text, checks, source)
    good = (
        loaded.frame.with_columns(
            ts=pl.col("_ts"),
            amount=pl.col("_amount"),
            from_account=pl.when(_blank("from_account")).then(None).otherwise("from_account"),
            to_account=pl.when(_blank("to_account")).then(None).otherwise("to_account"),
        )
        .select(TRANSACTION_COLUMNS)
        .sort("ts", maintain_order=True)
    )
    return Loaded(good, loaded.quarantine, source)


def load_transactions(path: Path | str) -> Loaded:
    """Read and validate a transactions CSV (module docstring)."""
    frame = _read_csv(path, TRANSACTION_COLUMNS, "--transactions")
    return parse_transactions(frame, str(path))


def load_accounts(path: Path | str) -> Loaded:
    """Read and validate an accounts CSV: ``account, customer, segment, country, risk_rating``."""
    frame = _read_csv(path, ACCOUNT_COLUMNS, "--accounts").with_columns(
        pl.col("segment").str.strip_chars().str.to_lowercase(),
        pl.col("risk_rating").str.strip_chars().str.to_lowercase(),
        pl.col("country").str.strip_chars().str.to_uppercase(),
        pl.col("account").str.strip_chars(),
    )
    checks = [
        ("account", _blank("account"), "a non-empty account id"),
        ("account", pl.col("account").is_duplicated(), "an account listed once"),
        ("segment", ~pl.col("segment").is_in(SEGMENTS), "one of " + ", ".join(SEGMENTS)),
        ("country", ~pl.col("country").str.contains(r"^[A-Z]{2}$"), "an ISO-3166 alpha-2 code"),
        (
            "risk_rating",
            ~pl.col("risk_rating").is_in(RISK_RATINGS),
            "one of " + ", ".join(RISK_RATINGS),
        ),
    ]
    loaded = _quarantine(frame, checks, str(path))
    return Loaded(loaded.frame.select(ACCOUNT_COLUMNS), loaded.quarantine, str(path))


_TRUE = ("1", "true", "yes", "y", "t")
_FALSE = ("0", "false", "no", "n", "f")


def load_labels(path: Path | str) -> Loaded:
    """Read and validate a labels CSV: ``account, is_suspicious`` (1/0 or true/false)."""
    frame = _read_csv(path, LABEL_COLUMNS, "--labels").with_columns(
        pl.col("account").str.strip_chars(),
        _flag=pl.col("is_suspicious").str.strip_chars().str.to_lowercase(),
    )
    checks = [
        ("account", _blank("account"), "a non-empty account id"),
        ("account", pl.col("account").is_duplicated(), "an account labelled once"),
        (
            "is_suspicious",
            ~pl.col("_flag").is_in(_TRUE + _FALSE),
            "1/0 or true/false",
        ),
    ]
    loaded = _quarantine(frame, checks, str(path))
    good = loaded.frame.with_columns(is_suspicious=pl.col("_flag").is_in(_TRUE)).drop("_flag")
    return Loaded(good, loaded.quarantine, str(path))
