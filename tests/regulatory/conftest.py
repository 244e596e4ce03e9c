"""A live fake core-banking API on a free port (uvicorn in a thread) for the pipeline tests."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn

from riskstream.regulatory.reporting.bank import BankBehaviour, create_bank_app, seed_bank_data
from tests.servers import free_port

SMALL = {"start": dt.date(2026, 10, 19), "days": 2, "trades_per_day": 40}


@pytest.fixture()
def bank_server() -> Iterator[Callable[..., str]]:
    """Start a fake bank with the given data and behaviour; returns its base URL."""
    servers: list[uvicorn.Server] = []

    def start(data=None, behaviour: BankBehaviour | None = None) -> str:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_bank_app(
                    data if data is not None else seed_bank_data(**SMALL),
                    behaviour or BankBehaviour(),
                ),
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
        )
        threading.Thread(target=server.run, daemon=True).start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        servers.append(server)
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.should_exit = True
