"""The market-event schema: layout, fixed-point prices and the Arrow round trip."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from riskstream.core import (
    EVENT_ARROW_SCHEMA,
    EVENT_DTYPE,
    PRICE_SCALE,
    EventKind,
    Side,
    empty_events,
    events_from_arrow,
    events_to_arrow,
    from_fixed,
    to_fixed,
)


def test_dtype_has_the_fields_of_the_design_with_their_types() -> None:
    expected = {
        "ts_event": np.int64,
        "ts_recv": np.int64,
        "seq": np.uint64,
        "instrument_id": np.int32,
        "source": np.uint16,
        "kind": np.uint8,
        "side": np.int8,
        "price": np.int64,
        "size": np.float64,
        "order_id": np.uint64,
        "flags": np.uint8,
    }
    assert list(EVENT_DTYPE.names) == list(expected)
    for name, kind in expected.items():
        assert EVENT_DTYPE[name] == np.dtype(kind), name
    assert EVENT_ARROW_SCHEMA.names == list(expected)


def test_empty_batch_is_recognisably_unset() -> None:
    batch = empty_events(4)
    assert (batch["kind"] == 0).all()
    assert 0 not in {int(k) for k in EventKind}


def test_sides_are_signed() -> None:
    assert Side.BID == 1 and Side.ASK == -1


def test_fixed_point_is_exact_on_decimal_ticks() -> None:
    # 101.25 and 0.000000001 are exactly representable in 1e-9 units.
    assert to_fixed(101.25) == 101_250_000_000
    assert to_fixed(1e-9) == 1
    assert from_fixed(101_250_000_000) == 101.25
    assert PRICE_SCALE == 10**9


@given(st.lists(st.integers(min_value=-(10**15), max_value=10**15), min_size=1, max_size=50))
def test_fixed_point_round_trips_integers_of_nano_units(units: list[int]) -> None:
    prices = np.array(units, dtype=np.int64)
    np.testing.assert_array_equal(to_fixed(from_fixed(prices)), prices)


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=2**31 - 1))
def test_arrow_round_trip_is_lossless(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    batch = empty_events(n)
    batch["ts_event"] = rng.integers(0, 2**62, n)
    batch["ts_recv"] = batch["ts_event"] + rng.integers(0, 10**6, n)
    batch["seq"] = rng.integers(1, 2**63, n, dtype=np.uint64)
    batch["instrument_id"] = rng.integers(0, 10_000, n)
    batch["kind"] = rng.integers(1, 8, n)
    batch["side"] = rng.choice([-1, 1], n)
    batch["price"] = rng.integers(-(2**40), 2**40, n)
    batch["size"] = rng.random(n) * 1000
    batch["order_id"] = rng.integers(0, 2**63, n, dtype=np.uint64)
    back = events_from_arrow(events_to_arrow(batch))
    assert back.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(back, batch)
