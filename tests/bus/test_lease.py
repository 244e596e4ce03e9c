"""Leadership by a lease (``riskstream.bus.lease``): acquire, renew by compare-and-set,
take over after the time to live, and never two leaders — on the in-memory store with a
controlled clock (every interleaving hypothesis finds) and on a real NATS KV bucket."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskstream.bus.lease import SAFETY, Lease, LeaseKeeper, MemoryLeaseStore, NatsLeaseStore
from riskstream.core.errors import InputError, ServiceUnavailableError
from tests.servers import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_first_acquires_renews_and_a_standby_takes_over_only_after_the_ttl() -> None:
    store, clock = MemoryLeaseStore(), Clock()
    a = Lease(store, "risk", "a", ttl_s=2.0, clock=clock)
    b = Lease(store, "risk", "b", ttl_s=2.0, clock=clock)
    assert a.tick() and not b.tick()
    for _ in range(10):  # a renews every 0.5 s: b never takes over
        clock.now += 0.5
        assert a.tick() and not b.tick()
    # a dies (stops renewing); a's own lease runs out before b may take over
    clock.now += (1 - SAFETY) * 2.0 + 1e-6
    assert not a.is_leader
    assert not b.tick()
    clock.now += 2.0 * SAFETY + 0.01
    assert b.tick() and b.takeovers == 1 and b.term == 1
    assert a.holder_of() == "b"
    # a comes back: its renewal at its old revision fails; it stands by
    assert not a.tick()
    clock.now += 0.5
    assert b.tick() and not a.tick()


def test_release_hands_over_at_the_next_tick() -> None:
    store, clock = MemoryLeaseStore(), Clock()
    a = Lease(store, "limits", "a", clock=clock)
    b = Lease(store, "limits", "b", clock=clock)
    assert a.tick() and not b.tick()
    a.release()
    assert not a.is_leader and b.tick() and b.takeovers == 0


def test_bad_ttl_is_refused() -> None:
    with pytest.raises(InputError, match="ttl_s"):
        Lease(MemoryLeaseStore(), "x", ttl_s=0)


@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["tick", "skip"]), st.floats(0.0, 1.5)),
        max_size=60,
    )
)
def test_never_two_leaders_whatever_the_interleaving(steps) -> None:
    """Three processes tick (or stall) in any order while time advances in any steps: at no
    instant do two of them count themselves leader."""
    store, clock = MemoryLeaseStore(), Clock()
    leases = [Lease(store, "risk", f"p{i}", ttl_s=2.0, clock=clock) for i in range(3)]
    for who, action, advance in steps:
        if action == "tick":
            leases[who].tick()
        clock.now += advance
        assert sum(lease.is_leader for lease in leases) <= 1


def test_a_lease_in_nats_kv_is_exclusive_and_survives_a_broker_restart(nats_server) -> None:
    s1, s2 = NatsLeaseStore(nats_server.url), NatsLeaseStore(nats_server.url)
    clock = Clock()
    a = Lease(s1, "risk", "a", ttl_s=2.0, clock=clock)
    b = Lease(s2, "risk", "b", ttl_s=2.0, clock=clock)
    assert s1.create("other", b"x") is not None and s2.create("other", b"y") is None
    assert a.tick() and not b.tick()
    revision = s1.get("risk").revision
    assert s2.update("risk", b"steal", revision - 1) is None  # compare-and-set

    nats_server.stop(kill=True)
    nats_server.start()
    deadline = time.monotonic() + 20
    while True:  # the stores reconnect; the lease (file storage) is still a's
        try:
            entry = s2.get("risk")
            break
        except ServiceUnavailableError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert entry is not None and entry.revision == revision
    clock.now += 0.5
    assert a.tick() and not b.tick()  # b watches a's new revision from now
    clock.now += 2.1  # a stops renewing: b takes over
    assert b.tick() and not a.tick()
    s1.close()
    s2.close()
    with pytest.raises(ServiceUnavailableError):
        NatsLeaseStore(f"nats://127.0.0.1:{free_port()}")


def test_keepers_fail_over_in_real_time_over_nats(nats_server) -> None:
    """Two keepers on a real clock: the standby leads within ttl + poll after the leader's
    keeper stops without releasing (as a killed process would)."""
    stores = [NatsLeaseStore(nats_server.url) for _ in range(2)]
    a = LeaseKeeper(Lease(stores[0], "risk", "a", ttl_s=1.0)).start()
    deadline = time.monotonic() + 5
    while not a.lease.is_leader:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    b = LeaseKeeper(Lease(stores[1], "risk", "b", ttl_s=1.0)).start()
    time.sleep(1.5)
    assert a.lease.is_leader and not b.lease.is_leader
    a.stop(release=False)
    stopped = time.monotonic()
    while not b.lease.is_leader:
        assert time.monotonic() - stopped < 3.0
        time.sleep(0.01)
    assert time.monotonic() - stopped < 1.0 + 1.0 / 8 + 0.5  # ttl + poll + slack
    assert not a.lease.is_leader
    b.stop()
    for s in stores:
        s.close()
