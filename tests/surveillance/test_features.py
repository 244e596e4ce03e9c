"""Account features checked by hand and against networkx on small transaction sets."""

from __future__ import annotations

import networkx as nx
import numpy as np
import polars as pl
import pytest

from riskstream.surveillance.aml_data import parse_transactions
from riskstream.surveillance.aml_features import build_features
from riskstream.surveillance.aml_generator import GeneratorConfig, generate
from riskstream.surveillance.aml_rules import DEFAULT_RULES, evaluate_rules, scaled


def _tx(rows: list[tuple[str, str | None, str | None, float, str]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "tx_id": [str(i) for i in range(len(rows))],
            "ts": [r[0] for r in rows],
            "from_account": [r[1] for r in rows],
            "to_account": [r[2] for r in rows],
            "amount": [str(r[3]) for r in rows],
            "currency": ["USD"] * len(rows),
            "channel": [r[4] for r in rows],
        },
        schema_overrides={"from_account": pl.String, "to_account": pl.String},
    )
    loaded = parse_transactions(frame)
    assert loaded.n_quarantined == 0
    return loaded.frame


def test_hand_checked_velocity_structuring_and_flow_features() -> None:
    rows = [
        # three near-threshold deposits to S within 7 days, one outside the band
        ("2026-01-01T10:00:00", None, "S", 9500, "cash"),
        ("2026-01-03T10:00:00", None, "S", 9100, "cash"),
        ("2026-01-06T10:00:00", None, "S", 9999, "cash"),
        ("2026-01-06T11:00:00", None, "S", 4000, "cash"),
        ("2026-01-20T10:00:00", None, "S", 9200, "cash"),  # outside the first week
        # M receives 1000 and passes 900 on 2 hours later: flow-through 0.9, all fast
        ("2026-01-10T08:00:00", "X", "M", 1000, "transfer"),
        ("2026-01-10T10:00:00", "M", "Y", 900, "wire"),
    ]
    f = build_features(_tx(rows))
    row = {a: i for i, a in enumerate(f.accounts)}
    col = f.column
    assert col("near_threshold_cash_7d")[row["S"]] == 3
    assert col("near_threshold_share")[row["S"]] == pytest.approx(4 / 5)
    assert col("flow_through")[row["M"]] == pytest.approx(0.9)
    assert col("fast_out_share")[row["M"]] == pytest.approx(1.0)
    assert np.expm1(col("log_median_hold_h")[row["M"]]) == pytest.approx(2.0)
    # 01-03 10:00 is 73 h before 01-06 11:00: the busiest 72 h hold two deposits
    assert col("max_in_72h")[row["S"]] == 2
    assert col("share_in_cash")[row["S"]] == 1.0
    # the structuring rule (≥ 2 near-threshold deposits in 7 days) fires on S alone;
    # doubling the count to 4 it does not
    fired = evaluate_rules(f)
    assert [f.accounts[i] for i in np.flatnonzero(fired["structuring"])] == ["S"]
    strict = scaled(DEFAULT_RULES, "structuring", "count", 2.0)
    assert not evaluate_rules(f, strict)["structuring"].any()
    assert col("round_share")[row["M"]] == pytest.approx(0.5)  # 1000 in is round; 900 < 1000


def test_cycles_and_pagerank_against_networkx() -> None:
    ring = ["A", "B", "C"]
    rows = [
        (f"2026-01-0{i + 1}T10:00:00", ring[i], ring[(i + 1) % 3], 100, "transfer")
        for i in range(3)
    ]
    rows += [
        ("2026-01-05T10:00:00", "A", "D", 50, "wire"),
        ("2026-01-05T11:00:00", "D", "A", 40, "wire"),  # a 2-cycle A-D
        ("2026-01-06T10:00:00", "E", "A", 10, "transfer"),
    ]
    f = build_features(_tx(rows))
    row = {a: i for i, a in enumerate(f.accounts)}
    g = nx.DiGraph([(r[1], r[2]) for r in rows])
    # closed walks of length 3 through A = directed 3-cycles through A (no repeats here)
    cycles3 = {
        a: sum(1 for c in nx.simple_cycles(g, length_bound=3) if len(c) == 3 and a in c) for a in g
    }
    for a in g:
        assert np.expm1(f.column("log_cycles_3")[row[a]]) == pytest.approx(cycles3[a])
    rank = nx.pagerank(g, alpha=0.85, tol=1e-10)
    for a in g:
        assert f.column("pagerank")[row[a]] == pytest.approx(rank[a] * len(g), rel=1e-5)
    assert f.column("reciprocity")[row["D"]] == pytest.approx(1.0)


def test_generator_is_deterministic_and_labels_every_typology() -> None:
    a = generate(GeneratorConfig(n_accounts=700, days=40, seed=3))
    b = generate(GeneratorConfig(n_accounts=700, days=40, seed=3))
    assert a.transactions.equals(b.transactions)
    assert a.labels.equals(b.labels)
    typologies = set(a.labels.filter(pl.col("is_suspicious"))["typology"])
    assert typologies == set(GeneratorConfig().typologies)
    assert (a.labels.filter(~pl.col("is_suspicious"))["typology"] == "").all()


def test_repeated_pair_features_by_hand() -> None:
    """Split transfers: P pays Q three times in 20 h, a fourth time two days later, and R
    once; a card purchase repeated at a merchant counts for nothing (commerce).

    Hand count: P's busiest 24 h to one counterparty hold 3 payments (00:00, 10:00, 20:00;
    the 01-03 payment is 48 h after the first); Q receives those same 3 from P in 24 h.
    P's payments: 5, of which 4 are on the repeated pair P→Q, so 4/5; Q's: 4, all on it;
    R's single payment is on a pair used once: 0. M's two card receipts are left out.
    """
    rows = [
        ("2026-01-01T00:00:00", "P", "Q", 500, "transfer"),
        ("2026-01-01T10:00:00", "P", "Q", 500, "transfer"),
        ("2026-01-01T20:00:00", "P", "Q", 500, "wire"),
        ("2026-01-03T00:00:00", "P", "Q", 500, "transfer"),
        ("2026-01-02T00:00:00", "P", "R", 300, "transfer"),
        ("2026-01-02T09:00:00", "C", "M", 20, "card"),
        ("2026-01-02T10:00:00", "C", "M", 20, "card"),
    ]
    f = build_features(_tx(rows))
    row = {a: i for i, a in enumerate(f.accounts)}
    col = f.column
    assert col("max_pair_out_24h")[row["P"]] == 3
    assert col("max_pair_in_24h")[row["Q"]] == 3
    assert col("max_pair_in_24h")[row["R"]] == 1
    assert col("repeat_pair_share")[row["P"]] == pytest.approx(4 / 5)
    assert col("repeat_pair_share")[row["Q"]] == pytest.approx(1.0)
    assert col("repeat_pair_share")[row["R"]] == 0.0
    assert col("max_pair_out_24h")[row["C"]] == 0  # card purchases are not money movement
    assert col("repeat_pair_share")[row["M"]] == 0.0


def test_neighbour_burst_features_by_hand() -> None:
    """Fan-in seen from a mule: M1..M3 pay collector K within 72 h, and K also gets one
    payment a week later. Hand count: K's busiest 72 h of money received hold 3 payments,
    so each mule's largest receiver burst is 3; a card purchase at K (commerce) does not
    count, and neither does P's payment to Q, who receives once. Fan-out seen from a
    recipient: S pays R1, R2 within a day and R3 five days later: S's busiest 72 h of
    money sent hold 2, so R1..R3 each have a sender burst of 2. K's senders: each mule sent
    once, P twice within an hour (to K and to Q), so K's largest sender burst is 2, and
    Q's is 2 too."""
    rows = [
        ("2026-01-01T09:00:00", "M1", "K", 900, "transfer"),
        ("2026-01-02T09:00:00", "M2", "K", 800, "transfer"),
        ("2026-01-03T08:00:00", "M3", "K", 950, "wire"),
        ("2026-01-02T12:00:00", "C", "K", 40, "card"),
        ("2026-01-10T09:00:00", "P", "K", 100, "transfer"),
        ("2026-01-10T10:00:00", "P", "Q", 100, "transfer"),
        ("2026-01-05T09:00:00", "S", "R1", 500, "transfer"),
        ("2026-01-05T15:00:00", "S", "R2", 500, "transfer"),
        ("2026-01-10T09:00:00", "S", "R3", 500, "transfer"),
    ]
    f = build_features(_tx(rows))
    row = {a: i for i, a in enumerate(f.accounts)}
    receiver_burst = np.expm1(f.column("log_max_receiver_burst_in"))
    sender_burst = np.expm1(f.column("log_max_sender_burst_out"))
    for mule in ("M1", "M2", "M3", "P"):
        assert receiver_burst[row[mule]] == pytest.approx(3.0)
    assert receiver_burst[row["C"]] == 0.0  # card purchases are not money movement
    assert receiver_burst[row["K"]] == 0.0  # K pays no one
    for recipient in ("R1", "R2", "R3"):
        assert sender_burst[row[recipient]] == pytest.approx(2.0)
    assert sender_burst[row["K"]] == pytest.approx(2.0)
    assert sender_burst[row["Q"]] == pytest.approx(2.0)
    assert sender_burst[row["M1"]] == 0.0  # no one pays M1


def test_peer_percentiles_rank_each_feature_within_its_segment() -> None:
    """Every feature comes again as the account's mid-rank percentile among its segment's
    accounts in the same data; the level of a segment drops out, so a bank whose business
    accounts all trade twice as much gets the same business percentiles."""
    data = generate(GeneratorConfig(n_accounts=700, days=40, seed=3))
    f = build_features(data.transactions, data.accounts)
    base = [n for n in f.names if not n.startswith("peer_pct_")]
    assert [n for n in f.names if n.startswith("peer_pct_")] == [f"peer_pct_{n}" for n in base]
    for name in ("log_n_in", "pagerank", "share_out_wire"):
        raw, pct = f.column(name), f.column(f"peer_pct_{name}")
        for segment in np.unique(f.segment):
            rows = f.segment == segment
            # the mid-rank of each value, by hand: (# below + (# equal + 1) / 2) / n
            below = (raw[rows][None, :] < raw[rows][:, None]).sum(axis=1)
            equal = (raw[rows][None, :] == raw[rows][:, None]).sum(axis=1)
            assert np.allclose(pct[rows], (below + (equal + 1) / 2) / rows.sum())
    busier = data.transactions.with_columns(
        pl.when(
            pl.col("from_account").is_in(
                list(data.accounts.filter(pl.col("segment") == "business")["account"])
            )
        )
        .then(pl.col("amount") * 2)
        .otherwise(pl.col("amount"))
    )
    g = build_features(busier, data.accounts)
    business = f.segment == "business"
    assert not np.allclose(
        f.column("log_volume_out")[business], g.column("log_volume_out")[business]
    )
    assert np.allclose(
        f.column("peer_pct_log_volume_out")[business], g.column("peer_pct_log_volume_out")[business]
    )
