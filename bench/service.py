"""Benchmark: the service's hot paths on the 10,000-instrument reference universe.

Measures (wall clock, in process, no network): publishing one snapshot through the feed
(cache write with per-instrument Euler arrays, history, limits, metrics), and the API's
answer times through FastAPI's test client for ``/api/v1/risk/latest``, a desk → instrument
drill-down and ``/metrics``. Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time

import numpy as np

from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.risk.snapshot import Measure, RiskSnapshot
from riskstream.service import ServiceConfig, create_app
from riskstream.store.refdb import RefDB


def synthetic_snapshot(universe, ts_ns: int, rng: np.random.Generator) -> RiskSnapshot:
    """A snapshot shaped like the engine's (random Euler parts; only timing matters)."""
    n = len(universe)
    cvar = rng.normal(0, 100.0, n)
    ces = cvar * 1.2
    positions = universe.positions.join(universe.books, on="book_id")
    desks = {
        d: {"component_var": float(cvar[ids].sum()), "component_es": float(ces[ids].sum())}
        for d, ids in positions.group_by("desk").agg("instrument_id").iter_rows()
    }
    var = float(cvar.sum())
    m = Measure(
        confidence=0.99,
        horizon_days=1,
        var=var,
        es=float(ces.sum()),
        lvar=var * 1.3,
        spread_cost=1.0,
        impact_cost=1.0,
        impact_cost_std=0.0,
        funding_cost=1.0,
        variation_margin=0.0,
        initial_margin_call=0.0,
        haircut_call=0.0,
        initial_margin=0.0,
        forced_sale=0.0,
        var_kernel_scale=1.0,
    )
    return RiskSnapshot(
        ts_ns,
        1,
        "a",
        "b",
        "c",
        "d",
        "historical",
        10_000,
        (m,),
        (),
        cvar,
        ces,
        {},
        {"desk": desks},
        (),
    )


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1e3
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def timed(n: int, fn) -> dict[str, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def main() -> None:
    from fastapi.testclient import TestClient

    universe = generate_universe(UniverseConfig(instruments=10_000, seed=7))
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        db = RefDB(f"sqlite:///{tmp}/refdata.db")
        db.migrate()
        db.save_universe(universe)
        app = create_app(ServiceConfig(), db)
        key = app.state.ctx.keys.create("bench", "admin")
        feed = app.state.ctx.feed
        snaps = [synthetic_snapshot(universe, 10**18 + i, rng) for i in range(50)]
        prices = universe.instruments["ref_price"].to_numpy()
        it = iter(snaps)
        publish = timed(50, lambda: feed.push(next(it), prices=prices))
        client = TestClient(app)
        h = {"X-API-Key": key}
        desk = universe.books["desk"][0]
        out = {
            "benchmark": "service",
            "instruments": len(universe),
            "positions": universe.positions.height,
            "publish_snapshot": publish,
            "get_risk_latest": timed(50, lambda: client.get("/api/v1/risk/latest", headers=h)),
            "get_drilldown_desk_to_instrument": timed(
                30,
                lambda: client.get(f"/api/v1/risk/drilldown?by=instrument&desk={desk}", headers=h),
            ),
            "get_metrics": timed(50, lambda: client.get("/metrics")),
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "processor": platform.processor() or platform.machine(),
            },
        }
        db.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
