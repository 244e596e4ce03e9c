"""``riskstream surveillance abuse simulate`` and ``scan``: a labelled data set in the
documented files, scanned back in batches, scored against its own labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.audit import ORDER_AUDIT_DTYPE
from riskstream.core.events import EVENT_DTYPE

runner = CliRunner()


def _run(*args: str) -> dict:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_simulate_then_scan(tmp_path: Path) -> None:
    data = tmp_path / "ds"
    made = _run("surveillance", "abuse", "simulate", "--out", str(data), "--days", "2",
                "--session-s", "90", "--events-per-s", "800", "--seed", "5", "--json")  # fmt: skip
    for name in ("events.parquet", "audit.parquet", "order_labels.csv", "day_labels.csv",
                 "participants.csv", "instruments.parquet", "meta.json"):  # fmt: skip
        assert (data / name).is_file(), name
    events = pq.read_table(data / "events.parquet")
    audit = pq.read_table(data / "audit.parquet")
    assert events.num_rows == audit.num_rows == made["events"]
    assert set(EVENT_DTYPE.names) <= set(events.schema.names)
    assert set(ORDER_AUDIT_DTYPE.names) == set(audit.schema.names)
    np.testing.assert_array_equal(events["order_id"].to_numpy(), audit["order_id"].to_numpy())
    labels = pl.read_csv(data / "day_labels.csv")
    assert labels.height == made["participant_days_labelled"] > 0
    roles = pl.read_csv(data / "participants.csv")
    manipulators = roles.filter(pl.col("role") == "manipulator")["participant_id"].to_list()
    assert set(labels["participant_id"].to_list()) <= set(manipulators)

    meta = json.loads((data / "meta.json").read_text())
    out = tmp_path / "alerts.csv"
    scanned = _run("surveillance", "abuse", "scan", "--events", str(data / "events.parquet"),
                   "--audit", str(data / "audit.parquet"), "--out", str(out), "--session-s",
                   "90", "--day0-ns", str(meta["start_ns"]), "--labels",
                   str(data / "day_labels.csv"), "--json")  # fmt: skip
    assert scanned["events"] == made["events"]
    alerts = pl.read_csv(out)
    assert alerts.height == scanned["alerts"] == sum(scanned["by_typology"].values())
    assert {"typology", "participant_id", "order_ids", "ts_alert", "bid_px_1"} <= set(
        alerts.columns
    )
    caught = sum(s["caught"] for k, s in scanned["scores"].items() if k != "confusion")
    assert caught >= 1  # at least one injected participant-day is found


def test_scan_refuses_a_misaligned_audit_trail(tmp_path: Path) -> None:
    from riskstream.core.events import events_to_arrow

    ev = np.zeros(3, EVENT_DTYPE)
    pq.write_table(pa.Table.from_batches([events_to_arrow(ev)]), tmp_path / "e.parquet")
    au = np.zeros(2, ORDER_AUDIT_DTYPE)
    pl.from_numpy(au).write_parquet(tmp_path / "a.parquet")
    args = ["surveillance", "abuse", "scan", "--events", str(tmp_path / "e.parquet"),
            "--audit", str(tmp_path / "a.parquet"), "--out", str(tmp_path / "x.csv")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    message = str(result.exception)
    assert "--audit" in message and "one per event" in message
