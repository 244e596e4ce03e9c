"""The FX poller against a local HTTP server serving recorded responses in each API's shape:
retries with backoff, 429 Retry-After, timeouts, the circuit breaker, per-source intervals,
saved response sets that reproduce the published rates, keys never logged, and the
outputs (history store, bus, command)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskstream.bus.topics import MemoryTopics
from riskstream.cli import app
from riskstream.core.clock import NS_PER_S, ManualClock
from riskstream.core.messages import SUBJECTS, FxRates
from riskstream.feeds.fx import FxConfig, FxPoller, aggregate, load_set
from riskstream.feeds.fx.publish import FxPublisher
from riskstream.feeds.fx.sources import SOURCES
from riskstream.store.market_history import MarketHistory
from tests.feeds.fx_server import FxServer, Reply, recorded

KEY = "k3y-that-must-never-show"
START_NS = 1_719_619_500 * NS_PER_S  # 2024-06-29 00:05 UTC, just after the recorded set


@pytest.fixture()
def server() -> Iterator[FxServer]:
    s = FxServer()
    for src in SOURCES.values():
        s.serve(f"/{src.name}", Reply(recorded(src.file)))
    yield s
    s.close()


def config(server: FxServer, **kw) -> FxConfig:
    base = FxConfig()
    sources = {
        src.setting: getattr(base, src.setting).model_copy(update={"url": f"{server.url}/{name}"})
        for name, src in SOURCES.items()
    }
    settings = {"exchangerate_host_access_key": KEY, "backoff_s": 0.5, **sources, **kw}
    return FxConfig.model_validate(settings)


class Sleeps:
    """Records backoff waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def poller(server: FxServer, tmp_path: Path, clock: ManualClock | None = None, **kw) -> FxPoller:
    return FxPoller(
        config(server, **kw), tmp_path / "responses", clock=clock or ManualClock(START_NS),
        sleep=Sleeps(),
    )  # fmt: skip


def poll(p: FxPoller, **kw):
    return asyncio.run(p.poll_once(**kw))


def test_a_poll_saves_a_set_that_reproduces_the_published_rates(
    server: FxServer, tmp_path: Path
) -> None:
    p = poller(server, tmp_path)
    result = poll(p)
    assert result.fetched == tuple(SOURCES) and not result.errors
    assert result.folder is not None and result.aggregate is not None
    assert sorted(f.name for f in result.folder.iterdir()) == sorted(
        [*(s.file for s in SOURCES.values()), "fetched.json"]
    )
    quotes, failures = load_set(result.folder)
    again = aggregate(quotes, p.config, failures=failures)
    assert again.as_json() == result.aggregate.as_json()
    manifest = json.loads((result.folder / "fetched.json").read_text())
    assert manifest["sources"]["ecb"]["fetched_ns"] == START_NS
    assert manifest["sources"]["exchangerate-host"]["url"].endswith("source=USD&access_key=***")
    # the key went to the API, as its query parameter
    assert any(f"access_key={KEY}" in r for r in server.requests)


def test_the_access_key_is_never_logged_saved_or_reported(
    server: FxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.serve("/exchangerate-host", Reply(b"oops", status=503))
    caplog.set_level(logging.DEBUG)
    result = poll(poller(server, tmp_path, retries=1))
    assert "exchangerate-host" in result.errors
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert KEY not in json.dumps(result.as_json())
    assert all(KEY.encode() not in f.read_bytes() for f in result.folder.rglob("*") if f.is_file())
    assert KEY not in repr(config(server)) and KEY not in config(server).model_dump_json()


def test_http_429_with_a_short_retry_after_is_waited_out(server: FxServer, tmp_path: Path) -> None:
    body = recorded("frankfurter.json")
    server.serve("/frankfurter", Reply(status=429, headers={"Retry-After": "2"}), Reply(body))
    p = poller(server, tmp_path)
    result = poll(p)
    assert "frankfurter" in result.fetched and not result.errors
    assert p.sleep.waits == [2.0]
    assert server.hits("/frankfurter") == 2


def test_http_429_with_a_long_retry_after_is_respected(server: FxServer, tmp_path: Path) -> None:
    server.serve("/open-er-api", Reply(status=429, headers={"Retry-After": "3600"}))
    clock = ManualClock(START_NS)
    p = poller(server, tmp_path, clock)
    result = poll(p)
    assert "Retry-After 3600 s" in result.errors["open-er-api"]
    assert server.hits("/open-er-api") == 1  # not retried within the poll
    clock.advance(1800 * NS_PER_S)
    later = poll(p)
    assert later.skipped["open-er-api"].startswith("not due before 2024-06-29T01:05:00")
    assert server.hits("/open-er-api") == 1


def test_5xx_is_retried_with_exponential_backoff(server: FxServer, tmp_path: Path) -> None:
    body = recorded("ecb.xml")
    server.serve("/ecb", Reply(status=500), Reply(status=503), Reply(body))
    p = poller(server, tmp_path, retries=2)
    result = poll(p)
    assert "ecb" in result.fetched
    assert p.sleep.waits == [0.5, 1.0]


def test_a_timeout_fails_the_source_and_the_others_still_publish(
    server: FxServer, tmp_path: Path
) -> None:
    server.serve("/currency-api", Reply(recorded("currency-api.json"), delay_s=1.0))
    result = poll(poller(server, tmp_path, timeout_s=0.2, retries=0))
    assert result.errors["currency-api"].endswith(
        "timed out after 0.2 s (ReadTimeout) (1 attempt(s))"
    )
    assert result.aggregate is not None and "JPY" in result.aggregate.rates
    assert {"source": "currency-api", "currency": None} in [
        {k: e[k] for k in ("source", "currency")} for e in result.as_json()["excluded"]
    ]


def test_the_circuit_breaker_opens_then_tries_once_and_closes(
    server: FxServer, tmp_path: Path
) -> None:
    server.serve("/frankfurter", Reply(status=503))
    clock = ManualClock(START_NS)
    p = poller(server, tmp_path, clock, retries=0, breaker_failures=2, breaker_reset_s=900)
    for _ in range(2):
        assert "frankfurter" in poll(p).errors
        clock.advance(300 * NS_PER_S)
    third = poll(p)
    assert third.skipped["frankfurter"].startswith("circuit breaker open until")
    assert third.breakers["frankfurter"] == "open" and server.hits("/frankfurter") == 2
    clock.advance(900 * NS_PER_S)  # past the reset: one trial
    server.serve("/frankfurter", Reply(recorded("frankfurter.json")))
    fourth = poll(p)
    assert "frankfurter" in fourth.fetched and fourth.breakers["frankfurter"] == "closed"


def test_a_malformed_body_is_kept_for_audit_and_fails_the_source(
    server: FxServer, tmp_path: Path
) -> None:
    server.serve("/open-er-api", Reply(b'{"result": "success", "rates": {"EUR": 0.93'))
    server.serve("/ecb", Reply(b"<gesmes:Envelope><Cube><Cube time='2024-06-28'>"))
    p = poller(server, tmp_path, retries=2)
    result = poll(p)
    assert "JSON" in result.errors["open-er-api"] and "XML" in result.errors["ecb"]
    assert server.hits("/open-er-api") == 1  # a bad body is not retried
    assert (result.folder / "rejected" / "open-er-api.json").exists()
    assert not (result.folder / "open-er-api.json").exists()
    assert p.state["ecb"].breaker.consecutive == 1
    assert len(result.aggregate.rates) == 29  # frankfurter, exchangerate.host, currency-api


def test_each_source_is_asked_at_its_own_interval(server: FxServer, tmp_path: Path) -> None:
    clock = ManualClock(START_NS)
    p = poller(server, tmp_path, clock)
    poll(p)
    clock.advance(300 * NS_PER_S)
    second = poll(p)
    # open.er-api named its next update (2024-06-30 00:25); exchangerate.host: every 8 h
    assert second.skipped["open-er-api"].startswith("not due before 2024-06-30T00:25:01")
    assert second.skipped["exchangerate-host"].startswith("not due before 2024-06-29T08:05:00")
    assert sorted(second.fetched) == [] and not second.errors  # same bytes: nothing new
    assert second.folder is None and second.aggregate is None
    assert server.hits("/ecb") == 2 and server.hits("/open-er-api") == 1


def test_without_an_access_key_exchangerate_host_is_not_asked(
    server: FxServer, tmp_path: Path
) -> None:
    result = poll(poller(server, tmp_path, exchangerate_host_access_key=None))
    assert result.skipped == {
        "exchangerate-host": "no access key (fx.exchangerate_host_access_key)"
    }
    assert server.hits("/exchangerate-host") == 0


def test_published_rates_go_to_the_history_store_and_the_bus(
    server: FxServer, tmp_path: Path
) -> None:
    clock = ManualClock(START_NS)
    history = MarketHistory(tmp_path / "history")
    topics = MemoryTopics()
    reader = topics.subscribe(SUBJECTS["fx"], start_after=0)
    publish = FxPublisher(clock, store=history.append_fx_rates, topics=topics)
    p = poller(server, tmp_path, clock)
    asyncio.run(p.run(publish, polls=2))  # the second poll has nothing new
    assert publish.published == 1
    stored = history.fx_rates("USD", latest=True)
    result_rates = {r["currency"]: r["rate"] for r in stored.iter_rows(named=True)}
    assert len(result_rates) == 29 and set(stored["sources"]) == {5}
    prov = json.loads(stored.filter(currency="JPY")["provenance"][0])
    assert set(prov["used"]) == set(SOURCES) and prov["excluded"] == []
    assert stored["ts"][0] == START_NS and stored["as_of_ns"][0] == 1_719_619_351 * NS_PER_S
    ((seq, message),) = reader.fetch(timeout_s=1.0)
    assert seq == 1
    assert isinstance(message, FxRates) and message.base == "USD"
    assert message.rates == result_rates
    assert message.pair_prices()["USDJPY"] == message.rates["JPY"]
    assert Path(message.provenance["responses"]).is_dir()


def test_fx_poll_command_once(server: FxServer, tmp_path: Path) -> None:
    env = {"RISKSTREAM_STORE__DATA_DIR": str(tmp_path / "data")}
    for name, src in SOURCES.items():
        env[f"RISKSTREAM_FX__{src.setting.upper()}__URL"] = f"{server.url}/{name}"
    env["RISKSTREAM_FX__EXCHANGERATE_HOST_ACCESS_KEY"] = KEY
    result = CliRunner(env=env).invoke(app, ["fx", "poll", "--once", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["fetched"] == list(SOURCES) and out["rates"]["JPY"] > 150
    assert KEY not in result.output
    history = MarketHistory(tmp_path / "data" / "history")
    assert history.fx_rates(latest=True).height == len(out["rates"])
    assert Path(out["responses"]).parent.parent == tmp_path / "data" / "fx" / "responses"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from riskstream.feeds.fx.poller import retry_after_s

    assert retry_after_s("120", START_NS) == 120.0
    assert retry_after_s("Sat, 29 Jun 2024 00:06:00 GMT", START_NS) == 60.0
    assert retry_after_s("soon", START_NS) is None and retry_after_s(None, START_NS) is None


@pytest.mark.services
def test_fx_poll_publishes_fx_marks_on_nats(server: FxServer, tmp_path: Path, nats_server) -> None:
    """`fx poll --bus nats://…` puts each aggregate on the FX subject, where the risk
    stage of `riskstream up` reads it (the same rates as stored)."""
    from riskstream.bus import open_topics
    from riskstream.core.messages import SUBJECTS, FxRates

    env = {"RISKSTREAM_STORE__DATA_DIR": str(tmp_path / "data")}
    for name, src in SOURCES.items():
        env[f"RISKSTREAM_FX__{src.setting.upper()}__URL"] = f"{server.url}/{name}"
    env["RISKSTREAM_FX__EXCHANGERATE_HOST_ACCESS_KEY"] = KEY
    result = CliRunner(env=env).invoke(
        app, ["fx", "poll", "--once", "--json", "--bus", nats_server.url]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    topics = open_topics(nats_server.url)
    try:
        ((seq, message),) = topics.subscribe(SUBJECTS["fx"], start_after=0).fetch(timeout_s=5.0)
    finally:
        topics.close()
    assert seq == 1 and isinstance(message, FxRates)
    assert message.rates == pytest.approx(out["rates"], rel=1e-12)
