"""Response sets: every raw response saved with its fetch time, so each published rate can
be recomputed for audit.

A response set is a folder holding at most one file per source, named after it
(``ecb.xml``, ``frankfurter.json``, ``open-er-api.json``, ``exchangerate-host.json``,
``currency-api.json``: :data:`riskstream.feeds.fx.sources.SOURCES`), byte for byte as the
API sent it, and a manifest ``fetched.json``::

    {"sources": {"ecb": {"fetched_ns": …, "fetched": "…Z", "url": "…", "status": 200,
                         "sha256": "…", "bytes": 1234}, …},
     "errors": {"open-er-api": "HTTP 503 …"}}

``url`` is the request URL with any access key replaced by ``***``. ``errors`` records the
sources whose fetch failed in the poll that wrote the set (a source whose earlier response
is still carried has both); a body that did not parse is kept under ``rejected/``. A
missing file means the source did not answer.
``riskstream fx aggregate --responses DIR`` reads exactly this layout, so a saved set
reproduces its published rates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskstream.core.clock import NS_PER_S
from riskstream.core.errors import InputError
from riskstream.feeds.fx.aggregate import iso_ns
from riskstream.feeds.fx.sources import SOURCES, SourceQuotes, parse

MANIFEST = "fetched.json"


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One source's response as fetched: the body and where and when it came from."""

    source: str
    body: bytes
    fetched_ns: int
    url: str
    status: int = 200


def save_set(
    root: Path,
    responses: Mapping[str, RawResponse],
    errors: Mapping[str, str],
    now_ns: int,
    rejected: Mapping[str, RawResponse] | None = None,
) -> Path:
    """Write a response set under ``root/<YYYY-MM-DD>/<HHMMSS.ffffff>Z`` (the time it was
    assembled, UTC); returns its folder. ``rejected`` bodies (a response that did not
    parse) are kept under ``rejected/`` for audit; they are not part of the set."""
    stamp = dt.datetime.fromtimestamp(now_ns / NS_PER_S, dt.UTC)
    folder = Path(root) / stamp.strftime("%Y-%m-%d") / stamp.strftime("%H%M%S.%fZ")
    folder.mkdir(parents=True, exist_ok=False)
    manifest: dict[str, Any] = {"sources": {}, "errors": dict(sorted(errors.items()))}
    for name in SOURCES:
        r = responses.get(name)
        if r is None:
            continue
        (folder / SOURCES[name].file).write_bytes(r.body)
        manifest["sources"][name] = {
            "fetched_ns": r.fetched_ns,
            "fetched": iso_ns(r.fetched_ns),
            "url": r.url,
            "status": r.status,
            "sha256": hashlib.sha256(r.body).hexdigest(),
            "bytes": len(r.body),
        }
    for name, r in (rejected or {}).items():
        (folder / "rejected").mkdir(exist_ok=True)
        (folder / "rejected" / SOURCES[name].file).write_bytes(r.body)
        manifest.setdefault("rejected", {})[name] = {
            "fetched_ns": r.fetched_ns,
            "fetched": iso_ns(r.fetched_ns),
            "url": r.url,
            "status": r.status,
            "sha256": hashlib.sha256(r.body).hexdigest(),
        }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return folder


def load_set(folder: Path) -> tuple[list[SourceQuotes], dict[str, str]]:
    """Parse a response set: the quotes of each source that answered, and why each other
    source gave nothing (no file, or a response that is not its API's shape).

    Raises
    ------
    InputError
        ``folder`` is not a folder, or holds none of the sources' files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("responses", str(folder), "a folder of saved API responses")
    files = {name: folder / s.file for name, s in SOURCES.items()}
    if not any(f.exists() for f in files.values()):
        raise InputError(
            "responses",
            str(folder),
            f"a folder holding at least one of {', '.join(s.file for s in SOURCES.values())}",
        )
    quotes: list[SourceQuotes] = []
    failures: dict[str, str] = {}
    for name, f in files.items():
        if not f.exists():
            failures[name] = f"no response ({f.name} absent: the source did not answer)"
            continue
        try:
            quotes.append(parse(name, f.read_bytes()))
        except InputError as exc:
            failures[name] = f"unusable response: {exc}"
    return quotes, failures
