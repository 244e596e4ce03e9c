"""The WebSocket stream (``/api/v1/stream``): risk state and alerts, pushed live.

Authentication: send the key in the ``X-API-Key`` header of the upgrade request (servers,
scripts) or — from a browser, which cannot set headers on a WebSocket — as the first
message, ``{"type": "auth", "api_key": "..."}``, within five seconds. A bad key closes the
socket with code 4401. Keys never travel in the URL, so they never reach access logs.

Messages (JSON), every ``push_interval_ms`` (default 250 ms, so at least once a second):

``{"type": "snapshot", ...}``
    when a new snapshot arrived: the compact record (VaR/ES/L-VaR per measure, P&L,
    aggregates, top contributors, regime probabilities), its ``stale``/``age_s``, the
    limit utilisation rows (``utilisation``; ``limits_available`` false when no limits
    stage publishes) and the kill switches (``kill_switches``);
``{"type": "alert", ...}``
    each new limit alert, once;
``{"type": "heartbeat", "stale": ..., "age_s": ...}``
    otherwise, so a client sees freshness even when the pipeline stalls.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from riskstream.service.auth import Principal
from riskstream.service.context import ServiceContext

router = APIRouter()
log = logging.getLogger("riskstream.service.stream")
AUTH_TIMEOUT_S = 5.0


async def _authenticate(ws: WebSocket, ctx: ServiceContext) -> Principal | None:
    key = ws.headers.get("x-api-key")
    if key is None:
        try:
            first = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
            message = json.loads(first)
            key = message.get("api_key") if isinstance(message, dict) else None
        except (TimeoutError, ValueError, WebSocketDisconnect):
            key = None
    return await asyncio.to_thread(ctx.keys.authenticate, key)


def _snapshot_message(ctx: ServiceContext) -> dict[str, Any] | None:
    summary = ctx.feed.latest_summary()
    if summary is None:
        return None
    age_s = max(0.0, (ctx.clock.now_ns() - summary["published_ns"]) / 1e9)
    return {
        "type": "snapshot",
        **summary,
        "age_s": age_s,
        "stale": age_s > ctx.config.stale_after_s,
    }


def _limits_message(ctx: ServiceContext) -> dict[str, Any]:
    """The limits part of a snapshot message (may read the reference DB: off the loop)."""
    return {
        "utilisation": ctx.limits.utilisation(),
        "limits_available": ctx.limits.available(),
        "kill_switches": ctx.limits.switches(),
    }


async def _send(ws: WebSocket, message: dict[str, Any]) -> None:
    # Strict JSON (browsers reject NaN): the cache already maps non-finite numbers to null.
    await ws.send_text(json.dumps(message, allow_nan=False, default=str))


@router.websocket("/stream")
async def stream(ws: WebSocket) -> None:
    ctx: ServiceContext = ws.app.state.ctx
    await ws.accept()
    principal = await _authenticate(ws, ctx)
    if principal is None:
        await _send(ws, {"type": "error", "detail": "missing or invalid API key"})
        await ws.close(code=4401)
        return
    await _send(ws, {"type": "hello", "name": principal.name, "role": principal.role.label})
    ctx.metrics.ws_clients.inc()
    log.info("stream opened", extra={"principal": principal.name})
    interval = ctx.config.push_interval_ms / 1000
    seen_version = -1
    last_alert = 0
    try:
        # The first snapshot message carries the recent history, so charts start full.
        history = ctx.feed.history_between()[-300:]
        await _send(ws, {"type": "history", "items": history})
        if history:
            seen_version = ctx.feed.version
        alerts = ctx.limits.alerts(0)[-50:]
        for alert in alerts:
            await _send(ws, {"type": "alert", **alert.as_dict()})
        last_alert = alerts[-1].alert_id if alerts else 0
        while True:
            version = ctx.feed.version
            message = _snapshot_message(ctx)
            if message is not None and version != seen_version:
                seen_version = version
                message |= await asyncio.to_thread(_limits_message, ctx)
                await _send(ws, message)
            else:
                cached_age = None if message is None else message["age_s"]
                await _send(
                    ws,
                    {
                        "type": "heartbeat",
                        "age_s": cached_age,
                        "stale": message is None or message["stale"],
                    },
                )
            for alert in ctx.limits.alerts(last_alert):
                await _send(ws, {"type": "alert", **alert.as_dict()})
                last_alert = alert.alert_id
            await asyncio.sleep(interval)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        ctx.metrics.ws_clients.dec()
        log.info("stream closed", extra={"principal": principal.name})
