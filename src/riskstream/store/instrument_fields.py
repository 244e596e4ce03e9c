"""The columns of an instruments file, their parsers, the per-class rules (references,
defaults) and the FX rates of its currencies (see :mod:`riskstream.store.instrument_loader`
for the format and the defaults)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from riskstream.core.errors import InputError, LoadError
from riskstream.core.fx import conversion_paths, pair_symbol, rates_to_base, split_pair
from riskstream.core.instruments import ASSET_CLASSES

COMMON = ("symbol", "asset_class", "currency", "multiplier")
CLASS_FIELDS: dict[str, tuple[str, ...]] = {
    "equity": ("dividend_yield",),
    "future": ("underlying", "expiry"),
    "option": ("underlying", "strike", "expiry", "right", "exercise"),
    "fx": ("base", "quote", "expiry"),
    "bond": ("coupon", "maturity", "frequency", "issuer"),
}
"""Fields that apply only to some classes."""
REQUIRED: dict[str, tuple[str, ...]] = {
    "equity": (),
    "future": ("expiry",),
    "option": ("underlying", "strike", "expiry", "right", "exercise"),
    "fx": ("base",),
    "bond": ("coupon", "maturity", "frequency"),
}
OPTIONAL = (
    "sector",
    "country",
    "exchange",
    "rating",
    "tick_size",
    "lot_size",
    "adv",
    "spread_bps",
    "ref_price",
)
COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(COMMON + OPTIONAL + tuple(f for fs in CLASS_FIELDS.values() for f in fs))
)
"""Every column an instruments file may use."""

LIQUIDITY_DEFAULTS: dict[str, dict[str, float]] = {
    # Placeholders of the right order of magnitude (a mid-cap share; a liquid index future; a
    # listed single-name option, spread ~1.5 % of premium; a major currency pair, units of
    # base currency; a benchmark bond, units of 1,000 face).
    "equity": {"adv": 1_000_000.0, "spread_bps": 5.0},
    "future": {"adv": 100_000.0, "spread_bps": 1.0},
    "option": {"adv": 1_000.0, "spread_bps": 150.0},
    "fx": {"adv": 1e9, "spread_bps": 1.0},
    "bond": {"adv": 10_000.0, "spread_bps": 20.0},
}
"""Typical ADV (units) and bid-ask spread (bps of mid) by class, used when a file has none."""
TICK_LOT_DEFAULTS: dict[str, tuple[float, float]] = {
    "equity": (0.01, 1.0),
    "future": (0.01, 1.0),
    "option": (0.01, 1.0),
    "fx": (0.0001, 1000.0),
    "bond": (0.001, 1.0),
}

_LIMITS = {"symbol": 64, "sector": 64, "exchange": 16, "rating": 8}  # reference DB widths


# ---------------------------------------------------------------------------- field parsers


class _BadValueError(Exception):
    def __init__(self, expected: str):
        self.expected = expected


def _text(value: Any, limit: int = 64) -> str:
    text = str(value).strip()
    if not text or len(text) > limit:
        raise _BadValueError(f"a text of 1 to {limit} characters")
    return text


def _number(
    value: Any,
    *,
    low: float = 0.0,
    low_open: bool = True,
    high: float | None = None,
    what: str = "a positive number",
) -> float:
    if isinstance(value, bool):
        raise _BadValueError(what)
    try:
        x = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise _BadValueError(what) from None
    if not math.isfinite(x) or x < low or (low_open and x == low):
        raise _BadValueError(what)
    if high is not None and x >= high:
        raise _BadValueError(what)
    return x


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise _BadValueError("a date YYYY-MM-DD") from None


def _code(value: Any, n: int, what: str) -> str:
    text = str(value).strip().upper()
    if len(text) != n or not text.isalpha() or not text.isascii():
        raise _BadValueError(what)
    return text


def _currency(value: Any) -> str:
    return _code(value, 3, "an ISO 4217 currency code (3 letters)")


def _choice(value: Any, choices: Mapping[str, str], what: str) -> str:
    key = str(value).strip().lower()
    if key not in choices:
        raise _BadValueError(what)
    return choices[key]


_RIGHTS = {"call": "C", "c": "C", "put": "P", "p": "P"}
_EXERCISE = {"european": "european", "american": "american"}
_PARSERS: dict[str, Any] = {
    "multiplier": lambda v: _number(v),
    "strike": lambda v: _number(v),
    "tick_size": lambda v: _number(v),
    "lot_size": lambda v: _number(v),
    "adv": lambda v: _number(v),
    "ref_price": lambda v: _number(v),
    "spread_bps": lambda v: _number(v, low_open=False, what="a number >= 0"),
    "coupon": lambda v: _number(
        v,
        low_open=False,
        high=1.0,
        what="an annual rate as a fraction of face, 0 <= coupon < 1 (0.0425 for 4.25 %)",
    ),
    "dividend_yield": lambda v: _number(
        v, low_open=False, high=1.0, what="a continuous annual yield, 0 <= q < 1 (0.02 for 2 %)"
    ),
    "frequency": lambda v: _choice(
        v,
        {"1": 1, "2": 2, "4": 4, "12": 12, "1.0": 1, "2.0": 2, "4.0": 4, "12.0": 12},
        "coupons a year: 1, 2, 4 or 12",
    ),
    "expiry": _date,
    "maturity": _date,
    "right": lambda v: _choice(v, _RIGHTS, "call or put (C or P)"),
    "exercise": lambda v: _choice(v, _EXERCISE, "european or american"),
    "currency": _currency,
    "base": _currency,
    "quote": _currency,
    "country": lambda v: _code(v, 2, "an ISO 3166 alpha-2 country code (2 letters)"),
    "asset_class": lambda v: _choice(
        v, {c: c for c in ASSET_CLASSES}, f"one of {', '.join(ASSET_CLASSES)}"
    ),
}


def parse_row(row: dict[str, Any], where: str, errors: list[InputError]) -> dict[str, Any]:
    """Every field of one row parsed, or errors; fields that fail are left out."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name not in COLUMNS:
            errors.append(InputError(name, value, f"only the columns {', '.join(COLUMNS)}", where))
            continue
        try:
            parse = _PARSERS.get(name)
            out[name] = parse(value) if parse else _text(value, _LIMITS.get(name, 64))
        except _BadValueError as bad:
            errors.append(InputError(name, value, bad.expected, where))
    return out


EXPECTED_WHEN_MISSING = {
    "symbol": "a symbol (1 to 64 characters)",
    "asset_class": f"one of {', '.join(ASSET_CLASSES)}",
    "currency": "an ISO 4217 currency code (3 letters)",
    "multiplier": "a positive number",
    "underlying": "the symbol of an instrument in this file or already stored",
    "strike": "a positive number",
    "expiry": "a date YYYY-MM-DD",
    "right": "call or put (C or P)",
    "exercise": "european or american",
    "base": "an ISO 4217 currency code (3 letters)",
    "coupon": "an annual rate as a fraction of face, 0 <= coupon < 1 (0.0425 for 4.25 %)",
    "maturity": "a date YYYY-MM-DD",
    "frequency": "coupons a year: 1, 2, 4 or 12",
}


def check_class(
    row: dict[str, Any], rec: dict[str, Any], cls: str, where: str, errors: list[InputError]
) -> None:
    """Required fields of the row's class present; fields of other classes absent."""
    article = "an" if cls[0] in "aeiou" else "a"
    required = ["symbol", "asset_class", "multiplier", *REQUIRED[cls]]
    required += ["quote"] if cls == "fx" and "currency" not in row else ["currency"]
    for name in required:
        if name not in row:
            expected = EXPECTED_WHEN_MISSING.get(name, "an ISO 4217 currency code (3 letters)")
            errors.append(
                InputError(name, None, f"{expected} (required for {article} {cls})", where)
            )
    own = set(CLASS_FIELDS[cls])
    for name in row:
        classes = [c for c, fs in CLASS_FIELDS.items() if name in fs]
        if classes and name not in own:
            errors.append(
                InputError(
                    name,
                    row[name],
                    f"no value for {article} {cls} ({name} applies to "
                    f"{' and '.join(c + 's' for c in classes)})",
                    where,
                )
            )
    if cls == "fx" and "quote" in rec and "currency" in rec and rec["quote"] != rec["currency"]:
        errors.append(
            InputError(
                "currency",
                rec["currency"],
                f"the quote currency {rec['quote']} (or no currency)",
                where,
            )
        )
    if cls == "fx" and "base" in rec and rec["base"] == rec.get("quote", rec.get("currency")):
        errors.append(InputError("base", rec["base"], "a currency other than the quote", where))
    if cls == "bond" and "issuer" in rec and "sector" in rec:
        errors.append(
            InputError(
                "issuer",
                rec["issuer"],
                "issuer or sector, not both: a bond's issuer "
                "is kept in its sector as corporate:<issuer>",
                where,
            )
        )


def currency_rates(
    instruments: pl.DataFrame,
    closes: pl.DataFrame,
    base: str,
    stored: dict[str, float],
    source: str,
) -> dict[str, dict[str, Any]]:
    """Each currency's value in ``base``: latest stored FX closes, else the stored rate."""
    wanted = set(instruments["currency"].to_list())
    wanted |= set(instruments["base_currency"].drop_nulls().to_list())
    wanted |= set(stored) | {base}
    currencies = sorted(wanted)
    prices = {
        s: float(c)
        for s, c in zip(closes["symbol"].to_list(), closes["close"].to_list(), strict=True)
        if split_pair(s) is not None and c is not None and c > 0
    }
    paths = conversion_paths(prices, currencies, base)
    convertible = [c for c in currencies if paths[c] is not None]
    live = rates_to_base(prices, convertible, base) if convertible else {}
    out: dict[str, dict[str, Any]] = {}
    errors = []
    for c in currencies:
        if c == base:
            out[c] = {"rate": 1.0, "source": "base"}
        elif c in live:
            out[c] = {"rate": live[c], "source": "history", "pairs": [s for s, _ in paths[c] or ()]}
        elif c in stored:
            out[c] = {"rate": stored[c], "source": "stored"}
        else:
            errors.append(
                InputError(
                    "currency",
                    c,
                    f"an FX rate to {base}: load the history of "
                    f"{pair_symbol(c, base)} or {pair_symbol(base, c)} (or pairs "
                    "linking it to another currency) first (riskstream history load)",
                    source,
                )
            )
    if errors:
        raise LoadError(source, errors)
    return out


def _close(last_close: dict[str, float], symbol: str) -> bool:
    """Whether the history store holds a positive close for ``symbol``."""
    value = last_close.get(symbol)
    return value is not None and value > 0


def instrument_record(
    rec: dict[str, Any],
    ids: dict[str, int],
    referable: dict[str, int],
    class_of: dict[str, str],
    last_close: dict[str, float],
    as_of: dt.date,
    replace: bool,
    where: str,
    errors: list[InputError],
    defaults: dict[str, int],
) -> dict[str, Any]:
    """The :class:`Instrument` fields of one parsed row: references resolved, defaults set."""
    cls, symbol = rec["asset_class"], rec["symbol"]
    out: dict[str, Any] = {
        "instrument_id": ids[symbol],
        "symbol": symbol,
        "asset_class": cls,
        "currency": rec.get("currency", rec.get("quote")),
        "multiplier": rec["multiplier"],
    }
    for name in (
        "sector",
        "rating",
        "expiry",
        "strike",
        "right",
        "exercise",
        "coupon",
        "maturity",
        "dividend_yield",
    ):
        if name in rec:
            out[name] = rec[name]
    if "frequency" in rec:
        out["coupon_frequency"] = rec["frequency"]
    if "base" in rec:
        out["base_currency"] = rec["base"]

    def default(name: str, value: Any) -> None:
        if name in rec:
            out[name] = rec[name]
        else:
            out[name] = value
            defaults[name] = defaults.get(name, 0) + 1

    default("country", out["currency"][:2])
    default("exchange", "OTC" if cls in ("fx", "bond") else "XXXX")
    tick, lot = TICK_LOT_DEFAULTS[cls]
    default("tick_size", tick)
    default("lot_size", lot)
    default("adv", LIQUIDITY_DEFAULTS[cls]["adv"])
    default("spread_bps", LIQUIDITY_DEFAULTS[cls]["spread_bps"])
    # A future with no close of its own is marked at its underlying series' close: the basis
    # (carry to expiry, under 1 % for an index future a few months out) is ignored.
    series = rec.get("underlying") if cls == "future" else None
    price_of = symbol if _close(last_close, symbol) else series
    if "ref_price" in rec:
        out["ref_price"] = rec["ref_price"]
    elif price_of is not None and _close(last_close, price_of):
        out["ref_price"] = float(last_close[price_of])
        defaults["ref_price"] = defaults.get("ref_price", 0) + 1
    else:
        errors.append(
            InputError(
                "ref_price",
                None,
                f"a positive price, or a stored close for "
                f"{symbol}: load its history first (riskstream history load)",
                where,
            )
        )
    if cls == "bond" and "issuer" in rec:
        out["sector"] = f"corporate:{rec['issuer']}"[:64]
        defaults["sector"] = defaults.get("sector", 0) + 1

    underlying = rec.get("underlying")
    if underlying is not None:
        if underlying in referable and underlying != symbol:
            if cls == "option" and class_of.get(underlying) == "option":
                errors.append(
                    InputError(
                        "underlying", underlying, "an instrument that is not an option", where
                    )
                )
            out["underlying_id"] = referable[underlying]
        elif cls == "future" and underlying not in class_of and underlying in last_close:
            if "sector" in rec:
                errors.append(
                    InputError(
                        "sector",
                        rec["sector"],
                        f"no sector: a future's sector holds its underlying series {underlying}",
                        where,
                    )
                )
            out["sector"] = underlying
            defaults["sector"] = defaults.get("sector", 0) + 1
        else:
            scope = "in this file" if replace else "in this file or already stored"
            expected = f"the symbol of an instrument {scope}"
            if cls == "future":
                expected += ", or a price series in the history store (riskstream history load)"
            errors.append(InputError("underlying", underlying, expected, where))
    for name in ("expiry", "maturity"):
        if name in out and out[name] <= as_of:
            errors.append(
                InputError(
                    name,
                    out[name].isoformat(),
                    f"a date after the as-of date {as_of.isoformat()}",
                    where,
                )
            )
    return out
