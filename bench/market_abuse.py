"""Market-abuse detectors: recall, precision and alert rate per typology, and throughput.

Method (docs/benchmarks.md, "market abuse"): a 50-instrument generated universe (seed 3),
the simulator at 2,000 events/s with 300-second days and the default manipulative population
(:class:`riskstream.feeds.manipulation.ManipulationConfig`); 3 days per seed. The detectors'
thresholds are :class:`riskstream.surveillance.market_abuse.AbuseConfig`'s defaults, fixed
before the held-out and unseen seeds were run (seed 5 was the development seed looked at;
seeds 101, 102 and 201 were held out in a first run, then consumed by the change to the
marking-the-close detector and closer sizing it led to — see docs/benchmarks.md).

* ``held_out``: seeds 111 and 112, the default manipulation shapes;
* ``unseen``: seed 211 with shapes the thresholds were not set on (UNSEEN below): a smaller
  spoof further from the touch, six layers, a slower cancel, wash trades between two
  accounts of one owner, a shorter closing window, a shorter and slower ignition burst.

Throughput: the detectors alone (``AbuseDetector.update`` over the stored batches, events
and audit trail in memory), events per second of wall time.

    nice python bench/market_abuse.py [--days 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from riskstream.feeds.config import ManipulationConfig, SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.surveillance.abuse_scoring import score_alerts
from riskstream.surveillance.market_abuse import AbuseConfig, AbuseDetector

SESSION_S = 300.0
UNSEEN = {
    "spoof_size_mult": 5.0, "spoof_ticks_behind": 2, "cancel_delay_ms": 900.0,
    "layering_levels": 6, "layer_size_mult": 3.5, "wash_two_accounts": True,
    "wash_trades": 3, "wash_gap_ms": 5000.0, "close_window_s": 30.0, "close_orders": 3,
    "close_volume_share": 0.4,
    "ignition_orders": 5, "ignition_gap_ms": 400.0, "ignition_reverse_ms": 6000.0,
}  # fmt: skip


def run(seed: int, days: int, shape: dict) -> dict:
    universe = generate_universe(UniverseConfig(instruments=50, seed=3))
    sim = MarketSimulator(
        universe,
        SimulatorConfig(seed=seed, events_per_s=2000.0, session_s=SESSION_S),
        manipulation=ManipulationConfig(max_days=days, **shape),
    )
    batches = [(b, sim.audit(b)) for b, _ in sim.batches(days * SESSION_S)]
    n = sum(len(b) for b, _ in batches)
    det = AbuseDetector(len(universe), AbuseConfig(session_s=SESSION_S, day0_ns=sim.start_ns))
    t0 = time.perf_counter()
    for events, audit in batches:
        det.update(events, audit)
    det.flush()
    wall = time.perf_counter() - t0
    n_participants = len(sim.manipulators.roles)
    return {
        "events": n, "wall_s": wall, "alerts": det.alerts(), "labels": sim.day_labels(),
        "participant_days": n_participants * days,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one held-out seed, one day")
    args = ap.parse_args()
    days = 1 if args.quick else args.days
    run(5, 1, {})  # warm-up: compiles the kernels (not measured)
    sets = {"held_out": [111] if args.quick else [111, 112], "unseen": [211]}
    out: dict = {"bench": "market_abuse", "days_per_seed": days, "session_s": SESSION_S}
    events = wall = 0.0
    for name, seeds in sets.items():
        alerts, labels, pdays = [], [], 0
        for seed in seeds:
            r = run(seed, days, UNSEEN if name == "unseen" else {})
            al, lab = r["alerts"], r["labels"]
            # participant-days of different seeds are different participant-days
            al["day"] += seed * 1000
            lab["day"] += seed * 1000
            alerts.append(al)
            labels.append(lab)
            pdays += r["participant_days"]
            events += r["events"]
            wall += r["wall_s"]
        out[name] = score_alerts(np.concatenate(alerts), np.concatenate(labels), pdays)
        out[name]["seeds"] = seeds
        out[name]["participant_days"] = pdays
    out["unseen_shape"] = UNSEEN
    out["detector_events_per_s"] = round(events / wall)
    out["events"] = int(events)
    out["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
