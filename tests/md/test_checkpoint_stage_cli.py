"""Checkpoint round trips, the pipeline stage, and ``riskstream book replay``."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.clock import NS_PER_S
from riskstream.core.errors import LoadError
from riskstream.md import MarketDataEngine, MdConfig, MdStage
from riskstream.md.l3file import book_replay, read_l3
from tests.md.helpers import ADD, CANCEL, MODIFY, T0, TRADE, make_events


def _stream(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows, live, oid = [], {i: [] for i in range(5)}, 1
    for k in range(n):
        inst = int(rng.integers(5))
        ts = T0 + k * NS_PER_S // 20
        if not live[inst] or rng.random() < 0.5:
            side = int(rng.choice([1, -1]))
            px = 100 + (int(rng.integers(1, 8)) if side == -1 else -int(rng.integers(0, 7))) * 0.5
            rows.append(dict(kind=ADD, side=side, price=px, size=int(rng.integers(1, 9)),
                             oid=oid, inst=inst, ts=ts))  # fmt: skip
            live[inst].append(oid)
            oid += 1
            continue
        o = live[inst][int(rng.integers(len(live[inst])))]
        kind = [MODIFY, CANCEL, TRADE][int(rng.integers(3))]
        if kind == CANCEL:
            live[inst].remove(o)
        rows.append(dict(kind=kind, size=1, oid=o, inst=inst, ts=ts, price=0.0))
    return make_events(rows)


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), k  # bit for bit, NaNs included


def test_checkpoint_restore_is_bit_for_bit():
    events = _stream(3000, seed=1)
    cfg = MdConfig(order_capacity=16, vwap_capacity=16)
    undisturbed = MarketDataEngine(5, cfg)
    for a in range(0, 3000, 250):
        undisturbed.process(events[a : a + 250])
    # crash after 1500 events: restore the checkpoint into a fresh engine and go on
    first = MarketDataEngine(5, cfg)
    for a in range(0, 1500, 250):
        first.process(events[a : a + 250])
    checkpoint = first.state()
    _same(checkpoint, first.state())
    resumed = MarketDataEngine(5, cfg)
    resumed.restore(checkpoint)
    _same(resumed.state(), checkpoint)
    for a in range(1500, 3000, 250):
        resumed.process(events[a : a + 250])
    _same(resumed.state(), undisturbed.state())
    assert undisturbed.quarantined < 3000 and undisturbed.check_integrity() == []
    with pytest.raises(ValueError, match="missing"):
        resumed.restore({k: v for k, v in checkpoint.items() if k != "books.lv"})


def test_stage_summary_and_latency():
    stage = MdStage(5)
    events = _stream(2000, seed=2)
    for a in range(0, 2000, 500):
        stage.on_batch(events[a : a + 500], T0)
    s = stage.summary()
    assert s["md_events"] == 2000 and s["books"] == 5
    assert s["quarantined"] == sum(s["quarantine_by_reason"].values())
    assert s["features_updated"] == 2000 - s["quarantined"]
    assert s["md_latency_p99_us"] > 0 and len(stage.latencies_ns()) == 4
    assert stage.market_state.updated.all()
    assert dict(stage.view())["live orders"] == f"{s['live_orders']:,}"
    # the stage is Checkpointable (riskstream.bus): restore into a fresh one, go on equal
    resumed = MdStage(5)
    resumed.restore(stage.state())
    more = _stream(2500, seed=2)[2000:]
    stage.on_batch(more, T0)
    resumed.on_batch(more, T0)
    _same(resumed.engine.state(), stage.engine.state())
    assert resumed.summary()["md_events"] == stage.summary()["md_events"] == 2500
    stage.close()


CSV = """ts_event,seq,instrument_id,kind,side,price,size,order_id
1000,1,42,add,B,100.50,10,1
1001,2,42,add,B,100.25,5,2
1002,3,42,add,S,101.00,3,3
1003,1,7,add,S,9.99,1,1
1004,4,42,modify,B,100.50,4,1
1005,5,42,trade,S,,1,3
1006,6,42,cancel,B,,,2
1007,7,42,clear,,,,
"""

# expected book of the message's instrument after each message, worked by hand
EXPECTED = [
    (1000, 1, 42, 100.5, 10.0, None, None, None, None, None, None),
    (1001, 2, 42, 100.5, 10.0, None, None, 100.25, 5.0, None, None),
    (1002, 3, 42, 100.5, 10.0, 101.0, 3.0, 100.25, 5.0, None, None),
    (1003, 1, 7, None, None, 9.99, 1.0, None, None, None, None),
    (1004, 4, 42, 100.5, 4.0, 101.0, 3.0, 100.25, 5.0, None, None),
    (1005, 5, 42, 100.5, 4.0, 101.0, 2.0, 100.25, 5.0, None, None),
    (1006, 6, 42, 100.5, 4.0, 101.0, 2.0, None, None, None, None),
    (1007, 7, 42, None, None, None, None, None, None, None, None),
]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_book_replay_cli(tmp_path, suffix):
    src = tmp_path / "l3.csv"
    src.write_text(CSV)
    if suffix == "parquet":
        pl.read_csv(src).write_parquet(tmp_path / "l3.parquet")
        src = tmp_path / "l3.parquet"
    out = tmp_path / f"book.{suffix}"
    result = CliRunner().invoke(
        app, ["book", "replay", "--input", str(src), "--depth", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    frame = pl.read_csv(out) if suffix == "csv" else pl.read_parquet(out)
    assert frame.columns == [
        "ts_event", "seq", "instrument_id",
        "bid_px_0", "bid_sz_0", "ask_px_0", "ask_sz_0",
        "bid_px_1", "bid_sz_1", "ask_px_1", "ask_sz_1",
    ]  # fmt: skip
    assert frame.rows() == EXPECTED


def test_book_replay_reports_bad_rows_and_goes_on(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "ts_event,seq,instrument_id,kind,side,price,size,order_id\n"
        "1,1,1,add,X,10,1,1\n"
        "2,2,1,buy,B,10,1,2\n"
        "3,3,1,add,B,ten,1,3\n"
        "4,4,1,add,B,10,nan,4\n"
        "5,5,1,add,B,10,2,5\n"
    )
    with pytest.raises(LoadError):  # strict reading still names every bad row
        read_l3(bad)
    frame, report = book_replay(bad, 2)
    text = "\n".join(report["malformed_rows"])
    assert "row 1: field 'side' has value 'X'" in text
    assert "row 2: field 'kind' has value 'buy'" in text
    assert "row 3: field 'price' has value 'ten'" in text
    assert "row 4: field 'size' has value 'nan'" in text
    assert report["malformed"] == 4 and frame.height == 1 and frame["bid_sz_0"][0] == 2.0
    book = tmp_path / "book.csv"
    book.write_text(
        "ts_event,seq,instrument_id,kind,side,price,size,order_id\n"
        "1,1,1,add,B,10,1,1\n"
        "2,2,1,add,S,9,1,2\n"
        "3,3,1,cancel,B,,,7\n"
        "4,4,1,add,B,0,1,8\n"
        "5,4,1,cancel,S,,,2\n"
    )
    frame, report = book_replay(book, 2)
    # the crossing add and the unknown cancel apply; only the zero price and the repeated
    # seq are quarantined, and the replay still writes every row's book
    assert report["quarantine_by_reason"] == {"DUPLICATE": 1, "PRICE_NOT_POSITIVE": 1}
    assert report["books"]["unknown_order_noop"] == 1 and report["books"]["crossed_events"] == 2
    assert "event 4: field 'price' has value 0.0" in report["examples"][0]
    assert frame.height == 5 and report["applied"] == 3
