"""bench/flash_crash.py's quick mode end to end: one crash run, one calm and one volatile
day on a 200-instrument universe, live (the runtime's nodes on threads), its last line one
JSON object with the keys the benchmark publishes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "flash_crash.py"
KEYS = {
    "live", "crash_runs", "calm_days", "loss_avoided_usd_median", "loss_avoided_usd_p10",
    "loss_avoided_usd_p90", "calm_cost_usd_mean", "false_triggers_per_day",
    "breach_to_action_ms", "per_scenario", "regime_lag_s", "wall_s",
}  # fmt: skip


def test_quick_mode_runs_end_to_end(capsys) -> None:
    spec = importlib.util.spec_from_file_location("flash_crash_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--quick"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(json.dumps(result, default=str))
    assert result.keys() >= KEYS
    assert result["live"] is True
    assert result["crash_runs"] == 1 and result["calm_days"] == 1
    names = [row["scenario"] for row in result["per_scenario"]]
    assert names == ["may-2010", "calm", "volatile"]
    # the policy-off counterfactual moved with the market: a real P&L, not zero
    assert all(row["held_pnl_usd_median"] != 0 for row in result["per_scenario"])
    # the regime node ran in the crash run, and the ordinary
    # days' stop-loss estimate is a probability from the drawdown law, not a count x 13
    assert set(result["regime_lag_s"]) == {"may-2010"}
    # (no rate is asked of the quick run: on a fresh clone the regime node's numba kernels
    # compile inside its windows, so it may update fewer than twice in any of them)
    assert all("regime_switches_per_day" in row for row in result["per_scenario"])
    assert result["ordinary_days_are"] == "10-min windows"
    assert 0.0 <= result["stop_loss_day_probability_mean"] <= 1.0
