"""The limits package's pre-trade gate over proposed trades, and post-trade exposures."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from riskstream.construction.book import MarkedBook

# ------------------------------------------------------------------- the gate


def pretrade_gate(
    universe: Any,
    trades: list[dict[str, Any]],
    board: Any,
    limits: list[Any],
    after_frame: Any | None = None,
    before_frame: Any | None = None,
    limits_config: Any = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split ``trades`` into (accepted, refused) by the limits package's pre-trade gate.

    1. **Kill switches**: :meth:`KillSwitchBoard.check_orders` with each trade's scopes
       (its book's desk, strategy and trader, its asset class and instrument; the firm);
       a halted scope refuses every order, a reducing one the orders that add risk.
    2. **Hard limits after the trades**: a :class:`~riskstream.limits.monitor.LimitMonitor`
       measures the positions after all the trades (``after_frame``) and, when given,
       before them (``before_frame``); a limit breached after (and not already as much
       before) refuses the trades in its scope that grow their position.

    Each refused trade carries ``refused_by`` (``killswitch:<scope>`` with its state, or the
    limit's id) and ``reason``.
    """
    from riskstream.limits.killswitch import GLOBAL, TradingState
    from riskstream.limits.model import Scope

    if not trades:
        return [], []
    books = universe.books
    book_labels = {
        int(b): {"desk": d, "strategy": s, "trader": t}
        for b, d, s, t in books.select("book_id", "desk", "strategy", "trader").iter_rows()
    }
    asset = universe.instruments["asset_class"].to_numpy()
    inst_ids = np.array([t["instrument_id"] for t in trades], dtype=np.int64)
    book_ids = np.array([t["book_id"] for t in trades], dtype=np.int64)
    scopes = {
        "desk": np.array([book_labels.get(int(b), {}).get("desk") or "" for b in book_ids]),
        "strategy": np.array([book_labels.get(int(b), {}).get("strategy") or "" for b in book_ids]),
        "trader": np.array([book_labels.get(int(b), {}).get("trader") or "" for b in book_ids]),
        "asset_class": asset[inst_ids].astype(str),
        "instrument": inst_ids.astype(str),
    }
    held = np.array([t.get("position_before", 0.0) for t in trades])
    order = np.array([t["quantity"] for t in trades])
    allowed = board.check_orders(scopes, held, order)
    reasons: dict[int, tuple[str, str]] = {}
    increases = np.abs(held + order) > np.abs(held) + 1e-12
    for k in np.flatnonzero(~allowed):
        for scope_id, rec in board.engaged().items():
            kind, _, key = scope_id.partition(":")
            hit = scope_id == GLOBAL or (kind in scopes and scopes[kind][k] == key)
            if hit and (rec.state is TradingState.HALTED or increases[k]):
                reasons[int(k)] = (
                    f"killswitch:{scope_id}",
                    f"kill switch {scope_id} is {rec.state.value}: {rec.reason}",
                )
                break
    if after_frame is not None and limits:
        from riskstream.limits.monitor import LimitMonitor

        monitor = LimitMonitor(limits, limits_config)
        after = monitor.check(after_frame)
        before = (
            None
            if before_frame is None
            else LimitMonitor(limits, limits_config).check(before_frame)
        )
        for i, lim in enumerate(after.limits):
            used = after.utilisation[i]
            was = -np.inf if before is None else before.utilisation[i]
            if used <= 1.0 or used <= was + 1e-12:
                continue
            member = (
                np.ones(len(trades), bool)
                if lim.scope is Scope.FIRM
                else scopes[lim.scope.value] == lim.key
            )
            for k in np.flatnonzero(member & increases):
                reasons.setdefault(
                    int(k),
                    (
                        lim.limit_id,
                        f"{lim.limit_id} would be at {used:.0%} of its hard limit {lim.hard:,.4g}",
                    ),
                )
    accepted, refused = [], []
    for k, t in enumerate(trades):
        if k in reasons:
            refused.append({**t, "refused_by": reasons[k][0], "reason": reasons[k][1]})
        else:
            accepted.append(t)
    return accepted, refused


def assign_books(universe: Any, trades: list[dict[str, Any]], book_id: int | None = None) -> None:
    """Give each trade a book (``book_id``, else the book holding most of the instrument,
    else the first book) and its position there before the trade (in place)."""
    pos = universe.positions
    first = int(universe.books["book_id"].min())
    for t in trades:
        rows = pos.filter(pl.col("instrument_id") == t["instrument_id"])
        if book_id is not None:
            b = book_id
        elif rows.height:
            b = int(rows.sort(pl.col("quantity").abs(), descending=True)["book_id"][0])
        else:
            b = first
        t["book_id"] = b
        mine = rows.filter(pl.col("book_id") == b)
        t["position_before"] = float(mine["quantity"].sum()) if mine.height else 0.0


def exposure_frame(book: MarkedBook, positions: pl.DataFrame, snapshot: Any | None = None) -> Any:
    """The limits package's :class:`~riskstream.limits.exposures.ExposureFrame` of
    ``positions`` at the book's marks (market values; Euler contributions of ``snapshot``
    split over positions by quantity share when given, else zero)."""
    from riskstream.limits.exposures import ExposureFrame, allocate_to_positions
    from riskstream.limits.model import Scope

    ids = positions["instrument_id"].to_numpy().astype(np.int64)
    q = positions["quantity"].to_numpy().astype(np.float64)
    mv = np.nan_to_num(q * book.price[ids] * book.unit_value[ids])
    zero = np.zeros(len(ids))
    comp_var = comp_es = zero
    if snapshot is not None:
        comp_var = allocate_to_positions(snapshot.component_var, ids, q)
        comp_es = allocate_to_positions(snapshot.component_es, ids, q)
    labels_of = {
        int(b): (d or "", s or "", t or "")
        for b, d, s, t in book.universe.books.select(
            "book_id", "desk", "strategy", "trader"
        ).iter_rows()
    }
    lab = [labels_of.get(int(b), ("", "", "")) for b in positions["book_id"].to_list()]
    asset = book.column("asset_class")[ids].astype(str)
    return ExposureFrame(
        instrument_id=ids.astype(np.int32),
        quantity=q,
        market_value=mv,
        delta=mv,
        gamma=zero,
        vega=zero,
        component_var=np.nan_to_num(comp_var),
        component_es=np.nan_to_num(comp_es),
        component_lvar=np.nan_to_num(comp_var),
        pnl=zero,
        liquidation_days=zero,
        labels={
            Scope.DESK: np.array([x[0] for x in lab], dtype=object),
            Scope.STRATEGY: np.array([x[1] for x in lab], dtype=object),
            Scope.TRADER: np.array([x[2] for x in lab], dtype=object),
            Scope.ASSET_CLASS: asset.astype(object),
        },
        book_id=positions["book_id"].to_numpy().astype(np.int64),
    )


def positions_after(positions: pl.DataFrame, trades: list[dict[str, Any]]) -> pl.DataFrame:
    """``positions`` with the trades added (new rows for new positions)."""
    if not trades:
        return positions
    add = pl.DataFrame(
        {
            "book_id": [t["book_id"] for t in trades],
            "instrument_id": [t["instrument_id"] for t in trades],
            "quantity": [t["quantity"] for t in trades],
        },
        schema=positions.schema,
    )
    return (
        pl.concat([positions, add])
        .group_by("book_id", "instrument_id", maintain_order=True)
        .agg(pl.col("quantity").sum())
        .select(positions.columns)
    )
