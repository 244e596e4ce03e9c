"""Stage processes over a real NATS JetStream server through a feed killed with SIGKILL and a
broker restarted under load.

* The feed (``riskstream run --stage feed``) killed mid-run and started again resumes where
  it stopped (``runtime.feed``): md applies every event of the run once — its sequencer's
  counts (gaps, duplicates, out of order) and its event count are those of one undisturbed
  pass, the streams hold each event once, and the books (md's market state, rebuilt from
  the deltas it published) equal the undisturbed pass's.
* nats-server killed (SIGKILL) and started again on its kept store while the feed, md, the
  position keeper and risk run: every stage rides the outage in place (the same process,
  ``bus_outages`` counted), nothing is lost or doubled (the same checks), and risk's
  snapshots keep consecutive sequence numbers with distinct lineages.

The feed is finite (``runtime.feed_seconds`` of the seeded simulator), so the final state is
well defined.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskstream.bus import BusConfig, open_bus
from riskstream.bus.nats_topics import NatsTopics
from riskstream.core.messages import SUBJECTS
from riskstream.risk.positions_view import digest
from riskstream.runtime.md import DELTA_COLUMNS
from riskstream.runtime.readers import DeltaReader
from tests.runtime.test_chaos import _restart_broker, _retry
from tests.runtime.test_chaos_stages import _undisturbed
from tests.runtime.test_processes import _env, _prepare

pytestmark = pytest.mark.slow

FEED_S = 5.0
SEQUENCE = ("gaps", "duplicates", "out_of_order", "recoveries")


def _stage(name: str, env: dict[str, str], logs: Path) -> subprocess.Popen:
    logs.mkdir(exist_ok=True)
    out = (logs / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "riskstream", "run", "--stage", name],
        env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip


class Run:
    """Stage processes, their latest StageStats, and a replica of md's market state."""

    def __init__(self, url: str, env: dict[str, str], logs: Path, n_instruments: int):
        self.env, self.logs = env, logs
        self.topics = NatsTopics(BusConfig(url=url), timeout_s=1.0)
        self.stats_sub = self.topics.subscribe(SUBJECTS["stats"], start_after=0)
        self.snaps = self.topics.subscribe(SUBJECTS["snapshot"], start_after=0)
        self.replica = DeltaReader(self.topics, n_instruments)
        self.replica.sub.close()
        self.replica.sub = self.topics.subscribe(SUBJECTS["market"], start_after=0)
        self.procs: dict[str, subprocess.Popen] = {}
        self.stats: dict[str, Any] = {}
        self.snapshots: list[tuple[int, Any]] = []

    def start(self, name: str) -> None:
        self.procs[name] = _stage(name, self.env, self.logs)

    def pump(self) -> None:
        for _, stats in _retry(lambda: self.stats_sub.fetch(1024, 0.05)):
            self.stats[stats.stage] = stats
        self.snapshots += _retry(lambda: self.snaps.fetch(256, 0.0))
        _retry(lambda: self.replica.read(0.0))
        for name, p in self.procs.items():
            log = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
            assert p.poll() is None, f"stage {name} exited ({p.returncode}):\n{log}"

    def wait(self, what: str, ready: Any, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            assert time.monotonic() < deadline, f"{what}: {self.stats}"
            self.pump()

    def figure(self, stage: str, name: str) -> Any:
        stats = self.stats.get(stage)
        return None if stats is None else stats.figures.get(name)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.topics.close()


def _settings(tmp_path: Path, url: str) -> dict[str, str]:
    env = _env(tmp_path, url)
    env.update(
        RISKSTREAM_RUNTIME__FEED_SECONDS=str(FEED_S),
        RISKSTREAM_RUNTIME__FEED_CHECKPOINT_S="0.5",
        RISKSTREAM_RUNTIME__CHECKPOINT_S="0.5",
    )
    _prepare(env)
    return env


def _stored_events(url: str) -> int:
    """How many events the partitions' streams hold."""
    bus = open_bus(BusConfig(url=url))
    try:
        consumer = bus.consumer("count", start_after=dict.fromkeys(range(bus.partitions), 0))
        stored = 0
        while messages := consumer.fetch(4096, 0.5):
            stored += sum(len(m.events) for m in messages)
        consumer.close()
    finally:
        bus.close()
    return stored


def _assert_once_and_equal(run: Run, url: str, reference: Any) -> None:
    """md applied every event once, the streams hold each once, and md's books (as its
    deltas rebuilt them) equal the undisturbed pass's."""
    total = reference.events
    run.wait(
        "md applies every event",
        lambda: (
            run.figure("md", "md_events") == total
            and run.replica.caught_up()
            and digest(run.replica.state.seq) == digest(reference.market_state.seq)
        ),
    )
    md = run.stats["md"].figures
    counts = reference.engine.sequence_counts()
    assert {k: md[k] for k in SEQUENCE} == {k: counts[k] for k in SEQUENCE}
    # nothing published twice (md's sequencer would have dropped a second copy quietly)
    assert _stored_events(url) == total
    for column in DELTA_COLUMNS:
        if column == "stale":  # judged in wall time
            continue
        np.testing.assert_array_equal(
            getattr(run.replica.state, column),
            getattr(reference.market_state, column),
            err_msg=column,
        )


def test_a_feed_killed_and_restarted_publishes_each_event_once(tmp_path: Path, nats_server) -> None:
    env = _settings(tmp_path, nats_server.url)
    _, universe, reference = _undisturbed(env, FEED_S)
    run = Run(nats_server.url, env, tmp_path / "logs", len(universe))
    try:
        run.start("md")
        run.wait("md starts", lambda: "md" in run.stats)
        run.start("feed")
        run.wait("the feed publishes", lambda: (run.figure("feed", "feed_events") or 0) > 0)
        time.sleep(1.3)  # mid-run, between two of its checkpoints (0.5 s apart)
        run.procs["feed"].send_signal(signal.SIGKILL)
        run.procs["feed"].wait(10)
        stored_at_kill = _stored_events(nats_server.url)
        first = run.stats["feed"].started_ns
        run.start("feed")  # the same command, as the supervisor would
        run.wait("the feed restarts", lambda: run.stats["feed"].started_ns != first)
        assert run.figure("feed", "feed_resume_skipped_events") > 0  # it did regenerate
        _assert_once_and_equal(run, nats_server.url, reference)
        assert 0 < stored_at_kill < reference.events
    finally:
        run.stop()


def test_a_broker_restart_costs_a_pause_not_a_process(tmp_path: Path, nats_server) -> None:
    env = _settings(tmp_path, nats_server.url)
    _, universe, reference = _undisturbed(env, FEED_S)
    run = Run(nats_server.url, env, tmp_path / "logs", len(universe))
    stages = ("positions", "risk", "md")
    try:
        for name in stages:
            run.start(name)
        run.wait("stages start", lambda: all(s in run.stats for s in stages))
        run.start("feed")
        run.wait("the feed publishes", lambda: (run.figure("feed", "feed_events") or 0) > 0)
        time.sleep(1.5)
        pids = {name: p.pid for name, p in run.procs.items()}
        _restart_broker(nats_server)
        _assert_once_and_equal(run, nats_server.url, reference)

        # md and the feed met it: in a read or a publication (NodeHost's outages), or only
        # in a publish retried in place (md's deltas); the others may have met it between
        # two reads, or not at all
        def met(stage: str) -> bool:
            return (run.figure(stage, "bus_outages") or 0) + (
                run.figure(stage, "bus_publish_retries") or 0
            ) >= 1

        run.wait("md and the feed report the outage", lambda: met("md") and met("feed"))
        # the same processes throughout (pump() fails on any that exited)
        assert {name: p.pid for name, p in run.procs.items()} == pids
        started = {name: run.stats[name].started_ns for name in (*stages, "feed")}
        run.wait("a snapshot after the outage", lambda: run.snapshots
                 and run.snapshots[-1][1].market_seq_digest
                 == digest(reference.market_state.seq))  # fmt: skip
        assert {name: run.stats[name].started_ns for name in started} == started
    finally:
        run.stop()
    seqs = [s for s, _ in run.snapshots]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len({m.lineage_id for _, m in run.snapshots}) == len(seqs)
