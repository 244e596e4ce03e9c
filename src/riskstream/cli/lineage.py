"""``riskstream lineage``: show a reported figure's BCBS 239 lineage and re-compute it.

``riskstream lineage list`` lists the newest records; ``riskstream lineage show ID``
prints the chain of record ``ID`` (figures, positions version and digest, reference-data
digest, history table versions, bus sequences, configuration hash, code version,
data-quality KPIs); ``--verify`` re-computes the figures from that chain alone — the
retained positions and reference snapshots, the market history read back at the recorded
Delta versions (time travel), the recorded configuration — and compares them bit for bit.

This module also records the runs (:func:`record_ima_run`, what ``riskstream frtb ima``
calls), so the recording and the re-computation share one function per kind.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import typer

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError

lineage_app = typer.Typer(
    help="BCBS 239 lineage of reported figures: show the chain, re-compute bit for bit.",
    no_args_is_help=True,
)
app.add_typer(lineage_app, name="lineage")

HISTORY_KINDS = ("prices", "curves", "vols")
IMA_KIND = "frtb-ima"
RISK_KIND = "risk"


def history_at(store: Any, versions: dict[str, int]) -> Any:
    """The market history at ``versions`` (Delta time travel; -1: the table did not exist
    yet, so empty), as :class:`~riskstream.risk.factor_history.MarketHistoryFrames` whose
    ``source`` names the versions."""
    from riskstream.risk.factor_history import MarketHistoryFrames
    from riskstream.store.history_files import empty_frame

    frames = {}
    for kind in HISTORY_KINDS:
        v = versions[kind]
        frames[kind] = empty_frame(kind) if v < 0 else getattr(store, kind)(version=v)
    text = ", ".join(
        f"{k} v{versions[k]}" if versions[k] >= 0 else f"no {k}" for k in HISTORY_KINDS
    )
    return MarketHistoryFrames(
        frames["prices"], frames["curves"], frames["vols"], f"history store ({text})"
    )


def _ima_figures(
    universe: Any,
    store: Any,
    versions: dict[str, int],
    risk: Any,
    parameters: dict[str, Any],
) -> tuple[dict[str, Any], Any]:
    """The IMA run of ``universe`` on the history at ``versions``: (output, history)."""
    from riskstream.cli.frtb_ima import ima_on_book, observed_frames, standardised_hooks

    history = history_at(store, versions)
    drc_of, sa_capital_of = standardised_hooks(
        history, dt.date.fromisoformat(parameters["as_of"]), risk.dividend_yield
    )
    extra = None
    if parameters["observations"]:
        extra = pl.DataFrame(
            parameters["observations"], schema=["risk_factor", "date"], orient="row"
        ).with_columns(pl.col("date").str.to_date())
    out = ima_on_book(
        universe,
        history,
        observed_frames(store, versions),
        dt.date.fromisoformat(parameters["as_of"]),
        risk,
        extra_observations=extra,
        backtest_days=parameters["backtest_days"],
        drc=parameters["drc"],
        drc_of=drc_of,
        sa_capital_of=sa_capital_of,
    )
    return out, history


def _figures_of(out: dict[str, Any]) -> dict[str, Any]:
    """What a record keeps as the figures: the output less the data-quality inputs."""
    return {k: v for k, v in out.items() if k not in ("marks",)}


def _book_and_versions(s: Any, db: Any) -> tuple[Any, int, Any, dict[str, int]]:
    """The loaded book with the positions version it was read at, the history store and
    its table versions now."""
    from riskstream.cli.universe import ensure_universe
    from riskstream.store.market_history import MarketHistory
    from riskstream.store.refdb import stored_positions_version

    for _ in range(3):  # read the version, the book, the version: equal = one state
        with db.transaction() as conn:
            before = stored_positions_version(conn)
        universe = ensure_universe(s)
        with db.transaction() as conn:
            positions_version = stored_positions_version(conn)
        if before == positions_version:
            break
    store = MarketHistory.from_config(s.store)
    return universe, positions_version, store, {k: store.version(k) for k in HISTORY_KINDS}


def _quality(universe: Any, store: Any, history: Any, out: dict[str, Any], as_of: dt.date):
    """The data-quality KPIs of a run (:mod:`riskstream.regulatory.data_quality`)."""
    from riskstream.regulatory.data_quality import data_quality

    held = universe.positions.filter(pl.col("quantity") != 0)["instrument_id"].unique()
    symbols = universe.instruments["symbol"].gather(held.to_numpy()).to_list()
    quarantine = store.quarantine()
    factors = out["history"]
    return data_quality(
        symbols,
        out["marks"].get("unmarked", []),
        history.prices,
        int(quarantine.filter(pl.col("series").is_in(symbols)).height),
        factors["factor_days"],
        factors["own_factor_days"],
        as_of,
    )


def record_ima_run(
    s: Any,
    day: dt.date | None,
    *,
    observations: str | None = None,
    backtest_days: int = 250,
    drc: float | None = None,
) -> dict[str, Any]:
    """Run ``frtb ima`` on the loaded book and record its lineage; the output with
    ``lineage_id`` and ``data_quality``."""
    from riskstream.cli.engine import book_as_of
    from riskstream.cli.universe import open_refdb
    from riskstream.regulatory import lineage
    from riskstream.regulatory.ima.observations import read_observations_file

    db = open_refdb(s)
    try:
        universe, positions_version, store, versions = _book_and_versions(s, db)
        history = history_at(store, versions)
        as_of = day or book_as_of(universe, history)
        rows: list[list[str]] = []
        if observations is not None:
            extra = read_observations_file(observations).sort("risk_factor", "date")
            rows = [[k, d.isoformat()] for k, d in extra.iter_rows()]
        parameters = {
            "as_of": as_of.isoformat(),
            "backtest_days": backtest_days,
            "drc": drc,
            "observations": rows,
            "observations_file": observations,
            "config": {"risk": s.risk.model_dump(mode="json")},
        }
        out, history = _ima_figures(universe, store, versions, s.risk, parameters)
        quality = _quality(universe, store, history, out, as_of)
        figures = _figures_of(out)
        lineage_id = lineage.record(
            db, IMA_KIND, universe, positions_version, versions, parameters["config"],
            parameters, figures, quality,
        )  # fmt: skip
    finally:
        db.close()
    return {**figures, "data_quality": quality, "lineage_id": lineage_id}


def _risk_figures(
    universe: Any, store: Any, versions: dict[str, int], parameters: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """VaR and ES of the book as ``riskstream risk`` computes them: (figures, bus
    sequences, history)."""
    from riskstream.cli.engine import engine_as_of, risk_config
    from riskstream.models import ModelsConfig
    from riskstream.risk.config import RiskConfig

    config = parameters["config"]
    risk = risk_config(
        RiskConfig.model_validate(config["risk"]),
        {
            "method": "historical",
            "confidence_levels": tuple(parameters["confidence_levels"]),
            "horizons_days": tuple(parameters["horizons_days"]),
        },
    )
    history = history_at(store, versions)
    day = dt.date.fromisoformat(parameters["as_of"])
    engine, (_, _, _, marks) = engine_as_of(
        universe, risk, history, day, ModelsConfig.model_validate(config["models"])
    )
    snap = engine.refresh()
    engine.close()
    figures = {
        "measures": [m.as_dict() for m in snap.measures],
        "method": snap.method,
        "n_scenarios": snap.n_scenarios,
        "scenarios_fingerprint": snap.scenarios_fingerprint,
        "positions_digest": snap.positions_digest,
        "excluded": [e.as_dict() for e in snap.excluded],
        "as_of": parameters["as_of"],
    }
    lineage_of = engine.history_lineage
    out = {
        **figures,
        "marks": marks,
        "history": {
            "factor_days": lineage_of["observations"] * lineage_of["factors"],
            "own_factor_days": max(
                0,
                lineage_of["observations"] * lineage_of["factors"]
                - sum(p["days"] for p in lineage_of["proxies"])
                - sum(lineage_of["gaps"].values()),
            ),
        },
    }
    bus = {"market_seq_max": int(snap.market_seq_max), "market_seq_digest": snap.market_seq_digest}
    return out, bus, history


def record_risk_run(s: Any, day: dt.date | None, confidence: float, horizon: int) -> dict[str, Any]:
    """The historical VaR and ES of the loaded book (as ``riskstream risk --method
    historical``), recorded with its lineage; the figures with ``lineage_id``."""
    from riskstream.cli.engine import book_as_of
    from riskstream.cli.universe import open_refdb
    from riskstream.regulatory import lineage

    db = open_refdb(s)
    try:
        universe, positions_version, store, versions = _book_and_versions(s, db)
        history = history_at(store, versions)
        as_of = day or book_as_of(universe, history)
        parameters = {
            "as_of": as_of.isoformat(),
            "confidence_levels": [confidence],
            "horizons_days": [horizon],
            "config": {
                "risk": s.risk.model_dump(mode="json"),
                "models": s.models.model_dump(mode="json"),
            },
        }
        out, bus, history = _risk_figures(universe, store, versions, parameters)
        quality = _quality(universe, store, history, out, as_of)
        figures = {k: v for k, v in out.items() if k not in ("marks", "history")}
        lineage_id = lineage.record(
            db, RISK_KIND, universe, positions_version, versions, parameters["config"],
            parameters, figures, quality, bus_sequences=bus,
        )  # fmt: skip
    finally:
        db.close()
    return {**figures, "data_quality": quality, "lineage_id": lineage_id}


def verify_record(s: Any, lineage_id: str) -> dict[str, Any]:
    """Re-compute record ``lineage_id`` from its chain and compare (see the module doc)."""
    import sqlalchemy as sa

    from riskstream.cli.universe import open_refdb
    from riskstream.regulatory import lineage
    from riskstream.risk.config import RiskConfig
    from riskstream.store.market_history import MarketHistory
    from riskstream.store.refdb import POSITION_JOURNAL, stored_positions_version

    db = open_refdb(s)
    try:
        rec = lineage.load(db, lineage_id)
        if rec.kind not in (IMA_KIND, RISK_KIND):
            raise InputError(
                "lineage id", lineage_id, f"a record of kind {IMA_KIND} or {RISK_KIND}"
            )
        universe = lineage.universe_from_snapshots(
            lineage.snapshot(db, rec.positions_digest), lineage.snapshot(db, rec.reference_digest)
        )
        config = rec.parameters["config"]
        if lineage.config_hash(config) != rec.config_hash:
            raise InputError("lineage config", rec.config_hash, "a configuration matching its hash")
        with db.transaction() as conn:
            current_version = stored_positions_version(conn)
            journaled = conn.execute(
                sa.select(sa.func.count()).where(
                    POSITION_JOURNAL.c.version == rec.positions_version
                )
            ).scalar()
    finally:
        db.close()
    store = MarketHistory.from_config(s.store)
    if rec.kind == IMA_KIND:
        risk = RiskConfig.model_validate(config["risk"])
        out, _ = _ima_figures(universe, store, rec.market_versions, risk, rec.parameters)
        figures = _figures_of(out)
    else:
        out, _, _ = _risk_figures(universe, store, rec.market_versions, rec.parameters)
        figures = {k: v for k, v in out.items() if k not in ("marks", "history")}
    diffs = lineage.differences(rec.figures, figures)
    return {
        "lineage_id": lineage_id,
        "reproduced": not diffs,
        "differences": diffs[:20],
        "positions": {
            "recorded_version": rec.positions_version,
            "current_version": current_version,
            "journal_entries_at_version": int(journaled or 0),
            "snapshot_digest_checked": True,
        },
        "market_data": {"history_table_versions": rec.market_versions},
        "config_hash_checked": True,
        "code_version": {"recorded": rec.code_version, "now": lineage.code_version()},
    }


@lineage_app.command("show")
def show(
    ctx: typer.Context,
    lineage_id: str = typer.Argument(..., help="A lineage id (printed with each recorded run)."),
    verify: bool = typer.Option(
        False, "--verify", help="Re-compute the figures from the chain and compare bit for bit."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """The chain of a reported figure: positions, reference and market-data versions,
    configuration hash, code version, data quality; ``--verify`` re-computes it.

    Exits 1 when ``--verify`` finds a difference."""
    from riskstream.cli.universe import open_refdb
    from riskstream.regulatory import lineage

    s = settings(ctx)
    db = open_refdb(s)
    try:
        chain = lineage.load(db, lineage_id).chain()
    finally:
        db.close()
    out: dict[str, Any] = {"chain": chain}
    if verify:
        out["verify"] = verify_record(s, lineage_id)
    if as_json:
        print_json(out)
    else:
        _print_chain(out)
    if verify and not out["verify"]["reproduced"]:
        raise typer.Exit(1)


@lineage_app.command("list")
def list_records(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", help="How many records, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """The newest lineage records."""
    from riskstream.cli.universe import open_refdb
    from riskstream.regulatory import lineage

    db = open_refdb(settings(ctx))
    try:
        rows = lineage.recent(db, limit)
    finally:
        db.close()
    if as_json:
        print_json({"records": rows})
        return
    for r in rows:
        print(f"{r['lineage_id']}  {r['kind']}  as of {r['as_of']}  capital {r['capital']}")


def _print_chain(out: dict[str, Any]) -> None:
    c = out["chain"]
    lines = [
        f"{c['lineage_id']} ({c['kind']}, as of {c['as_of']})",
        *(f"  {k}: {v}" for k, v in c["figures"].items()),
        f"  <- positions version {c['positions']['version']} "
        f"(sha256 {c['positions']['digest'][:16]}...)",
        f"  <- reference data sha256 {c['reference_data']['digest'][:16]}...",
        f"  <- history tables {c['market_data']['history_table_versions']}, "
        f"bus sequences {c['market_data']['bus_sequences'] or 'none (batch run)'}",
        f"  <- configuration sha256 {c['config_hash'][:16]}...",
        f"  <- code {c['code_version']}",
        "  data quality: " + ", ".join(f"{k} {v['kpi']:.4f}" for k, v in c["data_quality"].items()),
    ]
    if "verify" in out:
        v = out["verify"]
        lines.append(
            "  verify: reproduced bit for bit"
            if v["reproduced"]
            else f"  verify: DIFFERENT at {', '.join(v['differences'])}"
        )
    print("\n".join(lines))


@lineage_app.command("risk")
def risk_command(
    ctx: typer.Context,
    confidence: float = typer.Option(0.99, "--confidence", help="VaR/ES level."),
    horizon: int = typer.Option(1, "--horizon", help="Horizon in days."),
    as_of: str | None = typer.Option(None, "--as-of", help="Date YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Historical VaR and ES of the loaded book (``riskstream risk --method historical``'s
    figures), recorded with their lineage: ``riskstream lineage show ID --verify``."""
    from riskstream.cli import date_option

    out = record_risk_run(settings(ctx), date_option("--as-of", as_of), confidence, horizon)
    if as_json:
        print_json(out)
        return
    for m in out["measures"]:
        print(f"VaR {m['var']:,.0f}  ES {m['es']:,.0f}  ({m['confidence']}, {m['horizon_days']}d)")
    print(f"lineage id: {out['lineage_id']}")
