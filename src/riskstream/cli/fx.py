"""``riskstream fx poll|aggregate``: FX rates aggregated from free public APIs.

``fx poll`` asks the configured sources (``[fx]`` settings) every ``poll_interval_s``,
saves every raw response set, stores each published aggregate in the history store's
``fx_rates`` table and prints it. ``fx aggregate`` recomputes an aggregate from a saved
(or hand-made) response set, offline: the audit path.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from riskstream.cli import app, print_json, settings
from riskstream.core.clock import NS_PER_S, SystemClock
from riskstream.core.errors import InputError
from riskstream.feeds.fx import FxAggregate, FxPoller, PollResult, aggregate, load_set
from riskstream.feeds.fx.publish import FxPublisher
from riskstream.settings import Settings
from riskstream.store.market_history import MarketHistory

fx_app = typer.Typer(
    help="FX rates from free public APIs (ECB, Frankfurter, open.er-api, exchangerate.host, "
    "currency-api): polled, normalised and combined with provenance.",
    no_args_is_help=True,
)
app.add_typer(fx_app, name="fx")


def _base(value: str | None) -> str | None:
    if value is not None and not (len(value) == 3 and value.isalpha() and value.isupper()):
        raise InputError("--base", value, "a three-letter upper-case currency code (USD)")
    return value


def _as_of_ns(value: str | None) -> int | None:
    """``--as-of``: an ISO date or date-time (UTC unless it names its offset)."""
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            "--as-of", value, "an ISO date or date-time, e.g. 2024-06-29T00:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp()) * NS_PER_S + when.microsecond * 1000


def responses_dir(cfg: Settings) -> Path:
    """Where ``fx poll`` saves response sets (``fx.responses_dir``, default under the
    store's ``data_dir``)."""
    return cfg.fx.responses_dir or cfg.store.data_dir / "fx" / "responses"


@fx_app.command("aggregate")
def aggregate_command(
    ctx: typer.Context,
    responses: Path = typer.Option(
        ...,
        "--responses",
        help="A folder of saved responses: ecb.xml, frankfurter.json, open-er-api.json, "
        "exchangerate-host.json, currency-api.json (a missing file: the source did not "
        "answer).",
    ),
    base: str | None = typer.Option(None, "--base", help="Base currency (default fx.base)."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Judge staleness against this time, not the newest response."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Aggregate a saved response set: rates per one unit of the base, the sources used
    for each (rate, weight) and the sources excluded with why."""
    cfg = settings(ctx)
    quotes, failures = load_set(responses)
    result = aggregate(
        quotes, cfg.fx, failures=failures, base=_base(base), as_of_ns=_as_of_ns(as_of)
    )
    if as_json:
        print_json(result.as_json())
        return
    _print_aggregate(result, str(responses))


@fx_app.command("poll")
def poll_command(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Poll once and exit."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object per poll (one line each)."
    ),
    bus: str | None = typer.Option(
        None,
        "--bus",
        help="Also publish each aggregate as FX marks on this bus (nats://host:port), where "
        "the risk stage of `riskstream up` translates with them.",
    ),
) -> None:
    """Poll the sources every fx.poll_interval_s (each source at its own slower interval),
    save each response set, store each aggregate in the history store (fx_rates), publish
    it on the bus when ``--bus`` is given, and print it."""
    from riskstream.bus import open_topics

    cfg = settings(ctx)
    clock = SystemClock()
    history = MarketHistory.from_config(cfg.store)
    topics = None if bus is None else open_topics(cfg.bus.model_copy(update={"url": bus}))
    publish = FxPublisher(clock, store=history.append_fx_rates, topics=topics)
    poller = FxPoller(cfg.fx, responses_dir(cfg), clock=clock)

    def on_result(result: PollResult) -> None:
        publish(result)
        if as_json:
            print_json(result.as_json())
        else:
            _print_poll(result)

    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the loop between polls
            asyncio.run(poller.run(on_result, polls=1 if once else None))
    finally:
        if topics is not None:
            topics.close()


def _print_aggregate(result: FxAggregate, where: str) -> None:
    console = Console()
    if not result.rates:
        console.print(
            f"no FX rate published from {where}: "
            f"{len(result.unpublished)} currencies without enough usable sources"
        )
        return
    table = Table(
        title=f"FX rates per 1 {result.base} from {where} (as of {result.as_json()['as_of']})"
    )
    for column in ("currency", "rate", "sources (weight)"):
        table.add_column(column, justify="right" if column == "rate" else "left")
    for c, rate in result.rates.items():
        used = ", ".join(f"{s} {v['weight']:.2f}" for s, v in result.sources[c].items())
        table.add_row(c, f"{rate:.6g}", used)
    console.print(table)
    for e in result.excluded:
        console.print(f"excluded {e.source} ({e.currency or 'all'}): {e.reason}")
    for c, reason in result.unpublished.items():
        console.print(f"not published {c}: {reason}")


def _print_poll(result: PollResult) -> None:
    console = Console()
    when = dt.datetime.fromtimestamp(result.ts_ns / NS_PER_S, dt.UTC).isoformat(timespec="seconds")
    console.print(
        f"{when} fetched: {', '.join(result.fetched) or '-'}; "
        f"failed: {', '.join(result.errors) or '-'}; skipped: {', '.join(result.skipped) or '-'}"
    )
    for name, error in result.errors.items():
        console.print(f"  {name}: {error}")
    if result.aggregate is not None:
        _print_aggregate(result.aggregate, str(result.folder))
