"""The core-banking client against the fake server's failure modes, incremental extraction
and the landing contracts (quarantine)."""

from __future__ import annotations

import time

import pytest

from riskstream.regulatory.reporting.bank import BankBehaviour, seed_bank_data
from riskstream.regulatory.reporting.contracts import enforce_contracts
from riskstream.regulatory.reporting.extract import (
    BankClient,
    ExtractionError,
    RetryPolicy,
    extract,
)
from riskstream.regulatory.reporting.warehouse import Warehouse
from tests.regulatory.conftest import SMALL


def client(url: str, sleeps: list[float] | None = None, attempts: int = 8) -> BankClient:
    """A client whose back-off waits are recorded (and really waited: the server's rate
    limit refills in real time)."""

    def wait(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        time.sleep(min(seconds, 1.0))

    return BankClient(
        url, "riskstream", "s3cret", RetryPolicy(attempts=attempts, base_s=0.01, sleep=wait)
    )


@pytest.fixture()
def warehouse(tmp_path):
    w = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    yield w
    w.close()


def test_pagination_lands_every_record_once(bank_server, warehouse) -> None:
    data = seed_bank_data(**SMALL)
    url = bank_server(data)
    c = client(url)
    pages = list(c.pages("trades", None, limit=7))
    ids = [(r["id"], r["updated_at"]) for body, _, _ in pages for r in body["data"]]
    assert len(ids) == len(set(ids)) == len(data["trades"])
    assert len(pages) == -(-len(data["trades"]) // 7)


def test_429_honours_retry_after(bank_server) -> None:
    url = bank_server(behaviour=BankBehaviour(rate_per_s=2.0, burst=2))
    sleeps: list[float] = []
    c = client(url, sleeps)
    list(c.pages("instruments", None, limit=5))  # 6 pages: the bucket empties after 2
    assert c.stats["rate_limited"] >= 1
    assert 1.0 in sleeps  # the server's Retry-After, not our own backoff


def test_5xx_are_retried_and_nothing_is_lost(bank_server, warehouse) -> None:
    data = seed_bank_data(**SMALL)
    c = client(bank_server(data, BankBehaviour(fail_every=2)))
    landed = extract(c, warehouse)
    assert c.stats["retries"] >= 2
    assert landed["trades"] == len(data["trades"])


def test_retry_budget_exhausted_is_an_error(bank_server) -> None:
    c = client(bank_server(behaviour=BankBehaviour(fail_every=1)), attempts=3)
    with pytest.raises(ExtractionError, match="still failing after 3 attempts"):
        list(c.pages("accounts", None))


def test_expired_token_is_refreshed(bank_server) -> None:
    c = client(bank_server(behaviour=BankBehaviour(token_ttl_s=0.2)))
    list(c.pages("accounts", None, limit=50))
    time.sleep(0.3)
    assert len(next(iter(c.pages("accounts", None, limit=49)))[0]["data"]) == 49
    assert c.stats["tokens"] == 2


def test_etag_answers_not_modified(bank_server) -> None:
    c = client(bank_server())
    first = list(c.pages("instruments", None, limit=100))
    again = list(c.pages("instruments", None, limit=100))
    assert len(first) == 1 and again == [] and c.stats["not_modified"] == 1


def test_incremental_and_idempotent(bank_server, warehouse) -> None:
    data = seed_bank_data(**SMALL)
    url = bank_server(data)
    first = extract(client(url), warehouse)
    assert extract(client(url), warehouse) == dict.fromkeys(first, 0)  # nothing new
    warehouse.execute("DELETE FROM watermarks")  # lose the watermarks: re-fetch everything
    extract(client(url), warehouse)
    (count,) = warehouse.query("SELECT count(*) FROM raw_trades")[0]
    assert count == len(data["trades"])  # upserts: no duplicates
    (pages,) = warehouse.query("SELECT count(*) FROM landing_pages WHERE resource = 'trades'")[0]
    assert pages >= 2  # every raw page landed, the re-fetch too (bronze is append-only)


def test_contracts_quarantine_with_reasons_and_lose_nothing(bank_server, warehouse) -> None:
    data = seed_bank_data(**SMALL)
    extract(client(bank_server(data)), warehouse)
    result = enforce_contracts(warehouse, "run-1")
    reasons = result.by_reason
    assert reasons["counterparties.lei: failed check ISO 17442 LEI check digits"] == 1
    assert reasons["counterparties.country: failed check ISO 3166 country"] == 1
    assert reasons["trades.price_currency: failed check ISO 4217 currency"] == 1
    assert any("references a quarantined record of counterparties" in r for r in reasons)
    rows = warehouse.query("SELECT source, record_id, field, value, reason FROM quarantine")
    assert (
        "trades",
        "TR0000005@" + data["trades"][5]["updated_at"],
        "price_currency",
        "EURO",
        "failed check ISO 4217 currency",
    ) in rows
    landed = sum(len(v) for v in data.values())
    assert result.checked == landed  # every landed record was checked, none dropped
