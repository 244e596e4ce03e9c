"""The five public FX-rate APIs: each one's request and the parser of its response shape.

Every parser turns one raw response (bytes, as fetched and saved) into
:class:`SourceQuotes`: the source's base currency, the time its rates are *for* (the
source's own stamp, not the fetch time), and its rates as units of each currency per one
unit of that base. A response that is not what its API documents (malformed JSON or XML,
an error envelope, a missing field) raises :class:`~riskstream.core.errors.InputError`
naming the file, the field, the value and what was expected; a single bad rate (zero,
negative, not a number) is kept aside in ``invalid`` so the other currencies still count.

Shapes (as documented by each provider)
---------------------------------------
``ecb.xml``               ECB ``eurofxref-daily.xml``: a ``gesmes:Envelope`` whose
                          ``Cube/Cube[@time]`` holds ``Cube[@currency, @rate]`` rows, EUR base.
``frankfurter.json``      ``{"amount": 1.0, "base": "EUR", "date": "YYYY-MM-DD", "rates": {…}}``
                          (Frankfurter republishes the ECB rates).
``open-er-api.json``      ``{"result": "success", "base_code": "USD",
                          "time_last_update_unix": …, "time_next_update_unix": …, "rates": {…}}``
``exchangerate-host.json`` ``{"success": true, "timestamp": …, "source": "USD",
                          "quotes": {"USDEUR": …}}``; errors are ``{"success": false,
                          "error": {"code", "type", "info"}}``.
``currency-api.json``     fawazahmed0's ``{"date": "YYYY-MM-DD", "usd": {"eur": …}}``, lower-case
                          codes (also crypto tokens and metals, which :data:`ISO` filters out).

Time stamps: the ECB fixes its reference rates at the 14:10 CET concertation between central
banks (published around 16:00 CET), so an ECB or Frankfurter date means 14:10 Europe/Berlin
that day; currency-api's date is its daily build, taken as 00:00 UTC; the other two give a
Unix time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from riskstream.core.clock import NS_PER_S
from riskstream.core.errors import InputError

ISO = re.compile(r"^[A-Z]{3}$")
"""An ISO 4217-shaped code (three letters); longer token names are not currencies here."""

ECB_FIXING = dt.time(14, 10)
ECB_ZONE = ZoneInfo("Europe/Berlin")
_ECB_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"


@dataclass(frozen=True, slots=True)
class SourceQuotes:
    """One source's rates as parsed from one response.

    Attributes
    ----------
    source : str
        The source's name (:data:`SOURCES` key).
    base : str
        The currency the rates are quoted against.
    ts_ns : int
        The time the rates are for (ns since the epoch, UTC), from the response itself.
    rates : dict of str to float
        Units of each currency per one unit of ``base`` (``base`` itself not listed).
    invalid : dict of str to str
        Currencies whose rate was present but unusable, with the reason.
    next_ns : int, optional
        When the source says its next update is due (open.er-api), so a poller need not
        ask before.
    """

    source: str
    base: str
    ts_ns: int
    rates: dict[str, float]
    invalid: dict[str, str] = field(default_factory=dict)
    next_ns: int | None = None


def _fail(file: str, what: str, value: Any, expected: str) -> InputError:
    shown = value if not isinstance(value, bytes | str) or len(value) <= 80 else value[:80]
    return InputError(what, shown, expected, location=file)


def _json(body: bytes, file: str) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(file, "body", body, f"a JSON document ({exc})") from None


def _object(doc: Any, key: str, file: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise _fail(file, key, keys, f"a '{key}' member (the API's documented response)")
    return doc[key]


def _code(value: Any, what: str, file: str) -> str:
    if not isinstance(value, str) or not ISO.match(value.upper()):
        raise _fail(file, what, value, "a three-letter currency code")
    return value.upper()


def _date_ns(value: Any, what: str, file: str, at: dt.time, zone: dt.tzinfo) -> int:
    try:
        day = dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _fail(file, what, value, "a date as YYYY-MM-DD") from None
    return int(dt.datetime.combine(day, at, zone).timestamp()) * NS_PER_S


def _unix_ns(value: Any, what: str, file: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _fail(file, what, value, "a Unix time in seconds (a positive integer)")
    return value * NS_PER_S


def _rates(
    raw: Any, what: str, file: str, key: Callable[[str], str | None]
) -> tuple[dict[str, float], dict[str, str]]:
    """Split a code -> number mapping into usable rates and invalid ones; ``key`` maps a
    raw key to a currency code (None: not a currency, skipped)."""
    if not isinstance(raw, dict) or not raw:
        raise _fail(file, what, type(raw).__name__, "a non-empty object of currency rates")
    rates: dict[str, float] = {}
    invalid: dict[str, str] = {}
    for k, v in raw.items():
        code = key(k)
        if code is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            invalid[code] = f"rate {v!r} is not a positive finite number"
        else:
            rates[code] = float(v)
    return rates, invalid


def _iso_key(k: str) -> str | None:
    return k.upper() if isinstance(k, str) and ISO.match(k.upper()) else None


def parse_ecb(body: bytes, file: str = "ecb.xml") -> SourceQuotes:
    """The ECB's ``eurofxref-daily.xml`` (EUR base)."""
    # The standard library's expat refuses external entities and bounds entity expansion
    # (expat >= 2.4.1), which is what a hostile XML response would try.
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise _fail(file, "body", body, f"an XML document ({exc})") from None
    day = root.find(f"{_ECB_NS}Cube/{_ECB_NS}Cube[@time]")
    if day is None:
        raise _fail(file, "Cube[@time]", root.tag, "a gesmes:Envelope holding Cube/Cube[@time]")
    raw: dict[str, Any] = {}
    for row in day.findall(f"{_ECB_NS}Cube"):
        code, rate = _code(row.get("currency"), "Cube@currency", file), row.get("rate")
        try:
            raw[code] = float(rate) if rate is not None else None
        except ValueError:
            raw[code] = rate  # kept as text: reported invalid below
    ts = _date_ns(day.get("time"), "Cube@time", file, ECB_FIXING, ECB_ZONE)
    rates, invalid = _rates(raw, "Cube", file, _iso_key)
    return SourceQuotes("ecb", "EUR", ts, rates, invalid)


def parse_frankfurter(body: bytes, file: str = "frankfurter.json") -> SourceQuotes:
    """Frankfurter's ``latest``: the ECB's rates against ``base`` (default EUR)."""
    doc = _json(body, file)
    amount = _object(doc, "amount", file)
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
        raise _fail(file, "amount", amount, "a positive number")
    base = _code(_object(doc, "base", file), "base", file)
    ts = _date_ns(_object(doc, "date", file), "date", file, ECB_FIXING, ECB_ZONE)
    rates, invalid = _rates(_object(doc, "rates", file), "rates", file, _iso_key)
    # rates are for `amount` units of base (1 unless asked otherwise)
    return SourceQuotes("frankfurter", base, ts, {c: r / amount for c, r in rates.items()}, invalid)


def parse_open_er_api(body: bytes, file: str = "open-er-api.json") -> SourceQuotes:
    """open.er-api.com's ``/v6/latest/<base>``."""
    doc = _json(body, file)
    result = _object(doc, "result", file)
    if result != "success":
        raise _fail(file, "result", result, f"'success' (error-type {doc.get('error-type')!r})")
    base = _code(_object(doc, "base_code", file), "base_code", file)
    ts = _unix_ns(_object(doc, "time_last_update_unix", file), "time_last_update_unix", file)
    rates, invalid = _rates(_object(doc, "rates", file), "rates", file, _iso_key)
    nxt = doc.get("time_next_update_unix")
    next_ns = _unix_ns(nxt, "time_next_update_unix", file) if nxt is not None else None
    return SourceQuotes("open-er-api", base, ts, rates, invalid, next_ns)


def parse_exchangerate_host(body: bytes, file: str = "exchangerate-host.json") -> SourceQuotes:
    """exchangerate.host's ``/live``: ``quotes`` keyed by source+currency (``USDEUR``)."""
    doc = _json(body, file)
    success = _object(doc, "success", file)
    if success is not True:
        error = doc.get("error") if isinstance(doc.get("error"), dict) else {}
        raise _fail(
            file, "success", success, f"true (error {error.get('code')}: {error.get('type')})"
        )
    base = _code(_object(doc, "source", file), "source", file)
    ts = _unix_ns(_object(doc, "timestamp", file), "timestamp", file)

    def key(k: str) -> str | None:
        if not isinstance(k, str) or len(k) != 6 or not k.startswith(base):
            return None
        return _iso_key(k[3:])

    rates, invalid = _rates(_object(doc, "quotes", file), "quotes", file, key)
    return SourceQuotes("exchangerate-host", base, ts, rates, invalid)


def parse_currency_api(body: bytes, file: str = "currency-api.json") -> SourceQuotes:
    """fawazahmed0's currency-api ``currencies/<base>.json``: lower-case codes."""
    doc = _json(body, file)
    ts = _date_ns(_object(doc, "date", file), "date", file, dt.time(0), dt.UTC)
    bases = [k for k in doc if k != "date"]
    if len(bases) != 1:
        raise _fail(file, "base", bases, "one member besides 'date': the base currency's rates")
    base = _code(bases[0], "base", file)
    if bases[0] != bases[0].lower():
        raise _fail(file, "base", bases[0], "a lower-case code (the API's convention)")
    rates, invalid = _rates(doc[bases[0]], bases[0], file, _iso_key)
    return SourceQuotes("currency-api", base, ts, rates, invalid)


@dataclass(frozen=True, slots=True)
class Source:
    """A public API: its name, saved file, settings field and parser."""

    name: str
    file: str
    setting: str
    parse: Callable[[bytes, str], SourceQuotes]
    key_param: str | None = None  # query parameter carrying an access key
    params: Mapping[str, str] = field(default_factory=dict)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("ecb", "ecb.xml", "ecb", parse_ecb),
        Source("frankfurter", "frankfurter.json", "frankfurter", parse_frankfurter),
        Source("open-er-api", "open-er-api.json", "open_er_api", parse_open_er_api),
        Source(
            "exchangerate-host",
            "exchangerate-host.json",
            "exchangerate_host",
            parse_exchangerate_host,
            key_param="access_key",
            params={"source": "USD"},
        ),
        Source("currency-api", "currency-api.json", "currency_api", parse_currency_api),
    )
}
"""The sources by name, in a fixed order (the order of provenance lists)."""


def parse(source: str, body: bytes) -> SourceQuotes:
    """Parse one raw response of ``source`` (a :data:`SOURCES` key)."""
    if source not in SOURCES:
        raise InputError("source", source, f"one of {', '.join(SOURCES)}")
    s = SOURCES[source]
    return s.parse(body, s.file)
