"""``riskstream surveillance abuse``: market-abuse detection over stored order flow.

- ``surveillance abuse simulate --out DIR [--instruments N] [--days D] [--session-s S]
  [--events-per-s R] [--seed K] [--json]`` writes a labelled data set (formats below);
- ``surveillance abuse scan --events FILE --audit FILE --out ALERTS.csv [--session-s S]
  [--day0-ns T] [--labels DAY_LABELS.csv] [--stats FILE.csv] [--json]`` runs the detectors
  over stored events and their audit trail, in batches as the live stage does.

Files (``DIR`` of ``simulate``; ``scan`` reads the first two from any source):

* ``events.parquet`` — the anonymous public L3 stream, the columns of
  :data:`riskstream.core.events.EVENT_ARROW_SCHEMA` (what ``riskstream simulate`` writes);
* ``audit.parquet`` — the order audit trail, one row per event in the same order, the
  columns of :data:`riskstream.core.audit.ORDER_AUDIT_DTYPE` (``participant_id``,
  ``owner_id``, ``contra_participant_id``, ``contra_owner_id``; -1 where none);
* ``order_labels.csv`` — ground truth per manipulative order (``instrument_id, order_id,
  seq, participant_id, day, typology``; ``seq`` > 0 marks one fill of a marketable order);
* ``day_labels.csv`` — ground truth per participant-day (``participant_id, day, typology,
  episodes``), ``typology`` by name;
* ``participants.csv`` — every account: ``participant_id, owner_id, role, typology``;
* ``instruments.parquet`` — the universe; ``meta.json`` — ``start_ns`` (day 0),
  ``session_s``, the simulator and manipulation settings.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import typer

from riskstream.cli import print_json
from riskstream.cli.surveillance import surveillance_app
from riskstream.core.audit import ORDER_AUDIT_DTYPE, TYPOLOGY_NAMES
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_ARROW_SCHEMA, events_from_arrow, events_to_arrow

abuse_app = typer.Typer(
    help="Market-abuse detection on the order book: labelled data, batch scans.",
    no_args_is_help=True,
)
surveillance_app.add_typer(abuse_app, name="abuse")

SCAN_BATCH = 1 << 20
"""Events per batch of a scan (the detectors keep their state between batches)."""


def _audit_table(audit: np.ndarray) -> pa.Table:
    return pa.table({name: audit[name] for name in ORDER_AUDIT_DTYPE.names})


def _audit_from_table(table: pa.Table) -> np.ndarray:
    missing = [n for n in ORDER_AUDIT_DTYPE.names if n not in table.schema.names]
    if missing:
        raise InputError("audit", f"a table without {missing}", "the ORDER_AUDIT_DTYPE columns")
    out = np.zeros(table.num_rows, ORDER_AUDIT_DTYPE)
    for name in ORDER_AUDIT_DTYPE.names:
        out[name] = table.column(name).to_numpy()
    return out


@abuse_app.command("simulate")
def simulate_command(
    out: Path = typer.Option(..., "--out", help="Folder for the labelled data set."),
    instruments: int = typer.Option(50, "--instruments", help="Generated universe size."),
    days: int = typer.Option(3, "--days", help="Simulated days."),
    session_s: float = typer.Option(300.0, "--session-s", help="Length of a day (s)."),
    events_per_s: float = typer.Option(2000.0, "--events-per-s", help="Event rate."),
    seed: int = typer.Option(5, "--seed", help="Seed of the market and the population."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Simulate DAYS of order flow with manipulative participants; write events, audit trail
    and ground truth (formats in ``riskstream surveillance abuse --help``)."""
    from riskstream.feeds.config import ManipulationConfig, SimulatorConfig, UniverseConfig
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.feeds.universe import generate_universe

    if days < 1:
        raise InputError("--days", days, "at least 1")
    started = time.perf_counter()
    universe = generate_universe(UniverseConfig(instruments=instruments, seed=seed))
    config = SimulatorConfig(
        seed=seed, events_per_s=events_per_s, session_s=session_s,
        manipulation=ManipulationConfig(seed=seed, max_days=days),
    )  # fmt: skip
    sim = MarketSimulator(universe, config)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    audit_schema = _audit_table(np.zeros(0, ORDER_AUDIT_DTYPE)).schema
    with (
        pq.ParquetWriter(out / "events.parquet", EVENT_ARROW_SCHEMA, compression="zstd") as ew,
        pq.ParquetWriter(out / "audit.parquet", audit_schema, compression="zstd") as aw,
    ):
        for events, _ in sim.batches(days * session_s):
            ew.write_table(pa.Table.from_batches([events_to_arrow(events)]))
            aw.write_table(_audit_table(sim.audit(events)))
            total += len(events)
    pl.from_numpy(sim.order_labels()).with_columns(
        pl.col("typology").replace_strict(TYPOLOGY_NAMES, return_dtype=pl.String)
    ).write_csv(out / "order_labels.csv")
    day_labels = pl.from_numpy(sim.day_labels()).with_columns(
        pl.col("typology").replace_strict(TYPOLOGY_NAMES, return_dtype=pl.String)
    )
    day_labels.write_csv(out / "day_labels.csv")
    manipulators = sim.manipulators
    assert manipulators is not None  # built from config.manipulation
    pl.DataFrame(manipulators.participants()).write_csv(out / "participants.csv")
    universe.instruments.write_parquet(out / "instruments.parquet")
    meta = {
        "start_ns": sim.start_ns, "session_s": session_s, "days": days,
        "simulator": config.model_dump(mode="json"),
    }  # fmt: skip
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    payload = {
        "out": str(out), "events": total, "participants": len(manipulators.roles),
        "participant_days_labelled": day_labels.height, "start_ns": sim.start_ns,
        "wall_s": round(time.perf_counter() - started, 2),
    }  # fmt: skip
    if as_json:
        print_json(payload)
        return
    typer.echo(
        f"{total:,} events, {len(manipulators.roles)} participants, "
        f"{day_labels.height} manipulating participant-days → {out}"
    )


@abuse_app.command("scan")
def scan_command(
    events: Path = typer.Option(..., "--events", help="Events Parquet (EVENT columns)."),
    audit: Path = typer.Option(..., "--audit", help="Audit-trail Parquet, aligned 1:1."),
    out: Path = typer.Option(..., "--out", help="Alerts CSV to write."),
    session_s: float = typer.Option(23_400.0, "--session-s", help="Length of a day (s)."),
    day0_ns: int = typer.Option(0, "--day0-ns", help="Start of day 0 (0: the first event)."),
    labels: Path | None = typer.Option(None, "--labels", help="day_labels.csv: score."),
    stats: Path | None = typer.Option(None, "--stats", help="Per-participant ratios CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Run the market-abuse detectors over stored events and their audit trail."""
    from riskstream.surveillance.abuse_scoring import score_alerts
    from riskstream.surveillance.config import AbuseConfig
    from riskstream.surveillance.market_abuse import AbuseDetector, alerts_frame

    ef, af = pq.ParquetFile(events), pq.ParquetFile(audit)
    if ef.metadata.num_rows != af.metadata.num_rows:
        raise InputError(
            "--audit", f"{af.metadata.num_rows} rows", f"{ef.metadata.num_rows} (one per event)"
        )
    n_inst = int(pq.read_table(events, columns=["instrument_id"]).column(0).to_numpy().max()) + 1
    det = AbuseDetector(n_inst, AbuseConfig(session_s=session_s, day0_ns=day0_ns))
    started = time.perf_counter()
    batches = zip(ef.iter_batches(SCAN_BATCH), af.iter_batches(SCAN_BATCH), strict=True)
    for eb, ab in batches:
        det.update(events_from_arrow(eb), _audit_from_table(pa.Table.from_batches([ab])))
    det.flush()
    wall = time.perf_counter() - started
    alerts = det.alerts()
    alerts_frame(alerts).write_csv(out)
    if stats is not None:
        det.participant_stats().write_csv(stats)
    counts = {
        name: int((alerts["typology"] == code).sum()) for code, name in TYPOLOGY_NAMES.items()
    }
    payload: dict[str, Any] = {
        "events": det.events, "alerts": len(alerts), "by_typology": counts, "out": str(out),
        "events_per_s": round(det.events / wall) if wall > 0 else None,
    }  # fmt: skip
    if labels is not None:
        truth = pl.read_csv(labels)
        codes = {name: code for code, name in TYPOLOGY_NAMES.items()}
        bad = truth.filter(~pl.col("typology").is_in(list(codes)))
        if bad.height:
            raise InputError("typology", bad["typology"][0], f"one of {', '.join(codes)}")
        day_labels = np.zeros(truth.height, dtype=[("participant_id", np.int32),
                              ("day", np.int32), ("typology", np.uint8)])  # fmt: skip
        day_labels["participant_id"] = truth["participant_id"].to_numpy()
        day_labels["day"] = truth["day"].to_numpy()
        day_labels["typology"] = [codes[t] for t in truth["typology"].to_list()]
        pdays = det.participants_seen * det.days_seen
        payload["scores"] = score_alerts(alerts, day_labels, pdays)
    if as_json:
        print_json(payload)
        return
    typer.echo(f"{len(alerts)} alerts over {det.events:,} events → {out}")
    for name, n in counts.items():
        typer.echo(f"  {name}: {n}")
    for name, s in payload.get("scores", {}).items():
        if name != "confusion" and s["true"]:
            typer.echo(f"  {name}: recall {s['recall']:.2f} of {s['true']}")
