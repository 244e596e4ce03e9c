"""Real servers for the tests: each started from its binary on a free loopback port.

PostgreSQL (``initdb`` + ``pg_ctl``), Redis (``redis-server``) and NATS with JetStream
(``nats-server -js``) run as child processes with their data in a temporary folder, and stop
when the test session ends. A missing binary skips the tests that need it — unless
``RISKSTREAM_REQUIRE_SERVICES=1`` (as in CI), where it fails them instead.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REQUIRE_SERVICES = os.environ.get("RISKSTREAM_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip the test for lack of a server, or fail it where servers are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (RISKSTREAM_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def find_binary(name: str, *extra_dirs: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in extra_dirs:
        for candidate in sorted(Path("/").glob(folder.lstrip("/")), reverse=True):
            if (candidate / name).exists():
                return str(candidate / name)
    return None


class NatsServer:
    """A NATS server with JetStream whose port and store survive stop/start (for crash tests)."""

    def __init__(self) -> None:
        self.binary = find_binary("nats-server", "/usr/sbin", "/usr/local/bin")
        if self.binary is None:
            unavailable("nats-server is not on PATH")
        self.port = free_port()
        self.store_dir = tempfile.mkdtemp(prefix="rs-nats-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store_dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self, kill: bool = False) -> None:
        if self.process is not None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=20)
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.store_dir, ignore_errors=True)


class RedisServer:
    """A Redis server that keeps nothing on disk."""

    def __init__(self) -> None:
        self.binary = find_binary("redis-server")
        if self.binary is None:
            unavailable("redis-server is not on PATH")
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cleanup(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


class PostgresServer:
    """A throw-away PostgreSQL cluster (``initdb`` into a temporary folder, trust auth).

    PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to
    the ``postgres`` system user.
    """

    def __init__(self) -> None:
        self.initdb = find_binary("initdb", "/usr/lib/postgresql/*/bin")
        self.pg_ctl = find_binary("pg_ctl", "/usr/lib/postgresql/*/bin")
        if self.initdb is None or self.pg_ctl is None:
            unavailable("PostgreSQL's initdb/pg_ctl are not on PATH")
        self.root = Path(tempfile.mkdtemp(prefix="rs-pg-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        self._run([self.initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self._run(
            [
                self.pg_ctl,
                "-D",
                str(data),
                "-l",
                str(self.root / "log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {self.root} -h 127.0.0.1 -F",
                "start",
            ]
        )
        self.data = data

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(self.as_user + cmd, check=True, capture_output=True, cwd=self.root)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def cleanup(self) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "fast", "stop"],
            capture_output=True,
            cwd=self.root,
        )
        shutil.rmtree(self.root, ignore_errors=True)


_database_counter = itertools.count()


def postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database ``<prefix>_<n>`` on the PostgreSQL server at ``server_url``:
    yields its URL, and drops it when resumed (a fixture's teardown, or ``next(it, None)``)."""
    name = f"{prefix}_{next(_database_counter)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
