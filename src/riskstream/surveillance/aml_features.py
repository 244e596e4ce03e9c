"""Per-account features for AML detection, from transactions (and optional account data).

Every feature is *scale-free* or a count, so a model fitted on one bank's data (or one
generator's) carries over to another with different currencies, id formats and amount
levels: amounts enter only relative to the data set's median transaction, or through the
reporting threshold T that the regulation itself fixes. Families:

- **activity and channels**: counts and relative volumes in and out, the share of each
  channel (wire, transfer, card, cash) in and out;
- **velocity** (rolling windows over event times): the most payments received / sent in
  any 72 h, the most near-threshold cash deposits in any 7 days, and how fast money leaves
  after it arrives — the share of the outflow paid within 48 h of an inflow and the median
  holding time (FATF, "Professional Money Laundering", 2018: rapid movement of funds);
- **flow-through**: ``min(in, out) / max(in, out)`` of the amounts — near 1 for an account
  that only passes money on (a mule or a layering hop), the net-flow ratio;
- **graph** (the transaction network, networkx / scipy.sparse): distinct senders and
  receivers, PageRank (Page et al. 1999, scaled by the number of accounts), reciprocity,
  closed walks of length 3 and 4 through the account (cycles), the degrees of the
  neighbours (a mule sends to a collector with many senders: fan-in seen from the mule);
  the *neighbour bursts*: the busiest 72 h of money received by any of the account's
  receivers and sent by any of its senders — a mule pays a collector that takes in many
  payments within days, a fan-out recipient is paid by an account paying out many (the
  "funnel account" of FinCEN advisory FIN-2014-A005: many payers into one account, moved
  on quickly); counts per account, so their chance level does not shift with the bank's
  size (the closed-walk counts' does: chance closure falls as 1/n);
- **repeated pairs** (money-movement payments, cards left out): the most payments from the
  account to one counterparty, and to it from one counterparty, in any 24 h, and the share
  of its payments on a counterparty pair used more than once — a transfer split into
  several, or the same two accounts paying each other again and again (FinCEN advisory
  FIN-2014-A005 and the FFIEC BSA/AML Examination Manual, Appendix F, "funds transfers ...
  frequent ... to or from the same parties"; the repeated-edge patterns of Altman et al.,
  "Realistic Synthetic Financial Transactions for Anti-Money Laundering Models", NeurIPS
  2023 Datasets track);
- **amount patterns**: the share of cash deposits in [0.9 T, T) (structuring, 31 U.S.C.
  5324), the share of round amounts (multiples of 100 from 1,000), the dispersion of sent
  amounts;
- **jurisdiction and KYC** (only with account data): the share of flow with counterparties
  in high-risk countries, the account's own country and rating; without account data these
  are 0 (no evidence), never guessed;
- **peer percentiles** (``peer_pct_*``): every feature above again, as the account's
  percentile among the accounts of its segment in the same data (all accounts without
  reference data). They depend on the data set as a whole, as PageRank does: score a bank's
  transactions of a period together, not a handful of accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import polars as pl
import scipy.sparse as sp

from riskstream.surveillance.aml_data import CHANNELS

HIGH_RISK_COUNTRIES_DEFAULT = ("KP", "IR", "MM")
HOUR_S = 3600
PAIR_WINDOW_H = 24.0
HUB_DEGREE = 50
"""Accounts with more distinct counterparties than this are left out as *intermediate*
hops of the cycle counts: a merchant's or a correspondent's cycles are commerce, and
counting walks through them costs O(degree²)."""


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of the feature builder (units in the names)."""

    reporting_threshold: float = 10_000.0
    near_threshold_low: float = 0.9
    burst_window_h: float = 72.0
    structuring_window_h: float = 168.0
    pass_through_window_h: float = 48.0
    high_risk_countries: tuple[str, ...] = HIGH_RISK_COUNTRIES_DEFAULT


@dataclass(frozen=True)
class AccountFeatures:
    """The feature matrix: ``values`` of shape (n_accounts, n_features), rows in the order
    of ``accounts``; ``segment`` per account (the reference segment, or ``"unknown"``)."""

    accounts: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray
    segment: np.ndarray
    network: sp.csr_matrix | None = None
    """The money-movement network (0/1, non-card payments between accounts), for the
    models' neighbour-score features."""

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"account": self.accounts, "segment": self.segment}
            | {n: self.values[:, i] for i, n in enumerate(self.names)}
        )

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]


def _window_max(acct: np.ndarray, t: np.ndarray, window_s: float, n: int) -> np.ndarray:
    """Per account, the most events in any window of ``window_s`` seconds.

    ``acct`` (int) and ``t`` (int seconds from the data set's start, ≥ 0) describe events;
    a combined key ``acct · 2⁴⁰ + t`` sorts them by account then time, and for each event
    ``searchsorted`` finds the first event of the window ending at it.
    """
    out = np.zeros(n)
    if acct.size == 0:
        return out
    key = np.sort(acct.astype(np.int64) << 40 | t.astype(np.int64))
    first = np.searchsorted(key, key - int(window_s) + 1, side="left")
    count = np.arange(key.size) - first + 1
    np.maximum.at(out, key >> 40, count)
    return out


def _share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def build_features(
    transactions: pl.DataFrame,
    accounts: pl.DataFrame | None = None,
    config: FeatureConfig | None = None,
) -> AccountFeatures:
    """The features of every account that appears in ``transactions``.

    Parameters
    ----------
    transactions : polars.DataFrame
        Validated transactions (:func:`~riskstream.surveillance.aml_data.parse_transactions`).
    accounts : polars.DataFrame, optional
        Validated account reference data; gives the segment and the jurisdiction features.
    """
    cfg = config or FeatureConfig()
    ids = (
        pl.concat([transactions["from_account"], transactions["to_account"]])
        .drop_nulls()
        .unique()
        .sort()
    )
    n = ids.len()
    index = pl.DataFrame({"account": ids, "_i": np.arange(n, dtype=np.int64)})
    tx = (
        transactions.select("from_account", "to_account", "amount", "channel", "ts")
        .join(index.rename({"account": "from_account", "_i": "src"}), "from_account", "left")
        .join(index.rename({"account": "to_account", "_i": "dst"}), "to_account", "left")
    )
    src = tx["src"].fill_null(-1).to_numpy()
    dst = tx["dst"].fill_null(-1).to_numpy()
    amount = tx["amount"].to_numpy()
    channel = tx["channel"].replace_strict(list(CHANNELS), list(range(4))).to_numpy()
    ts = tx["ts"].cast(pl.Int64).to_numpy()
    t = (ts - ts.min()) // 1_000_000_000 if ts.size else ts
    rel = amount / max(float(np.median(amount)), 1e-12)  # scale-free amounts

    has_src, has_dst = src >= 0, dst >= 0
    s_i, s_amt, s_t = src[has_src], rel[has_src], t[has_src]
    d_i, d_amt, d_t = dst[has_dst], rel[has_dst], t[has_dst]
    n_out = np.bincount(s_i, minlength=n).astype(float)
    n_in = np.bincount(d_i, minlength=n).astype(float)
    v_out = np.bincount(s_i, s_amt, minlength=n)
    v_in = np.bincount(d_i, d_amt, minlength=n)
    feats: dict[str, np.ndarray] = {
        "log_n_out": np.log1p(n_out),
        "log_n_in": np.log1p(n_in),
        "log_volume_out": np.log1p(v_out),
        "log_volume_in": np.log1p(v_in),
        "log_mean_out": np.log1p(_share(v_out, n_out)),
        "log_mean_in": np.log1p(_share(v_in, n_in)),
    }
    for c, name in enumerate(CHANNELS):
        feats[f"share_out_{name}"] = _share(
            np.bincount(s_i, weights=(channel[has_src] == c).astype(float), minlength=n), n_out
        )
        feats[f"share_in_{name}"] = _share(
            np.bincount(d_i, weights=(channel[has_dst] == c).astype(float), minlength=n), n_in
        )
    feats["flow_through"] = _share(np.minimum(v_in, v_out), np.maximum(v_in, v_out))
    feats["net_flow"] = _share(v_in - v_out, v_in + v_out)

    # velocity
    feats["max_in_72h"] = _window_max(d_i, d_t, cfg.burst_window_h * HOUR_S, n)
    feats["max_out_72h"] = _window_max(s_i, s_t, cfg.burst_window_h * HOUR_S, n)
    T = cfg.reporting_threshold
    cash_in = has_dst & (channel == CHANNELS.index("cash")) & ~has_src
    near = cash_in & (amount >= cfg.near_threshold_low * T) & (amount < T)
    feats["near_threshold_cash_7d"] = _window_max(
        dst[near], t[near], cfg.structuring_window_h * HOUR_S, n
    )
    feats["near_threshold_share"] = _share(
        np.bincount(dst[near], minlength=n).astype(float),
        np.bincount(dst[cash_in], minlength=n).astype(float),
    )
    hold_h = _holding_hours(d_i, d_t, s_i, s_t)
    fast = hold_h <= cfg.pass_through_window_h
    feats["fast_out_share"] = _share(np.bincount(s_i, s_amt * fast, minlength=n), v_out)
    med = (
        pl.DataFrame({"a": s_i, "h": hold_h})
        .filter(pl.col("h").is_finite())
        .group_by("a")
        .agg(pl.col("h").median())
    )
    median_hold = np.full(n, np.inf)
    median_hold[med["a"].to_numpy()] = med["h"].to_numpy()
    feats["log_median_hold_h"] = np.log1p(np.minimum(median_hold, 24.0 * 365))

    # amount patterns
    big = amount >= 1000.0
    round_amt = big & (np.abs(amount - np.round(amount / 100.0) * 100.0) < 0.005)
    own = np.concatenate([s_i, d_i])
    both_round = np.concatenate([round_amt[has_src], round_amt[has_dst]]).astype(float)
    feats["round_share"] = _share(np.bincount(own, both_round, minlength=n), n_in + n_out)
    sq_out = np.bincount(s_i, s_amt**2, minlength=n)
    mean_out = _share(v_out, n_out)
    var_out = np.maximum(_share(sq_out, n_out) - mean_out**2, 0.0)
    feats["amount_cv_out"] = _share(np.sqrt(var_out), mean_out)

    not_card = channel != CHANNELS.index("card")
    feats.update(_pair_features(src, dst, t, n, not_card))
    graph_feats, network = _graph_features(
        src, dst, t, n, not_card, feats["flow_through"], cfg.burst_window_h * HOUR_S
    )
    feats.update(graph_feats)
    segment = np.full(n, "unknown", dtype=object)
    feats.update(_jurisdiction_features(index, accounts, src, dst, rel, cfg, segment))
    names = tuple(feats)
    values = np.column_stack([feats[k] for k in names]).astype(np.float64)
    names += tuple(f"peer_pct_{k}" for k in names)
    values = np.column_stack([values, _peer_percentiles(values, segment)])
    return AccountFeatures(
        ids.to_numpy().astype(object), names, values, segment.astype(str), network
    )


def _pair_features(
    src: np.ndarray, dst: np.ndarray, t: np.ndarray, n: int, not_card: np.ndarray
) -> dict[str, np.ndarray]:
    """Repeated payments on one counterparty pair (money movement only: card purchases at
    the same merchant are ordinary commerce).

    ``max_pair_out_24h`` / ``max_pair_in_24h``: per account, the most payments it sent to
    (received from) a single counterparty in any 24 h; ``repeat_pair_share``: the share of
    its payments, in and out, on a pair (sender, receiver) that carries more than one.
    """
    link = (src >= 0) & (dst >= 0) & not_card
    s, d, tt = src[link].astype(np.int64), dst[link].astype(np.int64), t[link]
    if s.size == 0:
        zero = np.zeros(n)
        return {"max_pair_out_24h": zero, "max_pair_in_24h": zero, "repeat_pair_share": zero}
    # a dense id per pair (< the number of payments, < 2³¹) packs with the time (< 2³² s,
    # 136 years) into one sortable int64
    _, pair, per_pair = np.unique(s * n + d, return_inverse=True, return_counts=True)
    key = pair.astype(np.int64) << 32 | tt.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.searchsorted(key, key - int(PAIR_WINDOW_H * HOUR_S) + 1, side="left")
    count = (np.arange(key.size) - first + 1).astype(float)
    max_out, max_in = np.zeros(n), np.zeros(n)
    np.maximum.at(max_out, s[order], count)
    np.maximum.at(max_in, d[order], count)
    repeated = (per_pair[pair] > 1).astype(float)
    total = np.bincount(s, minlength=n) + np.bincount(d, minlength=n)
    on_repeat = np.bincount(s, repeated, minlength=n) + np.bincount(d, repeated, minlength=n)
    return {
        "max_pair_out_24h": max_out,
        "max_pair_in_24h": max_in,
        "repeat_pair_share": _share(on_repeat, total.astype(float)),
    }


def _holding_hours(
    d_i: np.ndarray, d_t: np.ndarray, s_i: np.ndarray, s_t: np.ndarray
) -> np.ndarray:
    """For each outgoing payment, hours since the account's latest incoming payment at or
    before it (inf when none) — the holding time of pass-through money."""
    in_key = np.sort(d_i.astype(np.int64) << 40 | d_t.astype(np.int64))
    out_key = s_i.astype(np.int64) << 40 | s_t.astype(np.int64)
    pos = np.searchsorted(in_key, out_key, side="right") - 1
    prev = in_key[np.maximum(pos, 0)] if in_key.size else np.zeros_like(out_key)
    same = (pos >= 0) & ((prev >> 40) == s_i) if in_key.size else np.zeros(s_i.size, bool)
    gap = (out_key - prev) / HOUR_S
    return np.where(same, gap, np.inf)


def _adjacency(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, sp.csr_matrix]:
    """Distinct directed account-to-account edges and their 0/1 adjacency matrix."""
    link = (src >= 0) & (dst >= 0)
    edges = np.unique(np.stack([src[link], dst[link]], axis=1), axis=0)
    A = sp.csr_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return edges, A


def _graph_features(
    src: np.ndarray,
    dst: np.ndarray,
    t: np.ndarray,
    n: int,
    not_card: np.ndarray,
    flow_through: np.ndarray,
    burst_window_s: float,
) -> tuple[dict[str, np.ndarray], sp.csr_matrix]:
    """Features of the account network.

    PageRank and degrees use every payment; the *money-movement* network ``B`` leaves out
    card payments (purchases at merchants), so a cycle or a neighbour's fan-in is one of
    transfers, wires and cash — employer → employee → card purchase at the employer is
    commerce, not a cycle.
    """
    edges, A = _adjacency(src, dst, n)
    out_deg = np.asarray(A.sum(axis=1)).ravel()
    in_deg = np.asarray(A.sum(axis=0)).ravel()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges.tolist())
    rank = nx.pagerank(graph, alpha=0.85, tol=1e-8)
    pagerank = np.fromiter((rank[i] for i in range(n)), float, n) * n

    _, B = _adjacency(src[not_card], dst[not_card], n)
    b_out = np.asarray(B.sum(axis=1)).ravel()
    b_in = np.asarray(B.sum(axis=0)).ravel()
    reciprocal = np.asarray(B.multiply(B.T).sum(axis=1)).ravel()
    moved = (src >= 0) & (dst >= 0) & not_card
    burst_in = _window_max(dst[moved], t[moved], burst_window_s, n)
    burst_out = _window_max(src[moved], t[moved], burst_window_s, n)
    small = (b_in + b_out) <= HUB_DEGREE
    keep = sp.diags(small.astype(float))
    Bs = B @ keep  # walks may pass only through non-hub accounts
    B2 = (Bs @ Bs).tocsr()
    walks3 = np.asarray(B2.multiply(B.T).sum(axis=1)).ravel()
    walks4 = np.asarray(B2.multiply((B2 @ keep).T).sum(axis=1)).ravel()
    return {
        "log_in_degree": np.log1p(in_deg),
        "log_out_degree": np.log1p(out_deg),
        "pagerank": pagerank,
        "reciprocity": _share(reciprocal, np.maximum(b_in, b_out)),
        "log_cycles_3": np.log1p(walks3),
        "log_cycles_4": np.log1p(walks4),
        "log_receiver_in_degree": np.log1p(_share(B @ b_in, b_out)),
        "log_sender_out_degree": np.log1p(_share(B.T @ b_out, b_in)),
        "log_max_receiver_in_degree": np.log1p(row_max(B, b_in)),
        "log_max_sender_out_degree": np.log1p(row_max(B.T.tocsr(), b_out)),
        "log_max_receiver_burst_in": np.log1p(row_max(B, burst_in)),
        "log_max_sender_burst_out": np.log1p(row_max(B.T.tocsr(), burst_out)),
        "receiver_flow_through": _share(B @ flow_through, b_out),
        "sender_flow_through": _share(B.T @ flow_through, b_in),
    }, B


def row_max(A: sp.csr_matrix, node_value: np.ndarray) -> np.ndarray:
    """Per row of the 0/1 matrix ``A``, the largest ``node_value`` among its columns."""
    A = A.tocsr()
    out = np.zeros(A.shape[0])
    if A.nnz:
        vals = node_value[A.indices]
        rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
        np.maximum.at(out, rows, vals)
    return out


def _jurisdiction_features(
    index: pl.DataFrame,
    accounts: pl.DataFrame | None,
    src: np.ndarray,
    dst: np.ndarray,
    rel: np.ndarray,
    cfg: FeatureConfig,
    segment: np.ndarray,
) -> dict[str, np.ndarray]:
    """High-risk-country flow share, own country and KYC rating; zeros without account data.
    Fills ``segment`` in place from the reference data."""
    n = index.height
    zeros = {
        "high_risk_flow_share": np.zeros(n),
        "own_country_high_risk": np.zeros(n),
        "risk_rating": np.zeros(n),
    }
    if accounts is None:
        return zeros
    ref = index.join(accounts, on="account", how="left")
    seg = ref["segment"].fill_null("unknown").to_numpy()
    segment[:] = seg
    risky = ref["country"].is_in(list(cfg.high_risk_countries)).fill_null(False).to_numpy()
    rating = (
        ref["risk_rating"]
        .replace_strict(["low", "medium", "high"], [0.0, 1.0, 2.0], default=0.0)
        .to_numpy()
    )
    link = (src >= 0) & (dst >= 0)
    s, d, a = src[link], dst[link], rel[link]
    risky_flow = np.bincount(s, a * risky[d], minlength=n) + np.bincount(d, a * risky[s], n)
    total = np.bincount(s, a, minlength=n) + np.bincount(d, a, minlength=n)
    return {
        "high_risk_flow_share": _share(risky_flow, total),
        "own_country_high_risk": risky.astype(float),
        "risk_rating": rating,
    }


def _peer_percentiles(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Each feature as the account's percentile among the accounts of its segment in the
    same data (mid-rank of ties, in (0, 1]).

    Peer-group analysis compares an account with accounts like it *at the same bank*
    (FFIEC BSA/AML Examination Manual, "Suspicious Activity Reporting", peer-group
    comparisons): a business that receives more wires than most businesses here is unusual,
    whatever the level of wires at the bank the model was fitted on. The percentiles keep
    the ranking within the segment and drop the bank's level, so a model fitted at one bank
    does not mistake another bank's business population for suspicious in a block."""
    from scipy.stats import rankdata

    out = np.empty_like(values)
    for group in np.unique(segment):
        rows = segment == group
        out[rows] = rankdata(values[rows], axis=0) / rows.sum()
    return out


def feature_names(features: AccountFeatures, drop: Sequence[str] = ()) -> list[str]:
    return [n for n in features.names if n not in drop]
