"""Portfolio construction and hedging of the loaded book, wired to the risk engine and limits.

:mod:`riskstream.portfolio` proposes weights and hedges from arrays; this module (used by the
``riskstream optimise book`` / ``riskstream hedge book`` commands and the
``/api/v1/portfolio/*`` routes) feeds it the book — the reference universe's positions,
marked at the stored closes of ``as_of`` with the stored FX, curves and implied vols
(:func:`riskstream.cli.engine.mark_to_history`, as ``riskstream risk`` marks it) — and
turns its answer into trades:

1. **trades** per instrument, rounded to the instrument's lot, with their expected costs
   (proportional half-spread plus Almgren-Chriss impact, :class:`~riskstream.portfolio.
   costs.TradingCosts` from each instrument's spread and ADV);
2. **risk before and after** from the risk engine of the book (VaR, ES and Euler
   contributions, the same figures as ``riskstream risk``), the trades applied one hedge
   at a time so each hedge's own effect shows;
3. **the pre-trade gate** of the limits package (:func:`pretrade_gate`): every trade passes
   the kill switches of its scopes (:meth:`~riskstream.limits.killswitch.KillSwitchBoard.
   check_orders`) and the hard limits on the positions after the trades
   (:class:`~riskstream.limits.monitor.LimitMonitor` on the post-trade exposures); a refused
   trade is listed with the switch or limit that refused it.

The portfolio package may not import the limits package (layering: both sit beside each
other downstream of risk), so the two meet here, as the CLI and the service are the places
that wire packages together.
"""

from riskstream.construction.book import (
    MarkedBook,
    mark_book,
    optimise_book,
    price_returns,
    trade_costs,
    trading_costs,
)
from riskstream.construction.gate import (
    assign_books,
    exposure_frame,
    positions_after,
    pretrade_gate,
)
from riskstream.construction.hedges import HedgeProposal, index_future, propose_hedges
from riskstream.construction.run import (
    gate_and_report,
    risk_steps,
    run_hedge_book,
    run_optimise_book,
)

__all__ = [
    "HedgeProposal",
    "MarkedBook",
    "assign_books",
    "exposure_frame",
    "gate_and_report",
    "index_future",
    "mark_book",
    "optimise_book",
    "positions_after",
    "pretrade_gate",
    "price_returns",
    "propose_hedges",
    "risk_steps",
    "run_hedge_book",
    "run_optimise_book",
    "trade_costs",
    "trading_costs",
]
