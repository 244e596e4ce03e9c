"""Manipulative participants of the simulator: the default stream is untouched, the audit
trail names every order, and the detectors find the injected manipulations."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.audit import Typology
from riskstream.core.events import EventKind
from riskstream.feeds.config import ManipulationConfig, SimulatorConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.surveillance.abuse_scoring import score_alerts
from riskstream.surveillance.market_abuse import AbuseConfig, AbuseDetector
from tests.feeds.conftest import collect

NOBODY = {"spoofers": 0, "layerers": 0, "wash_traders": 0, "closers": 0, "igniters": 0}


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), honest_seed=st.integers(0, 10_000))
def test_no_manipulators_no_labels_and_the_default_stream_unchanged(universe, seed, honest_seed):
    config = SimulatorConfig(seed=seed, events_per_s=3000.0, batch_events=2048)
    plain = collect(MarketSimulator(universe, config), 3.0)
    named = MarketSimulator(
        universe, config, manipulation=ManipulationConfig(seed=honest_seed, **NOBODY)
    )
    events = collect(named, 3.0)
    np.testing.assert_array_equal(events, plain)  # bit for bit
    assert len(named.order_labels()) == 0 and len(named.day_labels()) == 0
    audit = named.audit(events)
    orders = np.isin(events["kind"], (EventKind.ADD, EventKind.MODIFY, EventKind.CANCEL,
                                      EventKind.TRADE)) & (events["order_id"] != 0)  # fmt: skip
    assert (audit["participant_id"][orders] >= 0).all()
    trades = events["kind"] == EventKind.TRADE
    assert (audit["contra_participant_id"][trades] >= 0).all()
    assert (audit["participant_id"][~orders] == -1).all()
    # the same order keeps its owner from its add to its cancel
    key = events["instrument_id"].astype(np.int64) << 40 | events["order_id"].astype(np.int64)
    adds = events["kind"] == EventKind.ADD
    owner = dict(zip(key[adds].tolist(), audit["participant_id"][adds].tolist(), strict=True))
    cancels = (events["kind"] == EventKind.CANCEL) & np.isin(key, key[adds])
    assert [owner[k] for k in key[cancels]] == audit["participant_id"][cancels].tolist()


def test_manipulated_stream_keeps_its_invariants_and_is_labelled(universe):
    config = SimulatorConfig(seed=3, events_per_s=1000.0, session_s=60.0)
    sim = MarketSimulator(universe, config, manipulation=ManipulationConfig(max_days=2))
    events = collect(sim, 120.0)
    assert (np.diff(events["ts_event"]) >= 0).all()
    for i in np.unique(events["instrument_id"]):
        seq = events["seq"][events["instrument_id"] == i]
        np.testing.assert_array_equal(seq, np.arange(1, len(seq) + 1))
    labels = sim.order_labels()
    assert len(labels) > 0 and len(sim.day_labels()) > 0
    roles = sim.manipulators.participants()
    manipulators = {r["participant_id"] for r in roles if r["role"] == "manipulator"}
    assert set(labels["participant_id"].tolist()) <= manipulators
    # every labelled resting order of the stream is owned by its labelled manipulator
    audit = sim.audit(events)
    resting = labels[labels["seq"] == 0]
    adds = events["kind"] == EventKind.ADD
    for lab in resting[:50]:
        hit = (
            adds
            & (events["order_id"] == lab["order_id"])
            & (events["instrument_id"] == lab["instrument_id"])
        )
        assert audit["participant_id"][hit].tolist() == [lab["participant_id"]]


def test_detection_recall_on_a_held_out_seed_is_above_a_floor(universe):
    """Seed 301 was never looked at while the thresholds were set (AbuseConfig's reasoning).
    Floor 0.4: on the bench's held-out seeds the four typologies other than marking the
    close were caught at 0.67 (16 of 24); a floor well under it catches a broken detector
    without betting on one small seed (a few episodes each)."""
    config = SimulatorConfig(seed=301, events_per_s=1500.0, session_s=120.0)
    sim = MarketSimulator(universe, config, manipulation=ManipulationConfig(max_days=3))
    det = AbuseDetector(len(universe), AbuseConfig(session_s=120.0, day0_ns=sim.start_ns))
    for events, _ in sim.batches(360.0):
        det.update(events, sim.audit(events))
    det.flush()
    labels = sim.day_labels()
    scored = score_alerts(det.alerts(), labels, 3 * len(sim.manipulators.roles))
    names = ("spoofing", "layering", "wash_trade", "momentum_ignition")
    true = sum(scored[n]["true"] for n in names)
    caught = sum(scored[n]["caught"] for n in names)
    assert true >= 8  # enough episodes for the floor to mean something
    assert caught / true >= 0.4, scored
    assert int(Typology.MARKING_CLOSE) in labels["typology"]
