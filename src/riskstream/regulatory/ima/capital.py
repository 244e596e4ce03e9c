"""The internal models capital of a book (Basel MAR33.18-33.45), from its daily factor
history and a revaluation function.

The steps, each in its own module:

1. the factors' liquidity horizons and risk classes (:mod:`.es`, MAR33.12);
2. which factors are modellable (:mod:`.nmrf`, MAR31.12), and a reduced set with a long
   history (the caller's: in Riskstream the modellable factors with their own stored
   series over the whole history, no proxy);
3. the period of stress: the 12-month window of the stored history maximising the
   reduced-set ES of the current portfolio (:mod:`.stressed`, MAR33.5);
4. for every day of the last 60 (MAR33.41), the liquidity-adjusted ES (cascade, MAR33.4)
   of the full modellable set and of the reduced set on the current 12 months, and of the
   reduced set on the stressed window; for the whole set of factors and each risk class:

   .. math::

       IMCC = \\rho\\, IMCC(C) + (1 - \\rho) \\sum_{i} IMCC(C_i), \\quad \\rho = 0.5
       \\quad \\text{(MAR33.18)},

   each ``IMCC(·) = ES_R,S x max(1, ES_F,C / ES_R,C)`` (MAR33.5);
5. the stressed scenario capital of the non-modellable factors (:mod:`.nmrf`, MAR33.16);
6. ``CA = max(IMCC_{t-1} + SES_{t-1}, m_c IMCC_avg + SES_avg)`` (MAR33.41) with ``m_c``
   from the bank-wide backtest (:mod:`.desks`), plus the PLA add-on of amber desks
   ``k max(0, SA_G+A - IMA_G+A)``, ``k = 0.5`` (MAR33.43) when the standardised capital
   of the desks in scope is given (a desk is amber), plus the default risk charge
   (MAR33.42: the IMA DRC, or the standardised DRC of MAR22 where the caller supplies it).

**Positions.** The positions valued are the current ones on every day of the 60-day
average: a book keeps no daily history of its positions (the keeper keeps versions, not
end-of-day books), so ``IMCC_avg`` is the average of the current portfolio's IMCC over the
last 60 market-data windows, and ``SES`` (current portfolio, fixed stress window) is the
same each day. Documented, so the figure can be read for what it is.

**Revaluation.** ``revalue(moves)`` takes factor moves of shape (n_rows, n_factors) in the
engine's additive units (log returns, rate changes, log vol changes) and returns the P&L
(gains positive, base currency) of the current portfolio in each row: in Riskstream the
risk engine's full revaluation (options on their grids). All the rows one step needs go in
one call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskstream.core.errors import InputError
from riskstream.regulatory.cascade import BASE_HORIZON_DAYS, liquidity_adjusted_es
from riskstream.regulatory.ima.desks import Multiplier
from riskstream.regulatory.ima.es import (
    HORIZONS_DAYS,
    RISK_CLASSES,
    FactorClassification,
    expected_shortfall,
    overlapping_moves,
)
from riskstream.regulatory.ima.nmrf import aggregate_ses, ses_horizon_days
from riskstream.regulatory.ima.stressed import STRESS_WINDOW, StressedScaling, worst_window

IMCC_RHO = 0.5  # MAR33.18
AVERAGE_DAYS = 60  # MAR33.41: IMCC_avg over the previous 60 days
PLA_ADD_ON_K = 0.5  # MAR33.43

Revalue = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class IMAResult:
    """Every figure of the internal models capital (base currency, losses positive)."""

    figures: dict[str, Any]

    @property
    def capital(self) -> float:
        return float(self.figures["capital"])

    def as_dict(self) -> dict[str, Any]:
        return self.figures


def _loss_es(pnl: np.ndarray) -> float:
    """ES floored at zero: a set whose worst scenarios still gain (a short-vol book's
    long-horizon set, or float noise around zero) carries no loss into the cascade."""
    return max(0.0, expected_shortfall(pnl))


def _revalue_blocks(
    revalue: Revalue, blocks: list[tuple[np.ndarray, np.ndarray]], rows_per_call: int
) -> np.ndarray:
    """P&L of every block ``(moves, mask)`` (the moves with only the masked factors moving),
    concatenated in order. Blocks are materialised a few at a time, about
    ``rows_per_call`` rows per ``revalue`` call, so memory stays at one call's rows, not
    every block's (60 x 5 x 2 blocks of 309 rows x thousands of factors would be GBs)."""
    out, batch, rows = [], [], 0
    for moves, mask in blocks:
        batch.append(_masked(moves, mask))
        rows += moves.shape[0]
        if rows >= rows_per_call:
            out.append(revalue(np.concatenate(batch)))
            batch, rows = [], 0
    if batch:
        out.append(revalue(np.concatenate(batch)))
    return np.concatenate(out) if out else np.zeros(0)


def _masked(moves: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(moves)
    out[:, mask] = moves[:, mask]
    return out


def compute_ima(
    daily_moves: np.ndarray,
    dates: np.ndarray,
    classes: FactorClassification,
    modellable: np.ndarray,
    reduced: np.ndarray,
    revalue: Revalue,
    multiplier: Multiplier,
    *,
    drc: float | None = None,
    sa_in_scope: float | None = None,
    window: int = STRESS_WINDOW,
    average_days: int = AVERAGE_DAYS,
    rows_per_call: int = 2048,
) -> IMAResult:
    """The internal models capital (see the module docstring).

    Parameters
    ----------
    daily_moves : ndarray of shape (n_days, n_factors)
        Daily factor moves of the whole stored history, oldest first, ending on the as-of
        date.
    dates : ndarray of datetime64[D], shape (n_days,)
        The date each move ends on.
    classes : FactorClassification
        Liquidity horizons and risk classes.
    modellable, reduced : ndarray of bool, shape (n_factors,)
        Modellable factors (MAR31.12) and the reduced set (a subset of them).
    revalue : callable
        Factor moves (n_rows, n_factors) to the current portfolio's P&L (n_rows,).
    multiplier : Multiplier
        ``m_c`` from the bank-wide backtest.
    drc : float, optional
        The default risk charge to add (None: not included, said so).
    rows_per_call : int
        Scenario rows per ``revalue`` call (memory: rows x factors x 8 bytes).
    sa_in_scope : float, optional
        Standardised capital of the desks in scope (green and amber), given when a desk is
        amber: the PLA add-on ``k max(0, SA_G+A - IMA_G+A)`` with ``IMA_G+A`` this run's
        ``CA`` (MAR33.43).
    """
    moves = np.asarray(daily_moves, dtype=np.float64)
    n_days, nf = moves.shape
    for name, m in (("modellable", modellable), ("reduced", reduced)):
        if np.shape(m) != (nf,):
            raise InputError(name, f"shape {np.shape(m)}", f"({nf},), one per factor")
    reduced = np.asarray(reduced, bool) & np.asarray(modellable, bool)
    modellable = np.asarray(modellable, bool)
    ten = overlapping_moves(moves, BASE_HORIZON_DAYS)  # row i ends on day i + 9
    end_dates = np.asarray(dates)[BASE_HORIZON_DAYS - 1 :]
    need = window + average_days - 1
    if ten.shape[0] < need:
        raise InputError(
            "history",
            f"{n_days} daily moves",
            f"at least {need + BASE_HORIZON_DAYS - 1} ({window} 10-day scenarios for each of "
            f"the last {average_days} days)",
        )

    # --- 3. the period of stress: reduced-set P&L over every 10-day window of the history
    reduced_pnl = revalue(_masked(ten, reduced))
    stress = worst_window(reduced_pnl, window)
    stressed_ten = ten[stress.start : stress.stop]

    # --- 4. ES by set: (subset name, factor mask) x the five cascade horizons
    class_of = np.asarray(classes.risk_class)
    present = [rc for rc in RISK_CLASSES if np.any(modellable & (class_of == rc))]
    subsets = {"all": np.ones(nf, bool)} | {rc: class_of == rc for rc in present}
    current = ten[-need:]  # the last `average_days` windows of `window` scenarios
    blocks_current, blocks_stressed, keys = [], [], []
    for name, sub in subsets.items():
        for h in HORIZONS_DAYS:
            lh = classes.at_least(h) & sub
            keys.append((name, h))
            blocks_current.append((current, lh & modellable))
            blocks_current.append((current, lh & reduced))
            blocks_stressed.append((stressed_ten, lh & reduced))
    pnl = _revalue_blocks(revalue, blocks_current + blocks_stressed, rows_per_call)
    nc, ns = current.shape[0], stressed_ten.shape[0]
    cur = pnl[: len(blocks_current) * nc].reshape(len(keys), 2, nc)
    strs = pnl[len(blocks_current) * nc :].reshape(len(keys), ns)
    es_stressed = np.array([_loss_es(p) for p in strs])

    imcc_daily = np.zeros(average_days)
    detail_last: dict[str, Any] = {}
    for d in range(average_days):
        rows = slice(d, d + window)
        es_full = np.array([_loss_es(cur[k, 0, rows]) for k in range(len(keys))])
        es_red = np.array([_loss_es(cur[k, 1, rows]) for k in range(len(keys))])
        per_subset = {}
        for s, name in enumerate(subsets):
            sl = slice(s * len(HORIZONS_DAYS), (s + 1) * len(HORIZONS_DAYS))
            scaling = StressedScaling(
                liquidity_adjusted_es(es_full[sl]),
                liquidity_adjusted_es(es_red[sl]),
                liquidity_adjusted_es(es_stressed[sl]),
            )
            per_subset[name] = (scaling, es_full[sl], es_red[sl], es_stressed[sl])
        imcc_c = per_subset["all"][0].capital_es
        imcc_ci = sum(per_subset[rc][0].capital_es for rc in present)
        imcc_daily[d] = IMCC_RHO * imcc_c + (1 - IMCC_RHO) * imcc_ci
        if d == average_days - 1:
            detail_last = {
                name: {
                    **sc.as_dict(),
                    "es_t_full_current": ef.tolist(),
                    "es_t_reduced_current": er.tolist(),
                    "es_t_reduced_stressed": es.tolist(),
                }
                for name, (sc, ef, er, es) in per_subset.items()
            }

    # --- 5. SES of the non-modellable factors on the stressed window (MAR33.16)
    nm = np.flatnonzero(~modellable)
    ses_each = np.zeros(nm.size)
    if nm.size:
        nm_pnl = _revalue_blocks(
            revalue, [(stressed_ten, np.arange(nf) == f) for f in nm], rows_per_call
        ).reshape(nm.size, ns)
        scale = np.sqrt(ses_horizon_days(classes.horizon_days[nm]) / BASE_HORIZON_DAYS)
        ses_each = np.array([_loss_es(p) for p in nm_pnl]) * scale
    idio = np.array([classes.keys[f].startswith("EQ:") for f in nm], dtype=bool)
    ses = aggregate_ses(ses_each[idio], ses_each[~idio])

    # --- 6. capital (MAR33.41-33.43)
    imcc_last, imcc_avg = float(imcc_daily[-1]), float(imcc_daily.mean())
    ca = max(imcc_last + ses, multiplier.value * imcc_avg + ses)
    pla_add_on = None
    if sa_in_scope is not None:
        pla_add_on = PLA_ADD_ON_K * max(0.0, sa_in_scope - ca)
    capital = ca + (pla_add_on or 0.0) + (drc or 0.0)
    ed = end_dates
    figures = {
        "capital": capital,
        "ca": ca,
        "imcc": imcc_last,
        "imcc_avg_60d": imcc_avg,
        "imcc_daily": imcc_daily.tolist(),
        "ses": ses,
        "multiplier": multiplier.as_dict(),
        "drc": drc,
        "pla_add_on": pla_add_on,
        "es_10d_975": float(detail_last["all"]["es_t_full_current"][0]),
        "es_liquidity_adjusted": float(detail_last["all"]["es_full_current"]),
        "by_risk_class": {k: v for k, v in detail_last.items() if k != "all"},
        "total": detail_last["all"],
        "stress_window": {
            "start": str(ed[stress.start]),
            "end": str(ed[stress.stop - 1]),
            "es_reduced": stress.es,
            "searched_from": str(ed[0]),
            "searched_to": str(ed[-1]),
        },
        "factors": {
            "total": int(nf),
            "modellable": int(modellable.sum()),
            "reduced_set": int(reduced.sum()),
            "non_modellable": int(nm.size),
            **classes.as_dict(),
        },
        "nmrf": [
            {"factor": classes.keys[f], "ses": float(v), "zero_correlation": bool(z)}
            for f, v, z in zip(nm, ses_each, idio, strict=True)
        ],
    }
    return IMAResult(figures)
