"""The stages as processes over a real NATS JetStream server (`riskstream run --stage`):
snapshots arrive with their per-event latencies recorded, and `riskstream up`'s supervisor
restarts a stage killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from riskstream.bus import BusConfig, open_topics
from riskstream.core.config import load_config
from riskstream.core.messages import SUBJECTS
from riskstream.runtime.latency import percentile_s
from riskstream.settings import Settings
from tests.servers import NatsServer

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[2] / "src"


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKSTREAM_")}
    env.update(
        RISKSTREAM_STORE__DATA_DIR=str(tmp_path / "data"),
        RISKSTREAM_UNIVERSE__INSTRUMENTS="60",
        RISKSTREAM_SIMULATOR__EVENTS_PER_S="20000",
        RISKSTREAM_RISK__N_SCENARIOS="500",
        RISKSTREAM_BUS__URL=url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    )
    return env


def _prepare(env: dict[str, str]) -> None:
    """The universe and its history, made once before the stages start (they would race)."""
    old = dict(os.environ)
    os.environ.update(env)
    try:
        from riskstream.cli.universe import ensure_universe

        ensure_universe(load_config(Settings, None))
    finally:
        os.environ.clear()
        os.environ.update(old)


def _stage(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "riskstream", "run", "--stage", name],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _latest_stats(sub, seen: dict) -> None:
    for _, stats in sub.fetch(1024, 0.2):
        seen[stats.stage] = stats


def test_stages_as_processes_publish_snapshots_with_latencies(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    env = _env(tmp_path, nats_server.url)
    _prepare(env)
    topics = open_topics(BusConfig(url=nats_server.url))
    stats_sub = topics.subscribe(SUBJECTS["stats"], start_after=0)
    procs = {name: _stage(name, env, tmp_path / f"{name}.log") for name in ("risk", "md")}
    try:
        seen: dict = {}
        deadline = time.monotonic() + 240
        while not {"risk", "md"} <= set(seen):  # consumers ready before the feed starts
            assert time.monotonic() < deadline, "stages did not start"
            for name, p in procs.items():
                assert p.poll() is None, (tmp_path / f"{name}.log").read_text()[-2000:]
            _latest_stats(stats_sub, seen)
        procs["feed"] = _stage("feed", env, tmp_path / "feed.log")
        snaps = topics.subscribe(SUBJECTS["snapshot"], start_after=0)
        got = []
        while len(got) < 5 or (seen["risk"].figures.get("tick_to_risk_p99_ms") is None):
            assert time.monotonic() < deadline, "no snapshots"
            for name, p in procs.items():
                assert p.poll() is None, (tmp_path / f"{name}.log").read_text()[-2000:]
            got += snaps.fetch(16, 0.2)
            _latest_stats(stats_sub, seen)
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            p.wait(60)
        _latest_stats(stats_sub, seen)  # each stage's last report, sent as it stopped
        topics.close()
    # snapshots crossed the bus as typed messages, in order, stamped with market time
    seqs = [s for s, _ in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    ts = [snap.ts_ns for _, snap in got]
    assert ts == sorted(ts) and got[-1][1].headline.var > 0
    # every stage ended cleanly, and the latencies are per event: md counted each event it
    # applied, risk each event its snapshots reflect
    assert all(p.returncode == 0 for p in procs.values())
    md, risk = seen["md"], seen["risk"]
    assert np.sum(md.histograms["tick_to_book"]) == pytest.approx(md.figures["md_events"])
    assert 0 < np.sum(risk.histograms["tick_to_risk"]) <= md.figures["md_events"] * 1.001
    assert percentile_s(risk.histograms["tick_to_risk"], 50) > percentile_s(
        md.histograms["tick_to_book"], 50
    )  # a snapshot reflects an event after its book does
    assert risk.figures["risk_deltas"] > 0 and risk.figures["risk_snapshots"] >= 5


def test_up_restarts_a_killed_stage(tmp_path: Path, nats_server: NatsServer) -> None:
    from riskstream.runtime.supervisor import Supervisor

    env = _env(tmp_path, nats_server.url)
    _prepare(env)
    argv = [sys.executable, "-m", "riskstream", "run", "--stage", "md"]
    sup = Supervisor({"md": argv}, env=env, log_dir=tmp_path / "logs", backoff_s=0.2).start()
    topics = open_topics(BusConfig(url=nats_server.url))
    stats_sub = topics.subscribe(SUBJECTS["stats"], start_after=0)
    try:
        seen: dict = {}
        deadline = time.monotonic() + 240
        while "md" not in seen:
            assert time.monotonic() < deadline
            sup.poll()
            _latest_stats(stats_sub, seen)
        first = seen["md"].started_ns
        os.kill(sup.pid("md"), signal.SIGKILL)
        while seen["md"].started_ns == first:  # a new md process reports
            assert time.monotonic() < deadline
            sup.poll()
            _latest_stats(stats_sub, seen)
    finally:
        codes = sup.stop()
        topics.close()
    assert sup.children["md"].restarts == 1
    assert any("stage md exited (code -9)" in e for e in sup.events)
    assert codes["md"] == 0
