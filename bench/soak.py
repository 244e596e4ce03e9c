"""Soak: hold the event rate through NATS for ``--minutes`` and watch memory, latency and lag.

The same processes and settings as ``bench/e2e.py`` (feed, md and risk as
``riskstream run --stage`` processes over a nats-server started here; 10,000 instruments
and 500,000 events/s by default). After the warm-up, every ``--every`` seconds it records
each stage's resident memory (``VmRSS``) and the window's figures (events/s published and
applied, p50/p99 tick-to-book and tick-to-risk of the events of that window only, feed lag).

Reported:

* ``rss_slope_mb_per_min``: per stage, the least-squares slope of RSS against time over the
  run (a leak shows as a steady positive slope; the first window is left out: arrays
  fault in);
* ``tick_to_risk_p99_drift_ms``: p99 of the last window − p99 of the first (a growing
  backlog shows as drift);
* ``md_backlog_events``: events published but not yet applied by md at the end, and its
  maximum over the windows; ``feed_lag_p99_ms_max``: the worst window's feed lag.

Run::

    PYTHONPATH=src python bench/soak.py --minutes 30

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
from typing import Any

import numpy as np

from e2e import add_arguments, machine, measure, run, with_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds per window")
    args = parser.parse_args()
    args.seconds = args.minutes * 60
    args.mark_every = args.every
    result = with_server(args, run)
    marks, rss = result["marks"], result["rss"]
    windows = [
        measure(a, b)
        for a, b in itertools.pairwise(marks)
        if all(b[n].ts_ns > a[n].ts_ns for n in ("feed", "md", "risk"))  # a new report each
    ]
    backlog = [m["feed"].figures["feed_events"] - m["md"].figures["md_events"] for m in marks]

    def slope(points: list[tuple[float, float]]) -> float | None:
        pts = np.array(points[1:])
        if len(pts) < 3:
            return None
        return round(float(np.polyfit(pts[:, 0] / 60, pts[:, 1], 1)[0]), 3)

    p99 = [w["tick_to_risk_p99_ms"] for w in windows if w["tick_to_risk_p99_ms"] is not None]
    out: dict[str, Any] = {
        "benchmark": "soak",
        "bus": "nats",
        "instruments": args.instruments,
        "minutes": args.minutes,
        "rate_target_events_per_s": args.rate,
        "events_per_s": result["events_per_s"],
        "md_events_per_s": result["md_events_per_s"],
        "tick_to_book_p99_us": result["tick_to_book_p99_us"],
        "tick_to_risk_p50_ms": result["tick_to_risk_p50_ms"],
        "tick_to_risk_p99_ms": result["tick_to_risk_p99_ms"],
        "rss_slope_mb_per_min": {k: slope(v) for k, v in rss.items()},
        "rss_mb_end": {k: round(v[-1][1], 1) for k, v in rss.items() if v},
        "tick_to_risk_p99_drift_ms": round(p99[-1] - p99[0], 3) if len(p99) >= 2 else None,
        "tick_to_risk_p99_ms_by_window": p99,
        "events_per_s_by_window": [w["events_per_s"] for w in windows],
        "md_backlog_events": int(backlog[-1]),
        "md_backlog_events_max": int(max(backlog)),
        "feed_lag_p99_ms_max": max(
            (w["feed_lag_p99_ms"] for w in windows if w["feed_lag_p99_ms"] is not None),
            default=None,
        ),
        "windows": len(windows),
        "machine": machine(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
