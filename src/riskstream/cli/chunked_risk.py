"""Monte Carlo VaR/ES of the stored book in chunks of scenarios, here or on a Dask cluster.

``riskstream risk --method mc --scenarios 1000000 --chunk-scenarios 20000 [--cluster
tcp://…]``. A million scenarios of a few thousand factors are gigabytes in float32 (twice:
the engine keeps a row-major copy), and the engine's per-underlying scenario state grows
with them. So the run is cut into chunks, each an engine of its own over ``chunk``
scenarios, and only the portfolio P&L (8 bytes a scenario) comes back:

1. **Fit once.** The factor history and the scenario generator are fitted here, on the
   same window ``riskstream risk`` uses (:func:`riskstream.cli.engine.fit_scenario_generator`);
   the fitted generator, the marked book and the market state are the tasks' shared input.
2. **Draw and revalue per chunk.** Chunk ``k`` draws its scenarios with its own seed (the
   ``k``-th child of ``SeedSequence(risk.seed)``, :func:`riskstream.cluster.chunk_seeds`;
   horizon ``h`` with that seed ``+ h``, as :meth:`ScenarioSet.from_generator` does), builds
   the engine over them and returns its portfolio P&L per horizon.
3. **Measure the whole.** VaR and ES come from the concatenated P&L in chunk order, with
   the engine's own estimators (:func:`riskstream.risk.euler.tail_rows`).
4. **Allocate.** The Euler contributions are weighted sums over the tail scenarios (the ES
   tail and the VaR kernel, :mod:`riskstream.risk.euler`), so each chunk holding tail rows
   rebuilds its engine (deterministic: the same seed gives the same scenarios) and returns
   its part of the sums for the held instruments; the parts are added in chunk order. This
   second pass costs about as much as the first; tasks never keep engines between passes,
   so a worker's memory holds one chunk at a time.

Where a chunk's engine differs from one engine over every scenario: the option grids'
axes span the widest moves of the chunk (not of the whole set), so option P&L is read off
slightly different grids (within the grid's interpolation error); and the liquidity
figures (L-VaR, spread, impact, funding), whose factor volatilities the engine estimates
from its scenarios, are not computed (the output says so in ``not_computed``). Greeks,
exclusions and marks are the first chunk's engine's, which do not depend on scenarios.

The local run (``--chunk-scenarios`` without ``--cluster``) runs the same tasks one after
another in this process, so its figures equal the cluster's bit for bit.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from typing import Any

import numpy as np

from riskstream.cluster import TaskMap, chunk_seeds, chunks
from riskstream.core.errors import InputError

CHUNKED_METHODS = ("mc", "fhs")
NOT_COMPUTED = ("lvar", "spread_cost", "impact_cost", "funding_cost", "margin")


def chunked_risk(
    universe: Any,
    config: Any,
    history: Any,
    day: dt.date,
    models: Any,
    chunk: int,
    run_tasks: TaskMap,
) -> dict[str, Any]:
    """VaR, ES and Euler contributions of ``config.n_scenarios`` scenarios in chunks.

    Parameters
    ----------
    universe : Universe
        The book (instruments, books, positions).
    config : RiskConfig
        ``method`` one of :data:`CHUNKED_METHODS`; ``n_scenarios`` the total drawn per
        horizon; ``seed`` the root of the chunk seeds.
    history : MarketHistoryFrames
    day : datetime.date
        As-of date (marks and the end of the fitting window).
    models : ModelsConfig
    chunk : int
        Scenarios per chunk (the last chunk may be smaller).
    run_tasks : TaskMap
        Where the chunks run (:func:`riskstream.cluster.task_map`).

    Returns
    -------
    dict
        ``measures`` per (confidence, horizon) with ``var``, ``es`` and ``var_scale``;
        headline ``var``/``es``; ``component_var``/``component_es`` (n_instruments,) at the
        headline; ``greeks``, ``excluded``, ``fx_to_base``; ``chunks``, ``chunk_scenarios``,
        ``scenarios_fingerprint`` (of every chunk's moves, in order).
    """
    from riskstream.cli.engine import close_clock, fit_scenario_generator, mark_to_history
    from riskstream.cli.engine import option_rates as rates_of
    from riskstream.risk import euler
    from riskstream.risk.factors import build_factor_space

    if config.method not in CHUNKED_METHODS:
        raise InputError(
            "--method",
            config.method,
            f"one of {', '.join(CHUNKED_METHODS)} with --chunk-scenarios or --cluster "
            "(historical and parametric use the window's own moves: nothing to draw)",
        )
    if not 100 <= chunk <= config.n_scenarios:
        raise InputError(
            "--chunk-scenarios", chunk, f"100 to {config.n_scenarios} (--scenarios) per chunk"
        )
    marked, market, iv, _ = mark_to_history(universe, history, day, config.dividend_yield)
    space = build_factor_space(marked.instruments, marked.base_currency)
    fh, generator = fit_scenario_generator(space, marked, config, history, day, models)
    ranges = chunks(config.n_scenarios, chunk)
    seeds = chunk_seeds(config.seed, len(ranges))
    qty = np.bincount(
        marked.positions["instrument_id"].to_numpy(),
        weights=marked.positions["quantity"].to_numpy(),
        minlength=marked.instruments.height,
    )
    held = np.flatnonzero(qty)
    shared = {
        "universe": marked,
        "market": market,
        "implied_vol": iv,
        "rates": rates_of(marked, day, history.curves),
        "clock": close_clock(day),
        "config": config,
        "generator": generator,
        "kind": space.kind,
        "held": held,
    }
    specs = [
        (k, stop - start, seed)
        for k, ((start, stop), seed) in enumerate(zip(ranges, seeds, strict=True))
    ]
    first = run_tasks(_chunk_pnl, specs, shared)

    levels, horizons = tuple(config.confidence_levels), tuple(config.horizons_days)
    measures, tails = [], {}
    for h in horizons:
        pnl = np.concatenate([part["pnl"][h] for part in first])
        for c in levels:
            t = euler.tail_rows(pnl, c, config.euler_var_neighbours)
            tails[h, c] = t
            measures.append(
                {
                    "confidence": float(c),
                    "horizon_days": int(h),
                    "var": float(t.var) + 0.0,
                    "es": float(t.es) + 0.0,
                    "var_kernel_scale": float(t.var_scale),
                }
            )

    # Euler at the headline (first level, first horizon), as the engine's snapshot: the
    # ES-tail mean and the VaR kernel as weights over the tail rows, split by chunk (rows
    # local to the chunk), summed back in chunk order.
    h0, c0 = horizons[0], levels[0]
    t = tails[h0, c0]
    rows_all = t.rows
    requests = []
    for k, (start, stop) in enumerate(ranges):
        rows = rows_all[(rows_all >= start) & (rows_all < stop)]
        if rows.size == 0:
            continue
        weights = np.zeros((2, rows.size))
        es_in = t.es_rows[(t.es_rows >= start) & (t.es_rows < stop)]
        weights[0, np.searchsorted(rows, es_in)] = 1.0 / t.es_rows.size
        sel = (t.var_rows >= start) & (t.var_rows < stop)
        weights[1, np.searchsorted(rows, t.var_rows[sel])] = t.var_weights[sel]
        requests.append((*specs[k], h0, rows - start, weights))
    unit = np.zeros((2, held.size))
    for part in run_tasks(_chunk_tail, requests, shared):
        unit += part
    u_es = np.zeros(qty.size)
    u_var = np.zeros(qty.size)
    u_es[held] = -unit[0]
    u_var[held] = -unit[1]
    head = first[0]["head"]
    fingerprint = hashlib.blake2b(digest_size=8)
    for part in first:
        fingerprint.update(part["fingerprint"].encode())
    return {
        "method": config.method,
        "n_scenarios": config.n_scenarios,
        "chunk_scenarios": chunk,
        "chunks": len(ranges),
        "seed": config.seed,
        "scenarios_fingerprint": fingerprint.hexdigest(),
        "var": measures[0]["var"],
        "es": measures[0]["es"],
        "headline": {"confidence": c0, "horizon_days": h0},
        "measures": measures,
        "unit_var": u_var,
        "unit_es": u_es,
        "component_var": qty * u_var,
        "component_es": qty * u_es,
        "quantity": qty,
        "greeks": head["greeks"],
        "excluded": head["excluded"],
        "fx_to_base": head["fx_to_base"],
        "model_warnings": head["model_warnings"],
        "history": {**fh.as_dict(), "window_days": config.window_days},
        "not_computed": list(NOT_COMPUTED),
    }


def _chunk_engine(shared: dict[str, Any], size: int, seed: int) -> Any:
    """The engine of one chunk: ``size`` scenarios per horizon drawn with ``seed``."""
    from riskstream.risk.engine import RiskEngine
    from riskstream.risk.scenarios import ScenarioSet

    config = shared["config"]
    scenarios = ScenarioSet.from_generator(
        shared["generator"], shared["kind"], config.horizons_days, size, seed
    )
    return RiskEngine(
        shared["universe"],
        copy.deepcopy(shared["market"]),  # the engine clears its flags: shared is read-only
        scenarios,
        shared["implied_vol"],
        config,
        copy.deepcopy(shared["clock"]),
        rates=shared["rates"],
    )


def _chunk_pnl(shared: dict[str, Any], spec: tuple[int, int, int]) -> dict[str, Any]:
    """Pass 1 of one chunk: its portfolio P&L per horizon (and, for the first chunk, the
    scenario-independent state: Greeks, exclusions, FX)."""
    k, size, seed = spec
    engine = _chunk_engine(shared, size, seed)
    out: dict[str, Any] = {
        "pnl": {h: engine.portfolio_pnl(h) for h in engine.horizons},
        "fingerprint": engine.scenarios.fingerprint,
    }
    if k == 0:
        snap = engine.compute()
        out["head"] = {
            "greeks": snap.greeks,
            "excluded": [e.as_dict() for e in snap.excluded],
            "fx_to_base": snap.fx_to_base,
            "model_warnings": list(snap.model_warnings),
        }
    return out


def _chunk_tail(
    shared: dict[str, Any], request: tuple[int, int, int, int, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Pass 2 of one chunk: the weighted sums over its tail rows (chunk-local ``rows``, with
    ``weights`` of shape (2, n_rows): ES tail, VaR kernel) of the held instruments'
    per-unit P&L at horizon ``h``, shape (2, n_held)."""
    _, size, seed, h, rows, weights = request
    engine = _chunk_engine(shared, size, seed)
    return engine.unit_pnl_weighted(h, rows, weights, shared["held"])


def contributions(
    universe: Any, result: dict[str, Any], by: str | None, top_n: int
) -> dict[str, Any]:
    """The Euler contributions of a :func:`chunked_risk` result as ``riskstream risk``
    reports them: ``top_contributors`` (largest component ES, ties by id) and, with ``by``,
    ``by_instrument`` or ``by`` (summed per position's label: asset_class, desk, strategy,
    trader; a position's part is its quantity times the instrument's per-unit component)."""
    from riskstream.risk.euler import marginal_var

    inst = universe.instruments
    comp_var, comp_es, qty = result["component_var"], result["component_es"], result["quantity"]
    symbol = inst["symbol"].to_list()
    asset = inst["asset_class"].to_list()
    marginal = marginal_var(comp_var, qty)

    def row(i: int) -> dict[str, Any]:
        return {
            "instrument_id": int(i),
            "symbol": str(symbol[i]),
            "asset_class": str(asset[i]),
            "quantity": float(qty[i]),
            "component_var": float(comp_var[i]),
            "component_es": float(comp_es[i]),
            "marginal_var": float(marginal[i]) if np.isfinite(marginal[i]) else 0.0,
        }

    held = np.flatnonzero(qty)
    order = held[np.lexsort((held, -comp_es[held]))]
    out: dict[str, Any] = {"top_contributors": [row(i) for i in order[:top_n]]}
    if by == "instrument":
        out["by_instrument"] = [
            {k: v for k, v in row(i).items() if k not in ("asset_class", "marginal_var")}
            for i in order
        ]
    elif by is not None:
        # Each position's part: its quantity times its instrument's per-unit component.
        pos = universe.positions.join(
            universe.books.select("book_id", "desk", "strategy", "trader"),
            on="book_id",
            how="left",
        )
        ids = pos["instrument_id"].to_numpy()
        labels = (
            np.asarray(asset, dtype=object)[ids]
            if by == "asset_class"
            else pos[by].fill_null("(unassigned)").to_numpy()
        )
        q = pos["quantity"].to_numpy()
        names, codes = np.unique(labels.astype(str), return_inverse=True)
        v = np.bincount(codes, weights=q * result["unit_var"][ids], minlength=names.size)
        e = np.bincount(codes, weights=q * result["unit_es"][ids], minlength=names.size)
        out["by"] = {
            by: {
                str(k): {"component_var": float(a), "component_es": float(b)}
                for k, a, b in zip(names, v, e, strict=True)
            }
        }
    return out
