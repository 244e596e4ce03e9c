"""The wire codec of typed messages (``riskstream.core.wire``): every message round-trips
exactly (NaN, infinities, -0.0, empty arrays, unicode, structured dtypes), bad input and
foreign payloads are refused with errors that name what is wrong, and no pickle is used."""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from riskstream.core import wire
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE
from riskstream.core.messages import (
    Fill,
    LimitState,
    MarketStateDelta,
    PositionChangeRequest,
    PositionsChanged,
    RegimeChanged,
)


def same(a: object, b: object) -> bool:
    """Structural equality where NaN equals NaN, -0.0 differs from 0.0, and types count."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float | np.floating):
        return a.tobytes() == b.tobytes() if isinstance(a, np.floating) else _same_float(a, b)
    if isinstance(a, np.generic):
        return a.tobytes() == b.tobytes()
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def roundtrip(message: object) -> object:
    return wire.decode(wire.encode(message))


# ------------------------------------------------------------------ strategies

floats = st.floats(allow_nan=True, allow_infinity=True)
text = st.text()  # any unicode, surrogates excluded by hypothesis' default alphabet
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
dtypes = st.sampled_from(
    [
        np.float64,
        np.float32,
        np.int64,
        np.int32,
        np.int8,
        np.uint8,
        np.uint64,
        np.bool_,
        np.complex128,
        "<U7",
        "S5",
        "M8[ns]",
        ">f8",
        EVENT_DTYPE,
    ]
)


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(dtypes))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
    if dtype == EVENT_DTYPE:
        n = draw(st.integers(0, 6))
        events = np.zeros(n, dtype=EVENT_DTYPE)
        events["price"] = draw(hnp.arrays(np.int64, n))
        events["size"] = draw(hnp.arrays(np.float64, n))
        events["instrument_id"] = draw(hnp.arrays(np.int32, n))
        return events
    return draw(hnp.arrays(dtype, shape))


scalars = st.none() | st.booleans() | ints | floats | text | st.binary(max_size=20)
plain = st.recursive(
    scalars | arrays(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(text | ints, inner, max_size=4)
    ),
    max_leaves=12,
)


# ------------------------------------------------------------------ round trips


@given(plain)
def test_plain_values_round_trip(value: object) -> None:
    assert same(roundtrip(value), value)


@given(st.sampled_from([np.float64(-0.0), np.float32(np.nan), np.int16(-7), np.uint64(2**64 - 1)]))
def test_numpy_scalars_keep_their_type(value: np.generic) -> None:
    assert same(roundtrip(value), value)


@given(
    seq=ints,
    ts=ints,
    ids=hnp.arrays(np.int64, st.integers(0, 20)),
    bid=hnp.arrays(np.float64, st.integers(0, 20)),
    events=ints,
)
def test_market_state_delta_round_trips(seq, ts, ids, bid, events) -> None:
    delta = MarketStateDelta(seq, ts, ids, {"bid": bid, "stale": bid > 0}, events, ids)
    back = roundtrip(delta)
    assert same(back, delta)
    assert not back.instrument_id.flags.writeable  # still a frozen message


@given(text, ints, ints, floats, floats, ints, text, text)
def test_fill_and_position_request_round_trip(oid, book, inst, qty, px, ts, actor, why) -> None:
    fill = Fill(oid, book, inst, qty, px, ts, actor, why)
    assert same(roundtrip(fill), fill)
    req = PositionChangeRequest(oid, book, inst, qty, actor, "add", why, ts)
    assert same(roundtrip(req), req)


@given(st.lists(floats, max_size=5), text, floats)
def test_regime_limits_and_positions_round_trip(probs, name, s) -> None:
    regime = RegimeChanged(1, 2, name, tuple(probs), s, 1.0)
    assert same(roundtrip(regime), regime)
    state = LimitState(3, "abc", {"utilisation": {name: s}, "alerts": [name], "kill": (True, None)})
    assert same(roundtrip(state), state)
    n = len(probs)
    pos = PositionsChanged(
        7,
        8,
        np.arange(n),
        np.arange(n),
        np.array(probs, dtype=np.float64),
        {"desk": np.array([name] * n), "book_id": np.arange(n)},
        "fill",
    )
    assert same(roundtrip(pos), pos)


def test_a_risk_snapshot_round_trips_with_its_nested_records() -> None:
    from tests.risk.helpers import make_engine

    snap = make_engine(n_scenarios=500).refresh()
    assert snap.valuation is not None
    back = roundtrip(snap)
    assert same(back, snap)
    assert back.lineage_id == snap.lineage_id  # carried, not recomputed
    assert back.headline.var == snap.headline.var


# ------------------------------------------------------------------ refusals


def test_no_pickle_and_unknown_objects_are_refused_by_path() -> None:
    class Opaque:
        pass

    with pytest.raises(InputError, match=r"message\[0\]\.x"):
        wire.encode([_Holder(Opaque())])
    with pytest.raises(InputError, match="without Python objects"):
        wire.encode(np.array([object()], dtype=object))
    with pytest.raises(InputError, match="magic"):
        wire.decode(pickle.dumps({"a": 1}).ljust(32, b"\0"))


@dataclasses.dataclass(frozen=True)
class _Holder:
    x: object


wire.register(_Holder)


def test_version_truncation_and_type_are_checked() -> None:
    payload = wire.encode(Fill("o", 1, 2, 3.0, 4.0, 5))
    with pytest.raises(InputError, match="version"):
        wire.decode(payload[:4] + b"\x09\x00" + payload[6:])
    with pytest.raises(InputError, match="truncated"):
        wire.decode(payload[:20])
    with pytest.raises(InputError, match=r"payload\.type"):
        wire.decode(payload, expect=RegimeChanged)
    assert isinstance(wire.decode(payload, expect=Fill), Fill)
    arr_payload = wire.encode(np.arange(10.0))
    with pytest.raises(InputError, match="inside the payload"):
        wire.decode(arr_payload[:-8])


def test_fields_evolve_by_defaults_and_unknown_fields_are_named() -> None:
    @dataclasses.dataclass(frozen=True)
    class Old:
        a: int

    @dataclasses.dataclass(frozen=True)
    class New:
        a: int
        b: str = "default"

    wire.register(Old, "Evolving")
    old_payload = wire.encode(Old(1))
    wire._REGISTRY["Evolving"] = New  # the reader's build has the newer class
    wire._NAMES[New] = "Evolving"
    try:
        assert wire.decode(old_payload) == New(1, "default")  # an old payload still reads
        new_payload = wire.encode(New(2, "x"))
        wire._REGISTRY["Evolving"] = Old  # an older reader meets a newer field
        with pytest.raises(InputError, match=r"message\.b.*newer than this reader"):
            wire.decode(new_payload)
    finally:
        for name_cls in (Old, New):
            wire._NAMES.pop(name_cls, None)
        wire._REGISTRY.pop("Evolving", None)
        wire._MODULES.pop("Evolving", None)


def test_a_name_cannot_be_taken_twice() -> None:
    @dataclasses.dataclass(frozen=True)
    class Fill:  # same name as the message, another class
        x: int

    with pytest.raises(InputError, match="not taken"):
        wire.register(Fill)
