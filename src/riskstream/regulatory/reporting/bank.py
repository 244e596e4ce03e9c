"""A core-banking REST API in the shape of a real one, with seeded data: the stand-in for
the bank's system of record in tests and the demo (``riskstream bank serve``).

What a client of a real core-banking API has to cope with, it does here too:

* **OAuth2 client credentials** (RFC 6749 §4.4): ``POST /oauth/token`` with HTTP Basic
  client id and secret returns a bearer token that expires (``expires_in``); requests
  without a live token get 401.
* **Cursor pagination**: ``GET /v1/{resource}?updated_since=&cursor=&limit=`` returns
  ``{"data": [...], "next_cursor": ...}`` ordered by ``(updated_at, id)``, so a watermark on
  ``updated_at`` resumes exactly where the last extraction stopped.
* **Rate limits**: a token bucket per client; over it, 429 with ``Retry-After`` (seconds).
* **ETags**: each page carries a strong ETag; ``If-None-Match`` with it answers 304.
* **Transient failures**: every ``fail_every``-th request answers 503.

The data: the bank's own LEI, counterparties with LEIs (a few records deliberately bad —
a wrong check digit, an unknown country — so the pipeline's contracts have something to
quarantine), instruments with ISIN, CFI and MIC (equities and interest-rate swaps), accounts,
and trades over ``days`` business days with microsecond timestamps, trading capacity and
decision-maker codes; some counterparties change name or country mid-period (for the
pipeline's SCD2 snapshots), and some trades are later cancelled or corrected.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.security import HTTPBasic

from riskstream.regulatory.reporting.identifiers import isin_check_digit, lei_check_digits

RESOURCES = ("accounts", "counterparties", "instruments", "trades")
#: The reporting bank's own LEI (executing and submitting entity): a made-up prefix with
#: its true ISO 17442 check digits.
BANK_LEI = "529900RSKSTREAMBAN" + lei_check_digits("529900RSKSTREAMBAN")

_COUNTRIES = ("DE", "FR", "GB", "US", "NL", "IT", "ES", "IE", "LU", "CH")
_MICS = ("XETR", "XPAR", "XLON", "XNAS", "XNYS", "XAMS", "XMIL")


def _lei(rng: np.random.Generator) -> str:
    prefix = "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"), 18))
    return prefix + lei_check_digits(prefix)


def _isin(country: str, rng: np.random.Generator) -> str:
    prefix = country + "".join(rng.choice(list("0123456789"), 9))
    return prefix + isin_check_digit(prefix)


def _iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def seed_bank_data(
    seed: int = 7,
    *,
    start: dt.date = dt.date(2026, 10, 19),
    days: int = 5,
    trades_per_day: int = 200,
) -> dict[str, list[dict[str, Any]]]:
    """The bank's records, reproducible from ``seed``: resource → rows (with ``updated_at``)."""
    rng = np.random.default_rng(seed)
    t0 = dt.datetime.combine(start, dt.time(7, 0), dt.UTC)
    counterparties = []
    for i in range(40):
        country = _COUNTRIES[i % len(_COUNTRIES)]
        row = {
            "id": f"CP{i:04d}",
            "name": f"Counterparty {i} {country}",
            "lei": _lei(rng),
            "country": country,
            "investment_firm": bool(i % 3),
            "updated_at": _iso(t0),
        }
        counterparties.append(row)
    counterparties[7]["lei"] = counterparties[7]["lei"][:-1] + str(
        (int(counterparties[7]["lei"][-1]) + 1) % 10
    )  # a mistyped LEI: quarantined
    counterparties[11]["country"] = "XX"  # not an ISO 3166 country: quarantined
    for i in (3, 5):  # renamed and moved mid-period: the SCD2 snapshots keep both versions
        changed = dict(
            counterparties[i],
            name=counterparties[i]["name"] + " (merged)",
            country="IE",
            updated_at=_iso(t0 + dt.timedelta(days=2, hours=5)),
        )
        counterparties.append(changed)
    instruments = []
    for i in range(30):
        country = _COUNTRIES[i % 4]
        swap = i >= 24
        instruments.append(
            {
                "id": f"IN{i:04d}",
                "isin": _isin("EZ" if swap else country, rng),
                "cfi": "SRCCSP" if swap else "ESVUFR",
                "name": f"{'IRS' if swap else 'Share'} {i}",
                "currency": "EUR"
                if country in ("DE", "FR") or swap
                else "USD"
                if country == "US"
                else "GBP",
                "mic": "XXXX" if swap else _MICS[i % len(_MICS)],
                "asset_class": "swap" if swap else "equity",
                "tenor_years": int(rng.choice([2, 5, 10, 30])) if swap else None,
                "updated_at": _iso(t0),
            }
        )
    accounts = [
        {
            "id": f"AC{i:04d}",
            "counterparty_id": counterparties[i % 40]["id"],
            "currency": "EUR",
            "opened_on": "2020-01-02",
            "updated_at": _iso(t0),
        }
        for i in range(60)
    ]
    trades = []
    day, n = start, 0
    business_days = 0
    while business_days < days:
        if day.weekday() < 5:
            open_ = dt.datetime.combine(day, dt.time(8, 0), dt.UTC)
            for _ in range(trades_per_day):
                inst = instruments[int(rng.integers(len(instruments)))]
                account = accounts[int(rng.integers(len(accounts)))]
                when = open_ + dt.timedelta(microseconds=int(rng.integers(0, 8.5 * 3600e6)))
                swap = inst["asset_class"] == "swap"
                trades.append(
                    {
                        "id": f"TR{n:07d}",
                        "account_id": account["id"],
                        # the other side of the execution: the bank itself when it deals on own
                        # account, another firm when it executes the client's order (AOTC)
                        "client_id": account["counterparty_id"],
                        "counterparty_id": counterparties[int(rng.integers(40))]["id"],
                        "instrument_id": inst["id"],
                        "side": "B" if rng.random() < 0.5 else "S",
                        "quantity": str(int(rng.integers(1, 50)) * (1_000_000 if swap else 100)),
                        "price": f"{rng.uniform(0.5, 4.5):.4f}"
                        if swap
                        else f"{rng.uniform(10, 500):.2f}",
                        "price_currency": inst["currency"],
                        "venue_mic": inst["mic"],
                        "executed_at": _iso(when),
                        "capacity": "DEAL" if rng.random() < 0.7 else "AOTC",
                        "decision_maker": f"ALGO{int(rng.integers(1, 5))}",
                        "status": "NEWT",
                        "updated_at": _iso(when + dt.timedelta(seconds=1)),
                    }
                )
                n += 1
            business_days += 1
        day += dt.timedelta(days=1)
    for k in range(0, len(trades), 97):  # a cancellation (and a correction) of a trade
        cancel = dict(
            trades[k],
            status="CANC",
            updated_at=_iso(
                dt.datetime.fromisoformat(trades[k]["updated_at"]) + dt.timedelta(hours=2)
            ),
        )
        trades.append(cancel)
    trades[5]["price_currency"] = "EURO"  # a broken record: quarantined by the contract
    return {
        "accounts": accounts,
        "counterparties": counterparties,
        "instruments": instruments,
        "trades": trades,
    }


@dataclass
class BankBehaviour:
    """How hard the fake bank makes a client's life."""

    client_id: str = "riskstream"
    client_secret: str = "s3cret"
    token_ttl_s: float = 300.0
    rate_per_s: float = 50.0
    burst: int = 20
    fail_every: int = 0  # every n-th request answers 503; 0 never
    page_limit_max: int = 500
    _tokens: dict[str, float] = field(default_factory=dict)


def create_bank_app(
    data: dict[str, list[dict[str, Any]]] | None = None,
    behaviour: BankBehaviour | None = None,
) -> FastAPI:
    """The fake core-banking API over ``data`` (by default :func:`seed_bank_data`)."""
    data = data if data is not None else seed_bank_data()
    behaviour = behaviour or BankBehaviour()
    ordered = {
        name: sorted(rows, key=lambda r: (r["updated_at"], r["id"])) for name, rows in data.items()
    }
    app = FastAPI(title="Core banking (fake)")
    basic = HTTPBasic()
    lock = threading.Lock()
    state = {"requests": 0, "bucket": float(behaviour.burst), "refill": time.monotonic()}
    app.state.requests = state

    @app.post("/oauth/token")
    async def token(request: Request) -> dict[str, Any]:
        credentials = await basic(request)
        form = parse_qs((await request.body()).decode())  # application/x-www-form-urlencoded
        if form.get("grant_type") != ["client_credentials"]:
            raise HTTPException(400, {"error": "unsupported_grant_type"})
        if (credentials.username, credentials.password) != (
            behaviour.client_id,
            behaviour.client_secret,
        ):
            raise HTTPException(401, {"error": "invalid_client"})
        value = secrets.token_urlsafe(24)
        behaviour._tokens[value] = time.monotonic() + behaviour.token_ttl_s
        return {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": int(behaviour.token_ttl_s),
        }

    @app.get("/v1/{resource}")
    def page(
        resource: str,
        response: Response,
        updated_since: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
        authorization: str | None = Header(None),
        if_none_match: str | None = Header(None),
    ) -> Any:
        with lock:
            state["requests"] += 1
            count = state["requests"]
            now = time.monotonic()
            state["bucket"] = min(
                behaviour.burst, state["bucket"] + (now - state["refill"]) * behaviour.rate_per_s
            )
            state["refill"] = now
            limited = state["bucket"] < 1.0
            if not limited:
                state["bucket"] -= 1.0
        token = (authorization or "").removeprefix("Bearer ")
        if behaviour._tokens.get(token, 0.0) < time.monotonic():
            raise HTTPException(
                401, "missing or expired bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        if limited:
            wait = max(1, int(np.ceil(1.0 / behaviour.rate_per_s)))
            raise HTTPException(429, "rate limit exceeded", headers={"Retry-After": str(wait)})
        if behaviour.fail_every and count % behaviour.fail_every == 0:
            raise HTTPException(503, "temporarily unavailable")
        if resource not in ordered:
            raise HTTPException(404, f"unknown resource {resource!r}")
        if not 1 <= limit <= behaviour.page_limit_max:
            raise HTTPException(422, f"limit must be in 1..{behaviour.page_limit_max}")
        rows = ordered[resource]
        if updated_since:
            rows = [r for r in rows if r["updated_at"] > updated_since]
        start = int(base64.urlsafe_b64decode(cursor).decode()) if cursor else 0
        chunk = rows[start : start + limit]
        following = start + limit if start + limit < len(rows) else None
        body = {
            "data": chunk,
            "next_cursor": base64.urlsafe_b64encode(str(following).encode()).decode()
            if following is not None
            else None,
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        if if_none_match == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(text, media_type="application/json", headers={"ETag": etag})

    return app
