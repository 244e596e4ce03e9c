"""Soak: hold the event rate through NATS for ``--minutes`` and watch memory, latency and lag.

The same processes and settings as ``bench/e2e.py`` (feed, md and risk as
``riskstream run --stage`` processes over a nats-server started here; 10,000 instruments
and 500,000 events/s by default). After the warm-up, every ``--every`` seconds it records
each stage's resident memory (``VmRSS``) and the window's figures (events/s published and
applied, p50/p99 tick-to-book and tick-to-risk of the events of that window only, feed lag).

Two things differ from the e2e bench, both so that a long run measures the same load from
start to end:

* *The rate is held.* The simulator's rate is a session average shaped by the intraday U
  (``feeds.market_model.intraday_activity``): from e2e's start at 90% of the session, 30
  minutes run into the close and the rate climbs from 1.01x to 1.43x — a ramp, whose
  growing latency would read as drift. The soak starts at midday (``--session-tau 0.5``,
  where the U is flat: 0.8545x, 0.8543x 30 minutes later, 0.856x an hour later) and sets
  the simulator's session average to ``--rate / intraday_activity(tau)``, so the market
  runs at ``--rate`` throughout (more in a volatile regime:
  ``simulator.regimes.activity_mult``, as in life).
* *The broker's store is bounded.* An event is 64 bytes on the wire: 500,000 a second
  write 32 MB/s of events into JetStream (md's deltas come on top), 58 GB in 30 minutes
  with the default retention (a day). The streams keep ``--retention-s`` (120 s: md's
  checkpoint every ``runtime.checkpoint_s`` = 15 s needs the messages after it, and md is
  never that far behind while it keeps up).

Reported:

* ``rss_slope_mb_per_min``: per stage, the least-squares slope of RSS against time over the
  run (a leak shows as a steady positive slope; the first window is left out: arrays
  fault in);
* ``tick_to_risk_p99_drift_ms``: p99 of the last window − p99 of the first (a growing
  backlog shows as drift), and the same for tick-to-book;
* ``md_backlog_events``: events published but not yet applied by md at the end, and its
  maximum over the windows; ``feed_lag_p99_ms_max``: the worst window's feed lag;
  ``risk_state_lag_p99_ms``: how old risk's newest delta was at its refreshes (wall time);
* ``rate_held``: every window's published rate at least 98% of ``--rate`` (Poisson noise
  over a 30 s window is 0.02%; the feed publishes every 10 ms tick) and md keeping up (at
  the end less than one second of events behind).

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
from riskstream.feeds.market_model import intraday_activity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds per window")
    parser.add_argument(
        "--retention-s", type=float, default=120.0, help="the streams' max age (bus.max_age_s)"
    )
    parser.set_defaults(session_tau=0.5)  # midday: the intraday U is flat
    args = parser.parse_args()
    args.seconds = args.minutes * 60
    args.mark_every = args.every
    args.simulator_rate = args.rate / float(intraday_activity(args.session_tau))
    args.extra_env = {"RISKSTREAM_BUS__MAX_AGE_S": str(args.retention_s)}
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
    book = [w["tick_to_book_p99_us"] for w in windows if w["tick_to_book_p99_us"] is not None]
    rates = [w["events_per_s"] for w in windows]
    risk_end = marks[-1]["risk"].figures
    out: dict[str, Any] = {
        "benchmark": "soak",
        "bus": "nats",
        "instruments": args.instruments,
        "minutes": args.minutes,
        "rate_target_events_per_s": args.rate,
        "session_tau": args.session_tau,
        "simulator_events_per_s": round(args.simulator_rate),
        "retention_s": args.retention_s,
        "rate_held": bool(
            rates
            and min(rates) >= 0.98 * args.rate
            and backlog[-1] <= args.rate  # md less than a second behind at the end
        ),
        "events_per_s_min_window": min(rates) if rates else None,
        "events_per_s": result["events_per_s"],
        "md_events_per_s": result["md_events_per_s"],
        "tick_to_book_p99_us": result["tick_to_book_p99_us"],
        "tick_to_risk_p50_ms": result["tick_to_risk_p50_ms"],
        "tick_to_risk_p99_ms": result["tick_to_risk_p99_ms"],
        "rss_slope_mb_per_min": {k: slope(v) for k, v in rss.items()},
        "rss_mb_end": {k: round(v[-1][1], 1) for k, v in rss.items() if v},
        "tick_to_risk_p99_drift_ms": round(p99[-1] - p99[0], 3) if len(p99) >= 2 else None,
        "tick_to_risk_p99_ms_by_window": p99,
        "tick_to_book_p99_drift_us": round(book[-1] - book[0], 3) if len(book) >= 2 else None,
        "tick_to_book_p99_us_by_window": book,
        "risk_state_lag_p99_ms": risk_end.get("risk_state_lag_p99_ms"),
        "md_events_per_s_by_window": [w["md_events_per_s"] for w in windows],
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
