"""Run each stage as a local process and restart the ones that die (``riskstream up``).

The supervisor starts one ``riskstream run --stage NAME`` process per stage and watches
them. A stage that exits while the supervisor runs is logged (its exit code) and started
again after a back-off: ``restart_backoff_s``, doubled each time the stage dies again
within :data:`STABLE_S` seconds of its start, up to ``restart_backoff_max_s``; a stage that
stayed up longer starts over from the initial back-off. Stopping sends SIGTERM to every
stage, the feed first, and SIGKILL to any still running after ``stop_timeout_s``.

A restarted stage resumes where it left off: md from its checkpoint (books and partition
positions, exactly once), the others from the newest state on their subjects.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger("riskstream.supervisor")

STABLE_S = 10.0
"""A stage up this long is considered healthy: its next death restarts with the initial
back-off."""


@dataclass
class Child:
    """One supervised stage."""

    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    due: float | None = None  # when a scheduled restart is due (monotonic)
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """Start, watch and restart stage processes.

    Parameters
    ----------
    commands : mapping of str to argv
        Each stage's command line, in start order.
    env : mapping, optional
        The children's environment (default: this process's).
    log_dir : Path, optional
        Each stage's output goes to ``<log_dir>/<stage>.log`` (default: inherited).
    backoff_s, max_backoff_s : float
    stop_timeout_s : float
    """

    def __init__(
        self,
        commands: Mapping[str, Sequence[str]],
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        stop_timeout_s: float = 20.0,
    ):
        self.children = {name: Child(name, list(argv)) for name, argv in commands.items()}
        self.env = dict(env) if env is not None else dict(os.environ)
        self.log_dir = log_dir
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.stop_timeout_s = stop_timeout_s
        self._logs: dict[str, IO[bytes]] = {}
        self.events: list[str] = []  # what happened, for the caller to show

    def _note(self, text: str) -> None:
        """Log what happened and keep it for the caller (``up`` prints ``events``)."""
        log.info(text)
        self.events.append(text)

    def _spawn(self, child: Child) -> None:
        out: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = self._logs.get(child.name)
            if out is None:
                out = self._logs[child.name] = open(self.log_dir / f"{child.name}.log", "ab")  # noqa: SIM115
        child.process = subprocess.Popen(
            child.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT if out else None
        )
        child.started = time.monotonic()
        child.due = None

    def start(self) -> Supervisor:
        for child in self.children.values():
            self._spawn(child)
        return self

    def poll(self) -> None:
        """Notice dead stages and restart those whose back-off has passed."""
        now = time.monotonic()
        for child in self.children.values():
            if child.process is not None and child.process.poll() is not None:
                rc = child.process.returncode
                child.exits.append(rc)
                child.process = None
                quick = now - child.started < STABLE_S
                child.backoff_s = (
                    min(max(child.backoff_s * 2, self.backoff_s), self.max_backoff_s)
                    if quick
                    else self.backoff_s
                )
                child.due = now + child.backoff_s
                self._note(
                    f"stage {child.name} exited (code {rc}) after {now - child.started:.1f} s; "
                    f"restarting in {child.backoff_s:.1f} s"
                )
            if child.process is None and child.due is not None and now >= child.due:
                child.restarts += 1
                self._spawn(child)
                self._note(f"stage {child.name} restarted (restart {child.restarts})")

    def pid(self, name: str) -> int | None:
        process = self.children[name].process
        return None if process is None else process.pid

    def run(self, until: float | None = None, interval_s: float = 0.2) -> None:
        """Supervise until ``time.monotonic() >= until`` (forever if None)."""
        while until is None or time.monotonic() < until:
            self.poll()
            time.sleep(interval_s)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every stage (in start order: the feed first), then SIGKILL the ones left
        after ``stop_timeout_s``; each stage's exit code."""
        for child in self.children.values():
            child.due = None
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        codes: dict[str, int | None] = {}
        for child in self.children.values():
            if child.process is None:
                codes[child.name] = None
                continue
            try:
                child.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self._note(f"stage {child.name} did not stop in time: killed")
                child.process.kill()
                child.process.wait()
            codes[child.name] = child.process.returncode
        for out in self._logs.values():
            out.close()
        return codes
