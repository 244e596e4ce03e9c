"""Incremental extraction from the core-banking API into the warehouse's landing tables.

The client (:class:`BankClient`) speaks the API's shape (:mod:`.bank`): OAuth2 client
credentials with token refresh on 401, cursor pagination, ``If-None-Match`` with the ETag
it saw last, and retries with capped exponential backoff and full jitter (the AWS
Architecture Blog's recommendation) on 5xx and connection errors, honouring ``Retry-After``
on 429 and 503. :func:`extract` lands each raw page unchanged with its fetch time
(``landing_pages``), upserts each record by id into ``raw_<resource>`` and advances the
resource's watermark only after the page is stored, so a crash mid-run re-fetches at most
one page and the upserts make that harmless (idempotent).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from riskstream.core.errors import RiskstreamError
from riskstream.regulatory.reporting.bank import RESOURCES
from riskstream.regulatory.reporting.warehouse import Warehouse, raw_table_ddl


class ExtractionError(RiskstreamError):
    """The source kept failing past the retry budget."""


@dataclass
class RetryPolicy:
    attempts: int = 8
    base_s: float = 0.05
    cap_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.cap_s, self.base_s * 2**attempt))


@dataclass
class BankClient:
    base_url: str
    client_id: str
    client_secret: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 10.0
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "requests": 0,
            "retries": 0,
            "rate_limited": 0,
            "not_modified": 0,
            "tokens": 0,
        }
    )

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.base_url, timeout=self.timeout_s)
        self._token: str | None = None
        self._etags: dict[tuple[str, str | None, str | None], str] = {}

    def _authenticate(self) -> None:
        response = self._request(
            "POST",
            "/oauth/token",
            auth=(self.client_id, self.client_secret),
            data={"grant_type": "client_credentials"},
            authorised=False,
        )
        self._token = response.json()["access_token"]
        self.stats["tokens"] += 1

    def _request(
        self, method: str, url: str, *, authorised: bool = True, **kwargs: Any
    ) -> httpx.Response:
        for attempt in range(self.retry.attempts):
            headers = dict(kwargs.pop("headers", {}) or {})
            if authorised:
                if self._token is None:
                    self._authenticate()
                headers["Authorization"] = f"Bearer {self._token}"
            self.stats["requests"] += 1
            try:
                response = self._http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError:
                self.stats["retries"] += 1
                self.retry.sleep(self.retry.backoff(attempt))
                kwargs["headers"] = headers
                continue
            kwargs["headers"] = headers
            if response.status_code == 401 and authorised:
                self._token = None  # expired: fetch a new one and retry
                continue
            if response.status_code in (429, 503) or response.status_code >= 500:
                self.stats["retries"] += 1
                self.stats["rate_limited"] += response.status_code == 429
                after = response.headers.get("Retry-After")
                wait = float(after) if after and after.isdigit() else self.retry.backoff(attempt)
                self.retry.sleep(wait)
                continue
            if response.status_code >= 400:
                raise ExtractionError(
                    f"{method} {url}: HTTP {response.status_code} {response.text}"
                )
            return response
        raise ExtractionError(f"{method} {url}: still failing after {self.retry.attempts} attempts")

    def pages(
        self, resource: str, updated_since: str | None, limit: int = 200
    ) -> Iterator[tuple[dict[str, Any] | None, str | None, str | None]]:
        """Each page of ``resource`` changed after ``updated_since``: (body or None when
        unchanged since the ETag we hold, its ETag, the cursor that fetched it)."""
        cursor: str | None = None
        while True:
            params = {"limit": limit}
            if updated_since:
                params["updated_since"] = updated_since
            if cursor:
                params["cursor"] = cursor
            key = (resource, updated_since, cursor)
            headers = {"If-None-Match": self._etags[key]} if key in self._etags else {}
            response = self._request("GET", f"/v1/{resource}", params=params, headers=headers)
            etag = response.headers.get("ETag")
            if response.status_code == 304:
                self.stats["not_modified"] += 1
                return
            if etag:
                self._etags[key] = etag
            body = response.json()
            yield body, etag, cursor
            cursor = body.get("next_cursor")
            if not cursor:
                return

    def close(self) -> None:
        self._http.close()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def extract(
    client: BankClient, warehouse: Warehouse, resources: tuple[str, ...] = RESOURCES
) -> dict[str, int]:
    """Fetch every record changed since each resource's watermark; returns records landed."""
    landed: dict[str, int] = {}
    for resource in resources:
        warehouse.execute(raw_table_ddl(resource))
        mark = warehouse.query("SELECT updated_at FROM watermarks WHERE resource = ?", [resource])
        since = mark[0][0] if mark else None
        landed[resource] = 0
        for body, etag, cursor in client.pages(resource, since):
            fetched = _now()
            rows = body["data"]
            warehouse.execute(
                "INSERT INTO landing_pages VALUES (?, ?, ?, ?, ?, ?)",
                [resource, cursor, etag, fetched, len(rows), json.dumps(body, sort_keys=True)],
            )
            warehouse.upsert(
                f"raw_{resource}",
                ["id"],
                ["id", "updated_at", "payload", "fetched_at"],
                [
                    (
                        f"{r['id']}@{r['updated_at']}" if resource in _VERSIONED else r["id"],
                        r["updated_at"],
                        json.dumps(r, sort_keys=True),
                        fetched,
                    )
                    for r in rows
                ],
            )
            if rows:
                newest = max(r["updated_at"] for r in rows)
                warehouse.upsert(
                    "watermarks", ["resource"], ["resource", "updated_at"], [(resource, newest)]
                )
            landed[resource] += len(rows)
    return landed


#: Resources whose every version is kept (the id alone repeats: a trade's cancellation, a
#: counterparty's change); dbt's staging and snapshots resolve versions.
_VERSIONED = frozenset({"trades", "counterparties"})
