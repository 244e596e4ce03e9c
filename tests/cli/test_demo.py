"""`riskstream demo`: the main job runs the pipeline, stops on --duration or Ctrl-C, and
prints a JSON summary as its last line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskstream.store.history import TABLES

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKSTREAM_")}
    env["RISKSTREAM_STORE__DATA_DIR"] = str(tmp_path / "data")
    env["RISKSTREAM_UNIVERSE__INSTRUMENTS"] = "300"
    return env


def _summary(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _run_demo(tmp_path: Path, seconds: str, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "riskstream", "demo", "--duration", seconds, "--max-speed",
         "--port", "0", "--json"],
        env={**_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_demo_runs_for_a_duration_and_summarises(tmp_path: Path) -> None:
    # 12 s: on a fresh clone the numba kernels compile during the first seconds, and the
    # regime stage needs a few bars of market time after that to warm up.
    done = _run_demo(tmp_path, "12")
    summary = _summary(done.stdout)
    assert summary["events"] > 0 and summary["events_per_s"] > 0
    assert summary["instruments"] == 300
    assert 11.5 < summary["duration_s"] < 30
    # Every stage reports: market data books every instrument, nothing is quarantined from
    # the clean simulated stream, and history recorded every event.
    # every instrument was booked (``instruments`` above counts those md has sequenced); a
    # thin book can stand empty at the instant the demo stops (every resting order
    # cancelled or taken), as real illiquid books do, so a few may show no level then
    assert summary["books"] >= 0.98 * 300
    assert summary["quarantined"] == 0
    assert summary["history_events"] == summary["events"]
    assert (tmp_path / "data" / "history").exists()
    # One limits engine: the service shows every limit the limits stage monitors (the
    # reference set sized on the first full snapshot), as the stage published it.
    assert summary["limit_snapshots_checked"] > 0
    assert summary["service_limits_available"] is True
    assert summary["service_limit_rows"] == summary["limits_in_force"] > 0
    # The first start trains the regime model and caches it; the stage then reports the
    # detected regime (from md's observed mids) with its probability.
    assert "training the regime model (first run)" in done.stderr
    assert (tmp_path / "data" / "regime.model").is_file()
    assert summary["regime"] in {"calm", "volatile", "crisis"}
    assert 0.0 < summary["regime_probability"] <= 1.0
    assert summary["regime_updates"] > 0
    # Regime-conditional risk is off by default: unconditional figures, no switching.
    assert summary["risk_conditioning"] is None
    assert "risk_regime_conditional" not in summary
    # A later start reuses the cached model; with risk.regime_conditional on, the regime's
    # publications may switch the engine, and the summary says which conditioning is in force.
    trained = (tmp_path / "data" / "regime.model").stat().st_mtime_ns
    again = _run_demo(tmp_path, "1", RISKSTREAM_RISK__REGIME_CONDITIONAL="true")
    assert "training the regime model" not in again.stderr
    assert (tmp_path / "data" / "regime.model").stat().st_mtime_ns == trained
    second = _summary(again.stdout)
    assert "regime_probability" in second
    assert second["risk_regime_conditional"] is True
    assert set(second["risk_regime_table"]) == {"calm", "volatile", "crisis"}
    conditioning = second["risk_conditioning"]
    assert conditioning is None or conditioning["regime"] in {"volatile", "crisis"}


def test_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "riskstream", "demo", "--port", "0", "--json"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Press Ctrl-C once events flow: the tick tables' first Delta commit shows they do
        # (the daily market history written at the first start sits beside them).
        deadline = time.monotonic() + 240
        history = tmp_path / "data" / "history"

        def ticks_written() -> bool:
            return any(any((history / t).rglob("*.parquet")) for t in TABLES)

        while not ticks_written() and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()[-2000:]
            time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, stderr[-2000:]
    summary = _summary(stdout)
    assert summary["events"] > 0
    assert summary["history_events"] == summary["events"]
