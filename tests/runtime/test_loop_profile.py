"""The loop profile (phases' wall and CPU time, slow iterations) and the GC pause monitor."""

from __future__ import annotations

import gc
import time

from riskstream.runtime.latency import GC_PAUSES, LoopProfile, settle_gc


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_slow_iteration_is_counted_under_its_longest_phase_with_wall_and_cpu() -> None:
    profile = LoopProfile(("wait", "work"), slow_ms=50.0)
    profile.begin()
    time.sleep(0.08)  # waiting: wall time, next to no CPU
    profile.mark("wait")
    _spin(0.01)  # computing: CPU time (the machine may be busy: CPU <= wall)
    profile.mark("work")
    profile.end(items=3)
    profile.begin()  # a fast iteration: counted, not slow
    profile.mark("work")
    profile.end()
    out = profile.summary()
    assert out["iterations"] == 2 and out["slow"] == 1
    assert out["slow_by_phase"] == {"wait": 1}
    slow = out["recent_slow"][0]
    assert slow["phase"] == "wait" and slow["items"] == 3
    assert slow["wall_ms"] >= 80.0
    wait_wall, wait_cpu = slow["phases_ms"]["wait"]
    assert wait_wall >= 80.0 and wait_cpu < 20.0  # sleeping burns no CPU
    assert out["cpu_s"]["work"] <= out["wall_s"]["work"] + 1e-3
    assert out["wall_s"]["wait"] >= 0.08


def test_time_measured_inside_a_phase_moves_to_another_with_its_cpu_share() -> None:
    profile = LoopProfile(("apply", "grow"))
    profile.begin()
    _spin(0.02)
    profile.mark("apply")
    profile.move("apply", "grow", 10**12)  # never more than the phase had
    profile.end()
    out = profile.summary()
    assert out["wall_s"]["apply"] == 0.0 and out["wall_s"]["grow"] >= 0.02
    assert out["cpu_s"]["apply"] == 0.0


def test_gc_pauses_are_timed_and_settle_gc_freezes_what_was_built() -> None:
    GC_PAUSES.install()
    before = GC_PAUSES.collections[2]
    gc.collect()
    assert GC_PAUSES.collections[2] == before + 1
    try:
        settle_gc()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
