"""Hypothetical scenarios: YAML files of shocks, validated line by line.

A scenario file::

    name: banks-and-curve
    description: Banks fall 25 %, the US curve steepens 50 bp, vols up 8 points.
    shocks:
      - {asset_class: equity, kind: relative, value: -0.10}
      - {sector: Financials, kind: relative, value: -0.25}   # later shocks win
      - {curve: USD, kind: absolute, shape: steepener, value: 0.005}
      - {curve: EUR, kind: absolute, tenors: {2: 0.004, 10: 0.002}}
      - {symbol: SPY, kind: vol_points, value: 8}
      - {currency: JPY, kind: relative, value: 0.05}
      - {factor: "CS:Energy:BB", kind: absolute, value: 0.02}

Each shock has exactly one **selector** — ``symbol``, ``asset_class``, ``sector``,
``country``, ``currency``, ``curve`` or ``factor`` — a ``kind`` and a ``value``:

* ``relative``: a return of the selected prices (-0.25 = -25 %); on a ``currency``, of its
  value in the base currency; on a vol factor, a relative vol change (0.5: vols x 1.5);
* ``absolute``: a move in the variable's own units — a price change in the instrument's
  currency (read as a return against today's price), a rate or spread change (decimal;
  on bonds selected by symbol, sector, country or asset class: their credit spread), an
  implied-vol change (decimal vol);
* ``vol_points``: implied-vol points added to the options of the selected instruments
  (or of their underlyings): 8 means +0.08.

A ``curve`` shock (kind ``absolute``) moves every key rate of the currency's curve:
``shape: parallel`` (default) by ``value``; ``steepener`` from ``-value/2`` at 3 months to
``+value/2`` at 30 years, linear in tenor; ``flattener`` the opposite; or ``tenors:
{years: change}``, linear between the given tenors and flat beyond.

**Later shocks win**: a shock sets the move of every factor it selects, replacing an earlier
shock's move there — write the broad shocks first and the specific after. Unselected factors
do not move. Options follow their underlying's price and vol factors; a ``symbol``
selector also selects the options on that symbol.

A malformed file is refused with every problem at once, each naming the file's line, the
field and what was expected (:class:`~riskstream.core.errors.LoadError`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from riskstream.core.errors import InputError, LoadError
from riskstream.pricing.curves import KEY_RATE_TENORS_Y
from riskstream.stress.book import StressBook

SELECTORS: tuple[str, ...] = (
    "symbol",
    "asset_class",
    "sector",
    "country",
    "currency",
    "curve",
    "factor",
)
KINDS: tuple[str, ...] = ("relative", "absolute", "vol_points")
SHAPES: tuple[str, ...] = ("parallel", "steepener", "flattener")
ASSET_CLASSES: tuple[str, ...] = ("equity", "future", "option", "fx", "bond")
_SHOCK_KEYS = {*SELECTORS, "kind", "value", "shape", "tenors"}
_FILE_KEYS = {"name", "description", "shocks", "version", "horizon_days"}


@dataclass(frozen=True)
class Shock:
    """One line of a scenario file (see the module docstring)."""

    selector: str
    target: str
    kind: str
    value: float | None
    line: int
    shape: str = "parallel"
    tenors: tuple[tuple[float, float], ...] = ()

    def describe(self) -> str:
        what = f"{self.selector}={self.target} {self.kind}"
        if self.tenors:
            return f"line {self.line}: {what} tenors {dict(self.tenors)}"
        extra = f" {self.shape}" if self.selector == "curve" else ""
        return f"line {self.line}: {what}{extra} {self.value:g}"


@dataclass(frozen=True)
class HypotheticalScenario:
    """A validated scenario file.

    Attributes
    ----------
    name, description : str
    shocks : tuple of Shock, in file order
    version : str
        The file's ``version`` if given, else the first 12 hex digits of the hash of its
        text (a changed file is a new version).
    source : str
        The file it was read from.
    """

    name: str
    description: str
    shocks: tuple[Shock, ...]
    version: str
    source: str
    kind: str = "hypothetical"

    def resolve(
        self, book: StressBook, context: Any = None
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """The moves of every factor of ``book`` (engine units), the vol points, and the
        mapping (one row per moved factor: factor, move, method, source line)."""
        return resolve_shocks(book, self.shocks)


def _number(value: Any, field: str, where: str, errors: list[InputError]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.append(InputError(field, value, "a finite number", where))
        return None
    return float(value)


def parse_scenario(text: str, source: str = "<scenario>") -> HypotheticalScenario:
    """Validate a scenario file's text (see the module docstring).

    Raises
    ------
    LoadError
        Carrying one :class:`InputError` per problem, each with ``location`` ``file:line``.
    """
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise LoadError(
            source, [InputError("yaml", getattr(exc, "problem", str(exc)), "valid YAML", where)]
        ) from None
    if not isinstance(data, dict) or root is None:
        raise LoadError(
            source,
            [InputError("(file)", type(data).__name__, "a mapping with name, shocks", source)],
        )
    nodes = {k.value: (k, v) for k, v in root.value}
    errors: list[InputError] = []

    def line_of(key: str) -> str:
        node = nodes.get(key)
        return f"{source}:{(node[0].start_mark.line + 1) if node else 1}"

    for key in data:
        if key not in _FILE_KEYS:
            errors.append(
                InputError(str(key), data[key], f"one of {sorted(_FILE_KEYS)}", line_of(str(key)))
            )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(InputError("name", name, "a non-empty scenario name", line_of("name")))
    description = data.get("description", "")
    if not isinstance(description, str):
        errors.append(InputError("description", description, "text", line_of("description")))
    shocks_data = data.get("shocks")
    shocks: list[Shock] = []
    if not isinstance(shocks_data, list) or not shocks_data:
        errors.append(
            InputError("shocks", shocks_data, "a non-empty list of shocks", line_of("shocks"))
        )
    else:
        items = nodes["shocks"][1].value
        for node, item in zip(items, shocks_data, strict=True):
            shock = _parse_shock(item, node, source, errors)
            if shock is not None:
                shocks.append(shock)
    if errors:
        raise LoadError(source, errors)
    version = data.get("version")
    if version is None:
        version = hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
    return HypotheticalScenario(str(name).strip(), description, tuple(shocks), str(version), source)


def _parse_shock(item: Any, node: Any, source: str, errors: list[InputError]) -> Shock | None:
    line = node.start_mark.line + 1
    where = f"{source}:{line}"
    if not isinstance(item, dict):
        errors.append(
            InputError("(shock)", item, "a mapping {selector: target, kind, value}", where)
        )
        return None
    key_line = {
        k.value: k.start_mark.line + 1 for k, _ in getattr(node, "value", []) if hasattr(k, "value")
    }

    def at(key: str) -> str:
        return f"{source}:{key_line.get(key, line)}"

    n_errors = len(errors)
    for key in item:
        if key not in _SHOCK_KEYS:
            errors.append(InputError(str(key), item[key], f"one of {sorted(_SHOCK_KEYS)}", at(key)))
    chosen = [s for s in SELECTORS if s in item]
    if len(chosen) != 1:
        errors.append(
            InputError("selector", chosen or None, f"exactly one of {', '.join(SELECTORS)}", where)
        )
        return None
    selector = chosen[0]
    target = item[selector]
    if not isinstance(target, str | int | float) or isinstance(target, bool) or str(target) == "":
        errors.append(InputError(selector, target, "a name", at(selector)))
        return None
    target = str(target).strip()
    if selector == "asset_class" and target not in ASSET_CLASSES:
        errors.append(
            InputError("asset_class", target, f"one of {', '.join(ASSET_CLASSES)}", at(selector))
        )
    kind = item.get("kind")
    if kind not in KINDS:
        errors.append(InputError("kind", kind, f"one of {', '.join(KINDS)}", at("kind")))
    shape = item.get("shape", "parallel")
    tenors: tuple[tuple[float, float], ...] = ()
    if selector == "curve":
        if kind != "absolute" and kind in KINDS:
            errors.append(
                InputError("kind", kind, "absolute for a curve shock (a rate change)", at("kind"))
            )
        if "tenors" in item:
            raw = item["tenors"]
            if not isinstance(raw, dict) or not raw:
                errors.append(
                    InputError("tenors", raw, "a mapping {years: rate change}", at("tenors"))
                )
            else:
                pairs = []
                for t, v in raw.items():
                    tt = _number(t, "tenors", at("tenors"), errors)
                    vv = _number(v, f"tenors[{t}]", at("tenors"), errors)
                    if tt is not None and tt <= 0:
                        errors.append(InputError("tenors", t, "a tenor in years > 0", at("tenors")))
                    elif tt is not None and vv is not None:
                        pairs.append((tt, vv))
                tenors = tuple(sorted(pairs))
            if "value" in item or "shape" in item:
                errors.append(
                    InputError(
                        "tenors",
                        item.get("value", item.get("shape")),
                        "either tenors or value (and shape), not both",
                        at("tenors"),
                    )
                )
        elif shape not in SHAPES:
            errors.append(InputError("shape", shape, f"one of {', '.join(SHAPES)}", at("shape")))
    elif "shape" in item or "tenors" in item:
        errors.append(
            InputError(
                "shape" if "shape" in item else "tenors",
                item.get("shape"),
                "shape and tenors only on a curve shock",
                at("shape" if "shape" in item else "tenors"),
            )
        )
    value: float | None = None
    if not tenors:
        if "value" not in item:
            errors.append(InputError("value", None, "a number (the size of the shock)", where))
        else:
            value = _number(item["value"], "value", at("value"), errors)
            if value is not None and kind == "relative" and value <= -1.0:
                errors.append(
                    InputError("value", value, "a relative move above -1 (-100 %)", at("value"))
                )
    if selector == "currency" and kind == "vol_points":
        errors.append(InputError("kind", kind, "relative or absolute for a currency", at("kind")))
    if len(errors) > n_errors:
        return None
    return Shock(selector, target, str(kind), value, line, str(shape), tenors)


def load_scenario(path: str | Path) -> HypotheticalScenario:
    """Read and validate a scenario file (:func:`parse_scenario`)."""
    path = Path(path)
    if not path.exists():
        raise InputError("--scenario", str(path), "an existing scenario file or a scenario name")
    return parse_scenario(path.read_text(), str(path))


# ---------------------------------------------------------------------------- resolution


def curve_shape(shock: Shock) -> np.ndarray:
    """The move of each key rate (:data:`KEY_RATE_TENORS_Y`) under a curve shock."""
    t = np.asarray(KEY_RATE_TENORS_Y)
    if shock.tenors:
        x = np.array([a for a, _ in shock.tenors])
        y = np.array([b for _, b in shock.tenors])
        return np.interp(t, x, y)
    v = float(shock.value or 0.0)
    ramp = (t - t[0]) / (t[-1] - t[0]) - 0.5  # -1/2 at 3 months to +1/2 at 30 years
    if shock.shape == "steepener":
        return v * ramp
    if shock.shape == "flattener":
        return -v * ramp
    return np.full(t.size, v)


def _matches(book: StressBook, shock: Shock) -> np.ndarray:
    """Positions a symbol / asset-class / sector / country selector picks."""
    column = {
        "symbol": book.symbol,
        "asset_class": book.asset_class,
        "sector": book.sector,
        "country": book.country,
    }[shock.selector]
    hit = column == shock.target
    if shock.selector == "symbol":  # a symbol also selects the options on it
        hit |= book.und_symbol == shock.target
    if shock.selector == "sector":
        # bonds' sectors read "corporate:Financials": a sector shock moves them too
        hit |= np.array([str(s).partition(":")[2] == shock.target for s in book.sector])
    return hit


def resolve_shocks(
    book: StressBook, shocks: tuple[Shock, ...] | list[Shock]
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Moves (engine units) and vol points of every factor of ``book`` under ``shocks``
    (later shocks win), with the mapping of each moved factor to the line that set it."""
    n = book.n_factors
    moves = np.zeros(n)
    points = np.zeros(n)
    origin: dict[int, tuple[str, str]] = {}
    keys = book.keys
    index = {k: j for j, k in enumerate(keys)}
    tenor_cols = {
        ccy: [index.get(f"IR:{ccy}:{t:g}Y", -1) for t in KEY_RATE_TENORS_Y]
        for ccy in {k.split(":")[1] for k in keys if k.startswith("IR:")}
    }

    def put(f: int, move: float, pts: float, how: str, shock: Shock) -> None:
        moves[f] = move
        points[f] = pts
        origin[f] = (how, shock.describe())

    for shock in shocks:
        v = float(shock.value) if shock.value is not None else 0.0
        if shock.selector == "curve":
            cols = tenor_cols.get(shock.target, [])
            for f, m in zip(cols, curve_shape(shock), strict=False):
                if f >= 0:
                    put(f, float(m), 0.0, "curve", shock)
            continue
        if shock.selector == "factor":
            f = index.get(shock.target)
            if f is None:
                continue  # a factor this book does not have: reported as unmatched below
            kind = book.kind[f]
            if kind == 2:  # vol
                if shock.kind == "relative":
                    put(f, float(np.log1p(v)), 0.0, "direct", shock)
                else:
                    pts = v / 100.0 if shock.kind == "vol_points" else v
                    put(f, 0.0, pts, "direct", shock)
            elif kind == 0 and shock.kind == "absolute":
                p = np.flatnonzero(book.spot_col == f)
                ref = (
                    book.und_price[p[0]] if book.asset_class[p[0]] == "option" else book.price[p[0]]
                )
                put(f, v / ref, 0.0, "direct (absolute over price)", shock)
            else:
                put(f, v, 0.0, "direct", shock)
            continue
        if shock.selector == "currency":
            f = index.get(f"FX:{shock.target}")
            if f is not None:
                if shock.kind == "absolute":
                    p = np.flatnonzero(book.currency == shock.target)
                    fx = book.fx[p[0]] if p.size else np.nan
                    put(f, v / fx, 0.0, "direct (absolute over rate)", shock)
                else:
                    put(f, v, 0.0, "direct", shock)
            continue
        hit = np.flatnonzero(_matches(book, shock))
        for p in hit:
            ac = book.asset_class[p]
            if shock.kind == "vol_points" or (
                ac == "option" and shock.selector == "asset_class" and shock.kind != "relative"
            ):
                f = _vol_col(book, p, index)
                if f >= 0:
                    pts = v / 100.0 if shock.kind == "vol_points" else v
                    put(f, 0.0, pts, "vol of selected", shock)
                continue
            if ac == "bond":
                if shock.kind == "absolute" and book.spread_col[p] >= 0:
                    put(int(book.spread_col[p]), v, 0.0, "bond spread", shock)
                continue
            f = int(book.spot_col[p]) if ac != "fx" else _fx_col(book, p)
            if f < 0:
                continue
            if shock.kind == "absolute":
                ref = book.und_price[p] if ac == "option" else book.price[p]
                put(f, v / ref, 0.0, "absolute over price", shock)
            elif ac == "fx" and book.fx_base_col[p] < 0:
                # USD/JPY with a USD base: the pair rises when the quote currency falls
                put(f, 1.0 / (1.0 + v) - 1.0, 0.0, "pair via quote currency", shock)
            else:
                put(f, v, 0.0, "direct", shock)
    mapping = [
        {
            "factor": keys[f],
            "move": float(moves[f]),
            "vol_points": float(points[f]),
            "method": how,
            "source": line,
        }
        for f, (how, line) in sorted(origin.items())
    ]
    return moves, points, mapping


def _vol_col(book: StressBook, p: int, index: dict[str, int]) -> int:
    if book.vol_col[p] >= 0:
        return int(book.vol_col[p])
    f = book.spot_col[p]
    return index.get(f"VOL:{book.keys[f]}", -1) if f >= 0 else -1


def _fx_col(book: StressBook, p: int) -> int:
    return int(book.fx_base_col[p] if book.fx_base_col[p] >= 0 else book.fx_quote_col[p])
