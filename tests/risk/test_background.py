"""Heavy recomputes off the hot path (risk.background, ``background_recompute``): a regime
switch and SPAN margin are prepared on the worker and swapped in at the top of a later
refresh; a refresh never waits for them, and once swapped in the figures are those of the
same computation done inline, bit for bit.

"Does not wait" is proven by ordering, not timing: the worker is held at a
``threading.Event`` gate before its job, and the refreshes run (and return) while it is."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.messages import RegimeChanged
from riskstream.risk.conditioning import RegimeConditioning
from riskstream.risk.config import RiskConfig
from tests.risk.helpers import make_engine, make_universe

CRISIS = RegimeChanged(ts_ns=5, regime=2, name="crisis", probabilities=(0.05, 0.05, 0.9),
                       vol_multiplier=1.8, market_variance_ratio=2.5)  # fmt: skip
CALM = RegimeChanged(ts_ns=9, regime=0, name="calm", probabilities=(0.9, 0.05, 0.05))


def _config(background: bool, **kw) -> RiskConfig:
    return RiskConfig(n_scenarios=2000, horizons_days=(1, 10), regime_conditional=True,
                      background_recompute=background, **kw)  # fmt: skip


def _figures(snap) -> dict[str, Any]:
    """A snapshot's figures: everything but the lineage of the config (the background
    setting is part of the fingerprint) and the pending switch."""
    out = snap.as_dict(contributions=True)
    for key in ("config_fingerprint", "lineage_id", "regime_switch"):
        out.pop(key)
    return out


def _gated(engine) -> threading.Event:
    gate = threading.Event()
    engine.background.gate = gate.wait
    return gate


@pytest.fixture(scope="module")
def universe():
    return make_universe()


def test_a_refresh_while_a_switch_is_pending_does_not_wait_for_it(universe) -> None:
    eng = make_engine(universe, config=_config(True))
    gate = _gated(eng)
    before = eng.refresh()
    eng.send(CRISIS)
    # the worker is held at the gate: these refreshes can only return without it
    pending = [eng.refresh() for _ in range(2)]
    for snap in pending:
        assert snap.regime_conditioning is None  # the unconditional set is still in force
        assert snap.regime_switch["to"]["regime"] == "crisis"
        assert snap.regime_switch["requested_ns"] == CRISIS.ts_ns
        assert _figures(snap)["var"] == before.headline.var
    assert eng.background.pending("regime")
    gate.set()
    eng.wait_background(timeout=60)
    swapped = eng.refresh()
    assert swapped.regime_switch is None
    assert swapped.regime_conditioning["regime"] == "crisis"
    # the same switch computed inline, on an engine at the same state
    sync = make_engine(universe, config=_config(False))
    sync.refresh()
    sync.send(CRISIS)
    inline = sync.refresh()
    assert _figures(swapped) == _figures(inline)
    # and back: the unconditional figures, bit for bit
    eng.send(CALM)
    assert eng.refresh().regime_switch == {"to": None, "requested_ns": CALM.ts_ns}
    eng.wait_background(timeout=60)
    back = eng.refresh()
    assert back.regime_conditioning is None and back.regime_switch is None
    assert _figures(back) == _figures(before)
    eng.close()


def test_a_newer_switch_supersedes_one_being_prepared(universe) -> None:
    eng = make_engine(universe, config=_config(True))
    gate = _gated(eng)
    eng.send(CRISIS)
    eng.refresh()
    volatile = RegimeChanged(ts_ns=7, regime=1, name="volatile", probabilities=(0.1, 0.8, 0.1),
                             vol_multiplier=1.3, market_variance_ratio=1.5)  # fmt: skip
    eng.send(volatile)
    assert eng.refresh().regime_switch["to"]["regime"] == "volatile"
    gate.set()
    eng.wait_background(timeout=60)
    snap = eng.refresh()
    assert snap.regime_conditioning["regime"] == "volatile" and snap.regime_switch is None
    assert _figures(eng.refresh()) == _figures(snap)  # nothing else arrives later
    # a switch back to the regime in force before the worker ran: nothing to adopt
    gate.clear()
    eng.send(CALM)
    eng.refresh()
    eng.send(volatile)
    assert eng.refresh().regime_switch is None
    gate.set()
    eng.close()


def test_option_inputs_changed_while_pending_are_repriced_at_the_swap(universe) -> None:
    # An option's vol moves after the worker copied its inputs: at the swap its underlying's
    # grid is priced again at the live vol, so the figures equal the inline switch's.
    eng = make_engine(universe, config=_config(True))
    sync = make_engine(universe, config=_config(False))
    gate = _gated(eng)
    eng.refresh(), sync.refresh()
    eng.send(CRISIS)
    eng.refresh()  # the worker copies the grid inputs here
    o = int(eng.opt_ids[0])
    for e in (eng, sync):
        e.options.implied_vol[o] *= 1.1  # as a vol quote would (the surface's own path)
    gate.set()
    eng.wait_background(timeout=60)
    eng.refresh()  # the switch is swapped in; SPAN at the new vol goes to the worker
    eng.wait_background(timeout=60)
    swapped = eng.refresh()
    sync.send(CRISIS)
    assert _figures(swapped) == _figures(sync.refresh())
    eng.close()


def test_span_margin_is_recomputed_off_the_hot_path(universe) -> None:
    eng = make_engine(universe, config=_config(True))
    gate = _gated(eng)
    first = eng.refresh().headline.initial_margin  # the first margin is computed inline
    fut = list(eng.symbol).index("ESZ6")
    eng.apply_trade(1, fut, 5.0)  # the derivatives book changed: SPAN again
    held = eng.refresh()
    assert held.headline.initial_margin == first  # the margin in force, while the worker waits
    assert eng.background.pending("span")
    gate.set()
    eng.wait_background(timeout=60)
    now = eng.refresh().headline.initial_margin
    assert now == eng.span_margin()[0] != first
    eng.close()


@pytest.fixture(scope="module")
def pair(universe):
    """An engine switching in the background and one switching inline, same state."""
    eng = make_engine(universe, config=_config(True))
    sync = make_engine(universe, config=_config(False))
    yield eng, sync
    eng.close()


@settings(max_examples=6, deadline=None)
@given(s=st.floats(0.5, 3.0), theta=st.floats(1.0, 4.0))
def test_a_background_switch_equals_the_inline_one(pair, s: float, theta: float) -> None:
    eng, sync = pair
    message = RegimeChanged(ts_ns=1, regime=1, name="x", probabilities=(0.5, 0.5),
                            vol_multiplier=s, market_variance_ratio=theta)  # fmt: skip
    eng.send(message)
    eng.refresh()
    eng.wait_background(timeout=60)
    sync.send(message)
    a, b = eng.refresh(), sync.refresh()
    identity = RegimeConditioning("x", s, theta).is_identity
    assert a.regime_conditioning == (
        None if identity else RegimeConditioning("x", s, theta, 0.5).as_dict()
    )
    assert a.regime_switch is None
    assert _figures(a) == _figures(b)
    np.testing.assert_array_equal(eng.portfolio_pnl(10), sync.portfolio_pnl(10))


def test_a_failed_switch_is_raised_on_the_engine_thread_and_the_state_in_force_kept(
    universe,
) -> None:
    eng = make_engine(universe, config=_config(True))
    before = eng.refresh()

    def broken(*args):
        raise RuntimeError("worker failed")

    eng._prepare_regime = broken  # the job the worker runs for a switch
    eng.send(CRISIS)
    eng.refresh()
    eng.wait_background(timeout=60)
    with pytest.raises(RuntimeError, match="worker failed"):
        eng.refresh()
    after = eng.refresh()
    assert after.regime_switch is None and after.regime_conditioning is None
    assert _figures(after) == _figures(before) | {"ts_ns": after.ts_ns}
    eng.close()
