"""BCBS 239 lineage: every reported figure traced to the exact data and code it came from.

Principle 2 of the Basel Committee's "Principles for effective risk data aggregation and
risk reporting" (BCBS 239, 2013) asks that risk data be traceable; principle 3 that
figures be reproducible. Each run that reports figures (the IMA capital and its ES, VaR,
stress losses, limit utilisations) writes one *lineage record* to the reference DB
(``lineage_records``, migration 0006) holding:

* ``positions_version``: the position keeper's version read with the positions
  (:func:`riskstream.store.refdb.stored_positions_version`, raised by every write and
  journaled with each applied change), and ``positions_digest``: the SHA-256 of the
  positions and books used;
* ``reference_digest``: the SHA-256 of the instrument table, FX rates, base currency and
  as-of date used (the reference-data version) and the DB's schema revision;
* ``market_versions``: the Delta table version of each history table read (``prices``,
  ``curves``, ``vols``): Delta time travel re-reads exactly those rows;
* ``bus_sequences``: the input sequence numbers per source when the figure comes from the
  live pipeline (a batch run over the store has none: ``{}``);
* ``config_hash``: the SHA-256 of the configuration and parameters of the run;
* ``code_version``: the package version and, in a git checkout, the commit (``-dirty``
  when the work tree has changes);
* ``figures``: the figures as reported (JSON; floats written with ``repr`` so they read
  back bit for bit), and the run's data-quality KPIs.

The positions and reference data used are retained, deduplicated by digest, in
``lineage_snapshots`` (Arrow IPC): the positions table changes with every trade and the
keeper's journal records which changes were applied, not the table they produced, so the
book a figure was computed from must be kept to be replayed. ``verify`` re-reads them,
checks each digest, re-reads the market history at the recorded versions, recomputes the
figures with the recorded parameters and compares them exactly.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from riskstream.core.errors import InputError
from riskstream.core.instruments import Universe
from riskstream.store.refdb import LINEAGE_RECORDS, LINEAGE_SNAPSHOTS, RefDB

_JSON = {"sort_keys": True, "separators": (",", ":"), "allow_nan": False}


def canonical_json(value: Any) -> str:
    """Sorted-key JSON with ``repr`` floats: equal values give equal text, bit for bit."""
    return json.dumps(value, default=_default, **_JSON)


def _default(value: Any) -> Any:
    import datetime as dt

    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def _ipc(frames: Mapping[str, pl.DataFrame]) -> bytes:
    """Named frames in one byte string: per frame, its name, length and Arrow IPC bytes."""
    out = io.BytesIO()
    for name in sorted(frames):
        buf = io.BytesIO()
        frames[name].write_ipc(buf, compression="uncompressed")
        body = buf.getvalue()
        head = name.encode()
        out.write(len(head).to_bytes(4, "little") + head + len(body).to_bytes(8, "little"))
        out.write(body)
    return out.getvalue()


def _frames(body: bytes) -> dict[str, pl.DataFrame]:
    view, i, out = memoryview(body), 0, {}
    while i < len(body):
        n = int.from_bytes(view[i : i + 4], "little")
        name = bytes(view[i + 4 : i + 4 + n]).decode()
        i += 4 + n
        m = int.from_bytes(view[i : i + 8], "little")
        out[name] = pl.read_ipc(io.BytesIO(bytes(view[i + 8 : i + 8 + m])))
        i += 8 + m
    return out


def positions_snapshot(universe: Universe) -> tuple[str, bytes]:
    """(SHA-256, body) of the positions and books of ``universe``, sorted."""
    body = _ipc(
        {
            "positions": universe.positions.sort("book_id", "instrument_id"),
            "books": universe.books.sort("book_id"),
        }
    )
    return hashlib.sha256(body).hexdigest(), body


def reference_snapshot(universe: Universe, schema_revision: str | None) -> tuple[str, bytes]:
    """(SHA-256, body) of the reference data of ``universe``: instruments, FX rates to
    base, base currency, as-of date, and the DB schema revision."""
    fx = pl.DataFrame(
        {
            "currency": sorted(universe.fx_to_base),
            "to_base": [float(universe.fx_to_base[c]) for c in sorted(universe.fx_to_base)],
        },
        schema={"currency": pl.String(), "to_base": pl.Float64()},
    )
    meta = pl.DataFrame(
        {
            "key": ["base_currency", "as_of", "schema_revision"],
            "value": [
                universe.base_currency,
                str(getattr(universe, "as_of", None) or ""),
                schema_revision or "",
            ],
        }
    )
    body = _ipc({"instruments": universe.instruments, "fx_to_base": fx, "meta": meta})
    return hashlib.sha256(body).hexdigest(), body


def universe_from_snapshots(positions: bytes, reference: bytes) -> Universe:
    """The universe a lineage record was computed on, rebuilt from its two snapshots."""
    import datetime as dt

    p, r = _frames(positions), _frames(reference)
    meta = dict(r["meta"].iter_rows())
    fx = dict(r["fx_to_base"].iter_rows())
    as_of = dt.date.fromisoformat(meta["as_of"]) if meta["as_of"] else None
    return Universe(r["instruments"], p["books"], p["positions"], meta["base_currency"], fx, as_of)


def code_version() -> str:
    """``riskstream <version>`` plus `` (git <commit>[-dirty])`` in a git checkout."""
    from riskstream import __version__

    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"riskstream {__version__}"
    return f"riskstream {__version__} (git {commit[:12]}{'-dirty' if dirty else ''})"


@dataclass(frozen=True)
class LineageRecord:
    """One stored lineage record (see the module docstring)."""

    lineage_id: str
    kind: str
    created_ns: int
    as_of: str
    positions_version: int
    positions_digest: str
    reference_digest: str
    market_versions: dict[str, int]
    bus_sequences: dict[str, int]
    config_hash: str
    code_version: str
    parameters: dict[str, Any]
    figures: dict[str, Any]
    data_quality: dict[str, Any]

    def chain(self) -> dict[str, Any]:
        """The record as a JSON-ready chain, figure to sources (figures summarised)."""
        top = {k: v for k, v in self.figures.items() if isinstance(v, int | float | str | None)}
        return {
            "lineage_id": self.lineage_id,
            "kind": self.kind,
            "as_of": self.as_of,
            "created_ns": self.created_ns,
            "figures": top,
            "positions": {"version": self.positions_version, "digest": self.positions_digest},
            "reference_data": {"digest": self.reference_digest},
            "market_data": {
                "history_table_versions": self.market_versions,
                "bus_sequences": self.bus_sequences,
            },
            "config_hash": self.config_hash,
            "code_version": self.code_version,
            "parameters": self.parameters,
            "data_quality": self.data_quality,
        }


def config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(config)).encode()).hexdigest()


def record(
    db: RefDB,
    kind: str,
    universe: Universe,
    positions_version: int,
    market_versions: Mapping[str, int],
    config: Mapping[str, Any],
    parameters: Mapping[str, Any],
    figures: Mapping[str, Any],
    data_quality: Mapping[str, Any],
    *,
    bus_sequences: Mapping[str, int] | None = None,
    created_ns: int | None = None,
) -> str:
    """Write a lineage record and its snapshots; returns its id (``<kind>-<16 hex>``, the
    SHA-256 of the record's content, so the same figures from the same inputs at the same
    time have one id)."""
    p_digest, p_body = positions_snapshot(universe)
    r_digest, r_body = reference_snapshot(universe, db.revision())
    row = {
        "kind": kind,
        "created_ns": int(time.time_ns() if created_ns is None else created_ns),
        "as_of": str(parameters.get("as_of", "")),
        "positions_version": int(positions_version),
        "positions_digest": p_digest,
        "reference_digest": r_digest,
        "market_versions": canonical_json(dict(market_versions)),
        "bus_sequences": canonical_json(dict(bus_sequences or {})),
        "config_hash": config_hash(config),
        "code_version": code_version(),
        "parameters": canonical_json(dict(parameters)),
        "figures": canonical_json(dict(figures)),
        "data_quality": canonical_json(dict(data_quality)),
    }
    row["lineage_id"] = f"{kind}-{hashlib.sha256(canonical_json(row).encode()).hexdigest()[:16]}"
    with db.transaction() as conn:
        for digest, snap_kind, body in (
            (p_digest, "positions", p_body),
            (r_digest, "reference", r_body),
        ):
            exists = conn.execute(
                sa.select(LINEAGE_SNAPSHOTS.c.digest).where(LINEAGE_SNAPSHOTS.c.digest == digest)
            ).first()
            if exists is None:
                conn.execute(
                    LINEAGE_SNAPSHOTS.insert().values(digest=digest, kind=snap_kind, body=body)
                )
        conn.execute(LINEAGE_RECORDS.insert().values(**row))
    return row["lineage_id"]


def load(db: RefDB, lineage_id: str) -> LineageRecord:
    """The record ``lineage_id``; an unknown id is an :class:`InputError`."""
    with db.transaction() as conn:
        row = (
            conn.execute(
                sa.select(LINEAGE_RECORDS).where(LINEAGE_RECORDS.c.lineage_id == lineage_id)
            )
            .mappings()
            .first()
        )
    if row is None:
        raise InputError(
            "lineage id", lineage_id, "the id of a recorded figure (see `riskstream lineage list`)"
        )
    d = dict(row)
    for key in ("market_versions", "bus_sequences", "parameters", "figures", "data_quality"):
        d[key] = json.loads(d[key])
    return LineageRecord(**d)


def snapshot(db: RefDB, digest: str) -> bytes:
    """The retained snapshot ``digest``, checked against its digest."""
    with db.transaction() as conn:
        body = conn.execute(
            sa.select(LINEAGE_SNAPSHOTS.c.body).where(LINEAGE_SNAPSHOTS.c.digest == digest)
        ).scalar()
    if body is None:
        raise InputError("snapshot", digest, "a snapshot retained in lineage_snapshots")
    if hashlib.sha256(body).hexdigest() != digest:
        raise InputError("snapshot", digest, "a snapshot whose content matches its digest")
    return bytes(body)


def recent(db: RefDB, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
    """The newest records (id, kind, as-of, created, headline figure), newest first."""
    query = (
        sa.select(
            LINEAGE_RECORDS.c.lineage_id,
            LINEAGE_RECORDS.c.kind,
            LINEAGE_RECORDS.c.as_of,
            LINEAGE_RECORDS.c.created_ns,
            LINEAGE_RECORDS.c.data_quality,
            LINEAGE_RECORDS.c.figures,
        )
        .order_by(LINEAGE_RECORDS.c.created_ns.desc())
        .limit(limit)
    )
    if kind is not None:
        query = query.where(LINEAGE_RECORDS.c.kind == kind)
    with db.transaction() as conn:
        rows = conn.execute(query).mappings().all()
    out = []
    for r in rows:
        figures = json.loads(r["figures"])
        out.append(
            {
                "lineage_id": r["lineage_id"],
                "kind": r["kind"],
                "as_of": r["as_of"],
                "created_ns": r["created_ns"],
                "capital": figures.get("capital"),
                "data_quality": json.loads(r["data_quality"]),
            }
        )
    return out


def differences(recorded: Any, recomputed: Any) -> list[str]:
    """Paths where two JSON values differ (floats compared exactly, as text); both are
    compared as they read back from their JSON (keys as text)."""
    return _differences(
        json.loads(canonical_json(recorded)), json.loads(canonical_json(recomputed))
    )


def _differences(recorded: Any, recomputed: Any, path: str = "") -> list[str]:
    if isinstance(recorded, dict) and isinstance(recomputed, dict):
        out = []
        for key in sorted(set(recorded) | set(recomputed)):
            if key not in recorded or key not in recomputed:
                out.append(f"{path}/{key}")
            else:
                out.extend(_differences(recorded[key], recomputed[key], f"{path}/{key}"))
        return out
    if isinstance(recorded, list) and isinstance(recomputed, list):
        if len(recorded) != len(recomputed):
            return [f"{path} (length {len(recorded)} != {len(recomputed)})"]
        out = []
        for i, (a, b) in enumerate(zip(recorded, recomputed, strict=True)):
            out.extend(_differences(a, b, f"{path}/{i}"))
        return out
    return [] if canonical_json(recorded) == canonical_json(recomputed) else [path or "/"]
