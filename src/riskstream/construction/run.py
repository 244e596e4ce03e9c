"""The whole answers: trades, risk before/after from the risk engine, the gate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from riskstream.construction.book import MarkedBook, optimise_book
from riskstream.construction.gate import (
    assign_books,
    exposure_frame,
    positions_after,
    pretrade_gate,
)
from riskstream.construction.hedges import propose_hedges

# ------------------------------------------------------------- risk and the whole run


def risk_steps(
    universe: Any,
    settings: Any,
    history: Any,
    day: dt.date,
    steps: list[tuple[str, list[dict[str, Any]]]],
    top_n: int = 10,
) -> tuple[list[dict[str, Any]], Any, Any]:
    """VaR, ES and Euler contributions of the book before and after each step's trades.

    One risk engine of the book (as ``riskstream risk`` builds it: the configured method,
    scenarios from the stored history); each step's trades are applied to it in turn
    (:meth:`RiskEngine.apply_trade`) and the engine refreshed, so a step's figures include
    the steps before it. Returns the rows, the first and the last snapshot.
    """
    from riskstream.cli.engine import engine_as_of

    engine, _ = engine_as_of(universe, settings.risk, history, day, settings.models)
    first = last = engine.refresh()
    rows = [_risk_row("before", first, engine, top_n)]
    for label, trades in steps:
        for t in trades:
            engine.apply_trade(int(t["book_id"]), int(t["instrument_id"]), float(t["quantity"]))
        last = engine.refresh()
        rows.append(_risk_row(f"after {label}", last, engine, top_n))
    engine.close()
    return rows, first, last


def _risk_row(label: str, snap: Any, engine: Any, top_n: int) -> dict[str, Any]:
    m = snap.measures[0]
    held = np.flatnonzero(engine.qty)
    order = held[np.argsort(-snap.component_es[held], kind="stable")][:top_n]
    return {
        "step": label,
        "confidence": m.confidence,
        "horizon_days": m.horizon_days,
        "var": m.var,
        "es": m.es,
        "component_es_by_asset_class": {
            k: v["component_es"] for k, v in snap.aggregates.get("asset_class", {}).items()
        },
        "top_contributors": [
            {
                "instrument_id": int(i),
                "symbol": str(engine.symbol[i]),
                "component_var": float(snap.component_var[i]),
                "component_es": float(snap.component_es[i]),
            }
            for i in order
        ],
    }


def gate_and_report(
    book: MarkedBook,
    settings: Any,
    history: Any,
    steps: list[tuple[str, list[dict[str, Any]]]],
    board: Any,
    limits: list[Any],
    book_id: int | None = None,
    with_risk: bool = True,
) -> dict[str, Any]:
    """Books for the trades, risk before/after each step, and the pre-trade gate."""
    universe = book.universe
    every = [t for _, ts in steps for t in ts]
    assign_books(universe, every, book_id)
    out: dict[str, Any] = {}
    first = last = None
    if with_risk:
        out["risk"], first, last = risk_steps(universe, settings, history, book.day, steps)
    before = exposure_frame(book, universe.positions, first)
    after = exposure_frame(book, positions_after(universe.positions, every), last)
    accepted, refused = pretrade_gate(
        universe, every, board, limits, after, before, settings.limits
    )
    out["accepted"] = accepted
    out["refused"] = refused
    out["expected_cost"] = float(sum(t["expected_cost"] for t in every))
    return out


def run_hedge_book(
    book: MarkedBook,
    settings: Any,
    history: Any,
    board: Any,
    limits: list[Any],
    hedges: tuple[str, ...] = ("delta", "beta", "duration"),
    index: str = "SPX",
    target_beta: float = 0.0,
    book_id: int | None = None,
    with_risk: bool = True,
) -> dict[str, Any]:
    """The whole ``hedge book`` answer: trades per hedge, figures, risk, the gate."""
    cfg = settings.portfolio
    proposal = propose_hedges(book, history, cfg, hedges, index, target_beta)
    order = ("gamma_vega", "delta", "beta", "duration")  # the options' own delta first
    steps = [(h, proposal.trades.get(h, [])) for h in order if h in hedges]
    out = {"as_of": book.day.isoformat(), "hedges": list(hedges), "figures": proposal.figures}
    out["trades"] = proposal.trades
    out.update(gate_and_report(book, settings, history, steps, board, limits, book_id, with_risk))
    return out


def run_optimise_book(
    book: MarkedBook,
    settings: Any,
    history: Any,
    board: Any,
    limits: list[Any],
    objective: str,
    window: int = 250,
    max_weight: float = 1.0,
    max_turnover: float | None = None,
    book_id: int | None = None,
    with_risk: bool = True,
    group_max: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The whole ``optimise book`` answer: weights, trades, costs, risk, the gate."""
    out = optimise_book(
        book, history, objective, settings.portfolio, window, max_weight, max_turnover,
        group_max=group_max,
    )  # fmt: skip
    out.update(
        gate_and_report(
            book,
            settings,
            history,
            [("rebalance", out["trades"])],
            board,
            limits,
            book_id,
            with_risk,
        )
    )
    return out
