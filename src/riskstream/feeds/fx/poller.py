"""Poll the public FX-rate APIs: async httpx, timeouts, retries with backoff, a circuit
breaker per source, and respect for rate limits.

One poll asks every *due* source concurrently (:meth:`FxPoller.poll_once`). A source is due
``max(poll_interval_s, its interval_s)`` after its previous poll — later if its response
named its next update (open.er-api) or a 429 named a ``Retry-After`` — and only while its
circuit breaker lets it through.

Each request has a whole-request timeout. A timeout, a connection error, HTTP 429 or 5xx
is retried up to ``retries`` times, waiting ``backoff_s``, then twice that, and so on
(exponential backoff; no jitter: five sources polled minutes apart do not stampede). A 429
waits its ``Retry-After`` instead (seconds or an HTTP date) when that is at most
``max_retry_after_s``; a longer one ends the poll and the source is not asked before that
time. Other 4xx (a bad key, a moved endpoint) and a body that does not parse fail at once:
asking again would not help.

**Circuit breaker** (Nygard, *Release It!*): ``breaker_failures`` consecutive failed polls
open the source's breaker; for ``breaker_reset_s`` it is not asked at all (a dead API costs
nothing and slows nothing); then one trial poll (half-open) closes it on success or opens
it again on failure.

The latest good response of every source is kept; whenever one changes (new bytes) or a
source's fetch fails, the poll writes a response set (:mod:`riskstream.feeds.fx.responses`:
every response used, with its fetch time, and the rejected bodies) and aggregates it, so
every published rate can be recomputed from the saved set by ``riskstream fx aggregate``.

**Keys** (exchangerate.host's ``access_key``) travel only as a query parameter of the
request: every URL saved or reported shows ``***`` instead, and a filter on the ``httpx``
logger masks the key in its request log lines.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from riskstream.core.clock import NS_PER_S, Clock
from riskstream.core.errors import InputError, RiskstreamError
from riskstream.feeds.fx.aggregate import FxAggregate, aggregate, iso_ns
from riskstream.feeds.fx.config import FxConfig, FxSourceConfig
from riskstream.feeds.fx.responses import RawResponse, save_set
from riskstream.feeds.fx.sources import SOURCES, SourceQuotes, parse

log = logging.getLogger("riskstream.feeds.fx")

REDACTED = "***"
MAX_BODY_BYTES = 5_000_000
"""A response larger than this is refused (the largest, currency-api, is ~10 kB)."""


class FetchError(RiskstreamError):
    """One source's poll failed; ``retry_after_ns`` is the earliest next try it allows."""

    def __init__(self, message: str, retry_after_ns: int | None = None):
        super().__init__(message)
        self.retry_after_ns = retry_after_ns


class _RetryableError(Exception):
    def __init__(self, message: str, wait_s: float | None = None):
        super().__init__(message)
        self.wait_s = wait_s


class CircuitBreaker:
    """Closed (asking) -> open after ``failures`` consecutive failures -> half-open (one
    trial) after ``reset_ns`` -> closed on a success, open again on a failure."""

    def __init__(self, failures: int, reset_ns: int):
        self.threshold = failures
        self.reset_ns = reset_ns
        self.consecutive = 0
        self.opened_ns: int | None = None

    def state(self, now_ns: int) -> str:
        if self.opened_ns is None:
            return "closed"
        return "open" if now_ns - self.opened_ns < self.reset_ns else "half-open"

    def allow(self, now_ns: int) -> bool:
        return self.state(now_ns) != "open"

    def success(self) -> None:
        self.consecutive = 0
        self.opened_ns = None

    def failure(self, now_ns: int) -> None:
        self.consecutive += 1
        if self.opened_ns is not None or self.consecutive >= self.threshold:
            self.opened_ns = now_ns  # trip, or re-open after a failed trial


@dataclass
class SourceState:
    """What the poller knows of one source between polls."""

    breaker: CircuitBreaker
    next_due_ns: int = 0
    last: RawResponse | None = None
    quotes: SourceQuotes | None = None
    error: str | None = None
    polls: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class PollResult:
    """One poll: what was asked, what came back, and the aggregate when a set was written.

    ``folder`` and ``aggregate`` are None when nothing changed since the previous set
    (every due source sent the same bytes again, or none was due).
    """

    ts_ns: int
    fetched: tuple[str, ...]
    errors: dict[str, str]
    skipped: dict[str, str]
    folder: Path | None = None
    aggregate: FxAggregate | None = None
    breakers: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fetched": list(self.fetched),
            "errors": self.errors,
            "skipped": self.skipped,
            "breakers": self.breakers,
            "responses": str(self.folder) if self.folder else None,
        }
        if self.aggregate is not None:
            out |= self.aggregate.as_json()
        return out


class _KeyMask(logging.Filter):
    """Masks secret values in the records of the logger it is attached to."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            for s in self.secrets:
                text = text.replace(s, REDACTED)
            record.msg, record.args = text, None
        return True


def retry_after_s(value: str | None, now_ns: int) -> float | None:
    """A ``Retry-After`` header in seconds from now (delta-seconds or an HTTP date; RFC
    9110 §10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_ns / NS_PER_S)


class FxPoller:
    """Polls the configured sources and aggregates what they answer.

    Parameters
    ----------
    config : FxConfig
    responses_dir : Path
        Where response sets are written.
    clock : Clock
        Fetch times, due times and breaker timing.
    transport : httpx.AsyncBaseTransport, optional
        The HTTP transport (default: httpx's, over the network).
    sleep : callable, optional
        ``await sleep(seconds)`` for backoff waits (tests pass a fast one).
    """

    def __init__(
        self,
        config: FxConfig,
        responses_dir: Path,
        *,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.config = config
        self.responses_dir = Path(responses_dir)
        self.clock = clock
        self.transport = transport
        self.sleep = sleep
        key = config.exchangerate_host_access_key
        self._key = key.get_secret_value() if key is not None else ""
        self._mask = _KeyMask([self._key])
        self.state = {
            name: SourceState(
                CircuitBreaker(config.breaker_failures, int(config.breaker_reset_s * NS_PER_S))
            )
            for name in SOURCES
        }

    def source_config(self, name: str) -> FxSourceConfig:
        return getattr(self.config, SOURCES[name].setting)

    def redact(self, text: str) -> str:
        """``text`` with the access key masked."""
        return text.replace(self._key, REDACTED) if self._key else text

    def _skip_reason(self, name: str, now_ns: int) -> str | None:
        cfg = self.source_config(name)
        st = self.state[name]
        if not cfg.enabled:
            return "disabled in the settings"
        if SOURCES[name].key_param and not self._key:
            return "no access key (fx.exchangerate_host_access_key)"
        if not st.breaker.allow(now_ns):
            reopen = (st.breaker.opened_ns or 0) + st.breaker.reset_ns
            return f"circuit breaker open until {iso_ns(reopen)}"
        if now_ns < st.next_due_ns:
            return f"not due before {iso_ns(st.next_due_ns)}"
        return None

    async def _get(self, client: httpx.AsyncClient, name: str) -> RawResponse:
        """One source's response, with retries; raises :class:`FetchError`."""
        src, cfg = SOURCES[name], self.source_config(name)
        params = dict(src.params)
        if src.key_param:
            params[src.key_param] = self._key
        shown = self.redact(str(httpx.URL(cfg.url, params=params)))
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            try:
                response = await client.get(cfg.url, params=params)
                status = response.status_code
                if status == 429:
                    wait = retry_after_s(response.headers.get("Retry-After"), self.clock.now_ns())
                    if wait is not None and wait > self.config.max_retry_after_s:
                        raise FetchError(
                            f"{shown}: HTTP 429 rate-limited, Retry-After {wait:.0f} s "
                            f"(over fx.max_retry_after_s); not asked again before then",
                            self.clock.now_ns() + int(wait * NS_PER_S),
                        )
                    raise _RetryableError(f"HTTP 429 rate-limited (Retry-After {wait})", wait)
                if status >= 500:
                    raise _RetryableError(f"HTTP {status}")
                if status != 200:
                    raise FetchError(f"{shown}: HTTP {status} {response.reason_phrase}")
                if len(response.content) > MAX_BODY_BYTES:
                    raise FetchError(f"{shown}: body of {len(response.content)} bytes refused")
                return RawResponse(name, response.content, self.clock.now_ns(), shown, status)
            except (httpx.TimeoutException, httpx.TransportError, _RetryableError) as exc:
                reason = (
                    f"timed out after {self.config.timeout_s:g} s ({type(exc).__name__})"
                    if isinstance(exc, httpx.TimeoutException)
                    else str(exc) or type(exc).__name__
                )
                if attempt + 1 == attempts:
                    raise FetchError(
                        f"{shown}: {self.redact(reason)} ({attempts} attempt(s))"
                    ) from None
                wait = getattr(exc, "wait_s", None)
                await self.sleep(wait if wait is not None else self.config.backoff_s * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _poll_source(
        self, client: httpx.AsyncClient, name: str
    ) -> tuple[str, RawResponse | None, str | None, RawResponse | None]:
        """(name, new good response or None, error or None, rejected body or None)."""
        st, cfg = self.state[name], self.source_config(name)
        st.polls += 1
        started = self.clock.now_ns()
        interval = max(self.config.poll_interval_s, cfg.interval_s)
        st.next_due_ns = started + int(interval * NS_PER_S)
        try:
            raw = await self._get(client, name)
            quotes = parse(name, raw.body)
        except FetchError as exc:
            return self._failed(name, str(exc), exc.retry_after_ns), None, str(exc), None
        except InputError as exc:
            message = f"{raw.url}: unusable response: {exc}"
            return self._failed(name, message, None), None, message, raw
        st.breaker.success()
        st.error = None
        if quotes.next_ns is not None:
            st.next_due_ns = max(st.next_due_ns, quotes.next_ns)
        if st.last is not None and st.last.body == raw.body:
            return name, None, None, None  # the same bytes again: nothing new
        st.last, st.quotes = raw, quotes
        return name, raw, None, None

    def _failed(self, name: str, message: str, retry_after_ns: int | None) -> str:
        st = self.state[name]
        st.failures += 1
        st.error = message
        st.breaker.failure(self.clock.now_ns())
        if retry_after_ns is not None:
            st.next_due_ns = max(st.next_due_ns, retry_after_ns)
        log.warning("fx source %s failed: %s", name, self.redact(message))
        return name

    async def poll_once(self, *, force: bool = False) -> PollResult:
        """Ask every due source once, concurrently; write and aggregate a response set when
        anything changed (or ``force``)."""
        now = self.clock.now_ns()
        skipped = {n: r for n in SOURCES if (r := self._skip_reason(n, now)) is not None}
        due = [n for n in SOURCES if n not in skipped]
        httpx_log = logging.getLogger("httpx")
        httpx_log.addFilter(self._mask)
        try:
            async with httpx.AsyncClient(
                timeout=httpx.Timeout(self.config.timeout_s),
                transport=self.transport,
                headers={"User-Agent": "riskstream-fx"},
                follow_redirects=True,
            ) as client:
                outcomes = await asyncio.gather(*(self._poll_source(client, n) for n in due))
        finally:
            httpx_log.removeFilter(self._mask)
        fetched = tuple(n for n, raw, _, _ in outcomes if raw is not None)
        errors = {n: err for n, _, err, _ in outcomes if err is not None}
        rejected = {n: bad for n, _, _, bad in outcomes if bad is not None}
        ts = self.clock.now_ns()
        breakers = {n: st.breaker.state(ts) for n, st in self.state.items()}
        if not (fetched or errors or force):
            return PollResult(ts, fetched, errors, skipped, breakers=breakers)
        return self._publish(ts, fetched, errors, skipped, rejected, breakers)

    def _publish(
        self,
        ts: int,
        fetched: tuple[str, ...],
        errors: dict[str, str],
        skipped: dict[str, str],
        rejected: Mapping[str, RawResponse],
        breakers: dict[str, str],
    ) -> PollResult:
        held = {n: st.last for n, st in self.state.items() if st.last is not None}
        folder = save_set(self.responses_dir, held, errors, ts, rejected)
        quotes = [st.quotes for st in self.state.values() if st.quotes is not None]
        failures = {}  # sources with no response held: why
        for n, st in self.state.items():
            if st.last is None:
                failures[n] = st.error or f"not polled: {skipped.get(n, 'no response yet')}"
        result = aggregate(quotes, self.config, failures=failures)
        return PollResult(ts, fetched, errors, skipped, folder, result, breakers)

    async def run(
        self,
        on_result: Callable[[PollResult], None],
        *,
        polls: int | None = None,
    ) -> None:
        """Poll every ``poll_interval_s`` (``polls`` times, or until cancelled), handing
        each result to ``on_result``."""
        done = 0
        while polls is None or done < polls:
            started = self.clock.now_ns()
            on_result(await self.poll_once(force=done == 0))
            done += 1
            if polls is None or done < polls:
                spent = (self.clock.now_ns() - started) / NS_PER_S
                await self.sleep(max(0.0, self.config.poll_interval_s - spent))
