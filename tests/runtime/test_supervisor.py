"""The supervisor of `riskstream up`: a stage that dies is logged and restarted after its
back-off, which doubles while it keeps dying quickly."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from riskstream.runtime.supervisor import Supervisor


def _wait(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_killed_stage_is_restarted_with_backoff(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
    quitter = [sys.executable, "-c", "import sys; sys.exit(3)"]
    sup = Supervisor({"steady": sleeper, "flaky": quitter}, log_dir=tmp_path, backoff_s=0.2,
                     max_backoff_s=0.8).start()  # fmt: skip
    try:
        first = sup.pid("steady")
        assert first is not None
        os.kill(first, signal.SIGKILL)  # kill -9 of a stage
        _wait(lambda: (sup.poll(), sup.pid("steady"))[1] not in (None, first))
        steady = sup.children["steady"]
        assert steady.restarts == 1 and steady.exits == [-signal.SIGKILL]
        assert any("stage steady exited (code -9)" in e for e in sup.events)
        assert any("stage steady restarted" in e for e in sup.events)
        # a stage that keeps dying at once: 0.2, 0.4, 0.8, 0.8 s between its restarts
        _wait(lambda: (sup.poll(), sup.children["flaky"].restarts)[1] >= 4)
        assert sup.children["flaky"].backoff_s == 0.8
        assert set(sup.children["flaky"].exits) == {3}
    finally:
        codes = sup.stop()
    assert codes["steady"] == -signal.SIGTERM
    assert "up" in (tmp_path / "steady.log").read_text()
