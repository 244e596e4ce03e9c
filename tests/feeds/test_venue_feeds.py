"""Real venue formats: LOBSTER files and Bitstamp's websocket channels, each on fixtures
written by hand in the venue's documented layout (tests/feeds/fixtures; the formats are
described, with their sources, in riskstream.feeds.lobster and riskstream.feeds.bitstamp).

The rebuilt books are checked against the plain dict book of tests/md/reference.py at
every group end, and LOBSTER's against its own orderbook file after every message.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from riskstream.bus import BusConfig, MemoryBus
from riskstream.core.events import EventFlag, EventKind, to_fixed
from riskstream.feeds.bitstamp import BitstampParser, read_capture
from riskstream.feeds.bitstamp_ws import BitstampFeed
from riskstream.feeds.lobster import read_messages, read_orderbook
from riskstream.md import MarketDataEngine, MdConfig
from tests.md.reference import ReferenceBooks

FIX = Path(__file__).parent / "fixtures"
LOB = FIX / "TEST_2012-06-21_34200000_57600000_message_2.csv"
LOB_BOOK = FIX / "TEST_2012-06-21_34200000_57600000_orderbook_2.csv"
CAPTURE = FIX / "bitstamp_btcusd_live_orders.jsonl"


def _engine(crossing: str = "trust") -> MarketDataEngine:
    cfg = MdConfig(ts_floor_ns=0, max_ahead_ns=2**62, order_capacity=64, crossing=crossing)
    return MarketDataEngine(1, cfg)


def _agree_at_group_ends(events: np.ndarray, eng: MarketDataEngine, depth: int = 8) -> int:
    """Apply ``events``; at each LAST_IN_GROUP event the engine's top ``depth`` levels must
    equal the plain reference book's. Returns the group ends checked."""
    r = eng.process(events, record_depth=depth)
    ref = ReferenceBooks(1, 4096)
    checked = 0
    for k, e in enumerate(events):
        ref.apply(e)
        if not e["flags"] & EventFlag.LAST_IN_GROUP or r.reason[k]:
            continue
        checked += 1
        for s in (0, 1):
            want = ref.levels(0, s)[:depth]
            got_px = r.depth_px[k, s][~np.isnan(r.depth_sz[k, s])]
            got_sz = r.depth_sz[k, s][~np.isnan(r.depth_sz[k, s])]
            assert got_px.tolist() == [p for p, _, _ in want], (k, s)
            np.testing.assert_allclose(got_sz, [z for _, z, _ in want], rtol=1e-12)
        assert not ref.crossed(0), k  # the venue's guarantee at a group end
    return checked


# ------------------------------------------------------------------ LOBSTER


def test_lobster_messages_map_onto_events():
    m = read_messages(LOB)
    assert m.halts == 1 and m.malformed == [] and len(m.events) == 11
    ev = m.events
    assert ev["kind"].tolist() == [1, 1, 1, 1, 3, 4, 4, 4, 3, 1, 3]
    assert ev["size"][4] == 10 and ev["size"][8] == 0  # partial cancel, total deletion
    assert ev["order_id"][7] == 0  # hidden execution: a print apart from the book
    assert ev["price"][0] == to_fixed(585.33) and ev["seq"].tolist() == list(range(1, 12))
    # 2012-06-21 is EDT (UTC-4): 34200 s after midnight is 13:30:00Z
    assert ev["ts_event"][0] == 1_340_285_400_004_241_176
    assert (ev["flags"] & EventFlag.LAST_IN_GROUP).astype(bool).tolist() == [
        False, True, False, True, True, False, True, True, True, False, True
    ]  # fmt: skip


@pytest.mark.parametrize("crossing", ["trust", "match"])
def test_lobster_replay_agrees_with_its_orderbook_file_and_the_reference(crossing):
    m = read_messages(LOB)
    px, sz = read_orderbook(LOB_BOOK)
    eng = _engine(crossing)
    r = eng.process(m.events, record_depth=px.shape[2])
    assert r.accepted == len(m.events)
    got_px = np.where(np.isnan(r.depth_sz), 0, r.depth_px)
    # after every message (the halt row repeats the book before it)
    np.testing.assert_array_equal(got_px, px[m.rows])
    np.testing.assert_array_equal(r.depth_sz, sz[m.rows])
    np.testing.assert_array_equal(px[9], px[8])
    assert _agree_at_group_ends(m.events, _engine(crossing)) == 7
    assert eng.market_state.last[0] == 585.39  # the hidden execution printed


def test_lobster_bad_rows_are_reported_not_fatal(tmp_path):
    bad = tmp_path / "X_2012-06-21_0_1_message_1.csv"
    bad.write_text(LOB.read_text().replace("34200.025551898,2", "34200.0255x,2", 1))
    m = read_messages(bad)
    assert len(m.events) == 10 and "row 5: field 'time' has value '34200.0255x'" in m.malformed[0]


# ------------------------------------------------------------------ Bitstamp


def test_bitstamp_capture_replays_with_nothing_refused_for_crossing():
    events, parser = read_capture(CAPTURE)
    assert parser.counts["bts:subscription_succeeded"] == 1 and parser.counts["bts:heartbeat"] == 1
    eng = _engine()
    checked = _agree_at_group_ends(events, eng)
    assert checked == 6
    # only the NaN price is quarantined; the crossing add and the unknown orders apply
    assert eng.quarantine_by_reason() == {"PRICE_NOT_POSITIVE": 1}
    c = eng.book_counts()
    assert c["crossed_events"] >= 2 and c["crossed_at_group_end"] == 0
    assert c["unknown_order_noop"] == 1 and c["unknown_order_applied"] == 1
    lv = eng.levels(0)
    assert lv["bid_px"].tolist() == [46500.12, 46500.0, 46400.0]
    assert lv["bid_sz"].tolist() == pytest.approx([0.1, 1.0, 0.01234567], rel=1e-12)
    assert lv["ask_px"].tolist() == [46502.5, 46503.0]
    # venue precision: the prices are exact in fixed point, sizes fractional
    assert to_fixed(46500.12) in eng.orders(0)["price"]
    assert eng.features.volume[0] == pytest.approx(0.9)  # the three trade prints


def test_bitstamp_match_mode_reaches_the_same_books():
    events, _ = read_capture(CAPTURE)
    trust, match = _engine("trust"), _engine("match")
    trust.process(events)
    match.process(events)
    for side in ("bid", "ask"):
        assert trust.levels(0)[f"{side}_px"].tolist() == match.levels(0)[f"{side}_px"].tolist()
        np.testing.assert_allclose(trust.levels(0)[f"{side}_sz"], match.levels(0)[f"{side}_sz"])
    assert match.book_counts()["matched_fills"] == 3 and match.check_integrity() == []


def test_bitstamp_resync_leaves_a_gap_that_md_counts_and_recovers():
    lines = CAPTURE.read_text().splitlines()
    snapshot = json.loads(lines[1])
    later = dict(snapshot, microtimestamp=str(int(snapshot["microtimestamp"]) + 10**6))
    parser = BitstampParser()
    events = np.concatenate([parser.parse(lines), parser.parse([json.dumps(later)])])
    eng = _engine()
    eng.process(events)
    assert eng.sequence_counts()["gaps"] == 1 and eng.sequence_counts()["recoveries"] == 1
    assert not eng.market_state.stale[0]
    assert eng.levels(0)["ask_px"].tolist() == [46501.0, 46502.5]  # the snapshot's book


# ------------------------------------------------------------------ websocket client


def _venue_messages() -> list[dict]:
    """A recorded stream: orders created, changed and deleted around a small book."""
    out, t0, oid = [], 1_700_000_000_000_000, 500
    rng = np.random.default_rng(5)
    live: dict[int, tuple[int, str]] = {}
    for g in range(60):
        us = t0 + 1000 * (g + 1)
        for _ in range(int(rng.integers(1, 3))):
            if live and rng.random() < 0.4:
                k = int(rng.choice(sorted(live)))
                side, price = live[k]
                if rng.random() < 0.5:
                    del live[k]
                    ev, amount = "order_deleted", "0"
                else:
                    ev, amount = "order_changed", f"{rng.integers(1, 99) / 100:.8f}"
            else:
                oid += 1
                k, side = oid, int(rng.integers(2))
                tick = int(rng.integers(1, 20))
                price = f"{46000 - tick if side == 0 else 46000 + tick}.00"
                live[k] = (side, price)
                ev, amount = "order_created", f"{rng.integers(1, 99) / 100:.8f}"
            out.append({"event": ev, "channel": "live_orders_btcusd", "data": {
                "id": k, "order_type": side, "price_str": price, "amount_str": amount,
                "microtimestamp": str(us)}})  # fmt: skip
    return out


def _book_after(messages: list[dict]) -> dict:
    book: dict[int, tuple[int, str, str]] = {}
    for m in messages:
        d = m["data"]
        if m["event"] == "order_deleted":
            book.pop(d["id"], None)
        else:
            book[d["id"]] = (d["order_type"], d["price_str"], d["amount_str"])
    us = messages[-1]["data"]["microtimestamp"] if messages else "1"
    side = lambda s: [[p, a, str(k)] for k, (x, p, a) in book.items() if x == s]  # noqa: E731
    return {"timestamp": us[:10], "microtimestamp": us, "bids": side(0), "asks": side(1)}


class FakeBitstamp:
    """A local Bitstamp: websocket channels plus the REST order book, replaying recorded
    messages. The first connection gets messages [0, cut) and is then dropped; while the
    client is away [cut, resume) are sent to nobody; the second connection's snapshot is the
    book after ``resume`` messages and its stream restarts two messages early (the client
    must drop what the snapshot holds)."""

    def __init__(self, messages: list[dict], cut: int, resume: int):
        self.messages, self.cut, self.resume = messages, cut, resume
        self.connections = 0
        self.snapshot_at = 0

    def process_request(self, connection, request):
        if request.path.startswith("/api/v2/order_book/"):
            body = json.dumps(_book_after(self.messages[: self.snapshot_at]))
            return connection.respond(200, body)
        return None

    async def handler(self, ws):
        self.connections += 1
        first = self.connections == 1
        self.snapshot_at = 0 if first else self.resume
        for _ in range(2):
            sub = json.loads(await ws.recv())
            await ws.send(json.dumps({"event": "bts:subscription_succeeded",
                                      "channel": sub["data"]["channel"], "data": {}}))  # fmt: skip
        await asyncio.sleep(0.05)  # the client fetches its snapshot meanwhile
        todo = self.messages[: self.cut] if first else self.messages[self.resume - 2 :]
        for m in todo:
            await ws.send(json.dumps(m))
        if first:
            await ws.close()  # a disconnect mid-stream
            return
        await ws.wait_closed()


def test_websocket_client_survives_a_disconnect_without_lost_or_doubled_events():
    from websockets.asyncio.server import serve

    messages = _venue_messages()
    cut, resume = 40, 55
    while (
        messages[resume - 1]["data"]["microtimestamp"] == messages[resume]["data"]["microtimestamp"]
    ):
        resume += 1  # the snapshot is taken at a group boundary
    fake = FakeBitstamp(messages, cut, resume)
    bus = MemoryBus(BusConfig(partitions=1))
    consumer = bus.consumer("md")
    recorded: list[str] = []

    async def main() -> None:
        async with serve(
            fake.handler, "127.0.0.1", 0, process_request=fake.process_request
        ) as server:
            port = server.sockets[0].getsockname()[1]
            stop = asyncio.Event()
            feed = BitstampFeed("btcusd", bus.publish, ws_url=f"ws://127.0.0.1:{port}",
                                book_url=f"http://127.0.0.1:{port}/api/v2/order_book/{{pair}}/?group=2",
                                reconnect_s=0.05, record=recorded.append)  # fmt: skip
            task = asyncio.create_task(feed.run(stop))
            want = cut + len(messages) - resume
            for _ in range(200):
                await asyncio.sleep(0.025)
                if feed.stats.messages >= want + 2 + 2:  # + two snapshots, two dropped
                    break
            stop.set()
            stats = await asyncio.wait_for(task, 5)
            assert stats.connections == 2 and stats.resyncs == 2

    asyncio.run(main())
    got = np.concatenate([m.events for m in consumer.fetch(1000, 0.1)])
    flow = got[(got["flags"] & EventFlag.SNAPSHOT) == 0]
    flow = flow[flow["kind"] != EventKind.CLEAR]
    want = messages[:cut] + messages[resume:]
    # every message delivered once: none lost (beyond the snapshot's cover), none doubled
    assert [(int(e["ts_event"]) // 1000, int(e["order_id"])) for e in flow] == [
        (int(m["data"]["microtimestamp"]), m["data"]["id"]) for m in want
    ]
    eng = _engine()
    eng.process(got)
    assert eng.quarantined == 0
    assert eng.sequence_counts()["gaps"] == 1 and eng.sequence_counts()["recoveries"] == 1
    truth = _book_after(messages)  # the venue's own book after every message
    for s, key in ((0, "bids"), (1, "asks")):
        agg: dict[float, float] = {}
        for p, a, _ in truth[key]:
            agg[float(p)] = agg.get(float(p), 0.0) + float(a)
        name = "bid" if s == 0 else "ask"
        lv = eng.levels(0)
        assert lv[f"{name}_px"].tolist() == sorted(agg, reverse=(s == 0))
        np.testing.assert_allclose(lv[f"{name}_sz"], [agg[p] for p in lv[f"{name}_px"]])
    # the capture replays to the same book
    replayed = _engine()
    replayed.process(BitstampParser().parse(recorded))
    assert replayed.levels(0)["bid_sz"].tolist() == eng.levels(0)["bid_sz"].tolist()


# ------------------------------------------------------------------ commands


@pytest.mark.parametrize(("fmt", "path"), [("lobster", LOB), ("bitstamp", CAPTURE)])
def test_book_replay_and_feed_replay_accept_the_venue_formats(tmp_path, fmt, path):
    import polars as pl
    from typer.testing import CliRunner

    from riskstream.cli import app

    out = tmp_path / "book.parquet"
    run = CliRunner().invoke(
        app, ["book", "replay", "--format", fmt, "--input", str(path), "--out", str(out),
              "--depth", "3", "--crossing", "match"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    report = json.loads(run.output.strip().splitlines()[-1])
    assert report["crossing"] == "match" and report["rows"] == pl.read_parquet(out).height
    assert "CROSSED" not in report["quarantine_by_reason"]
    assert report["books"]["crossed_at_group_end"] == 0
    run = CliRunner().invoke(
        app, ["feed", "replay", "--format", fmt, "--input", str(path), "--bus", "memory://"]
    )
    assert run.exit_code == 0, run.output
    assert json.loads(run.output.strip().splitlines()[-1])["events"] == report["events"]


def test_events_parquet_contract_replays(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from riskstream.cli import app
    from riskstream.core.events import events_to_arrow

    events = read_messages(LOB).events
    events["instrument_id"] = 42
    src = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_batches([events_to_arrow(events)]), src)
    out = tmp_path / "book.csv"
    run = CliRunner().invoke(
        app, ["book", "replay", "--format", "events", "--input", str(src), "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    report = json.loads(run.output.strip().splitlines()[-1])
    assert report["applied"] == len(events) and report["quarantined"] == 0
