"""Expected shortfall of the internal models approach: 97.5%, 10-day overlapping moves, and
the liquidity-horizon cascade (Basel MAR33.2-33.4, MAR33.12).

**The measure (MAR33.2).** ES at 97.5% one-tailed confidence of the P&L over a 10-day base
horizon ``T``, from *overlapping* 10-day moves of the risk factors (MAR33.4(3): a bank may
compute the 10-day moves from overlapping windows of daily data), gains positive, losses
reported positive. The quantile convention is the engine's
(:func:`riskstream.risk.measures.var_es_from_pnl`: the tail is the VaR scenario, rank
``ceil(n c)``, and every worse one; 250 scenarios: the 7 largest losses).

**The cascade (MAR33.4).** Each risk factor has a liquidity horizon ``LH`` in
{10, 20, 40, 60, 120} days (MAR33.12, :data:`LIQUIDITY_HORIZONS_FILE`). With ``ES_T(P, j)``
the ES of the portfolio when only the factors whose horizon is at least ``LH_j`` move
(the others held at their current values),

.. math::

    ES = \\sqrt{ES_T(P)^2 + \\sum_{j\\ge 2}
         \\left(ES_T(P, j)\\sqrt{\\frac{LH_j - LH_{j-1}}{T}}\\right)^2},

where ``ES_T(P) = ES_T(P, 1)`` moves every factor. A factor of horizon 120 days thus
contributes its 10-day tail over the square root of 10 + 10 + 20 + 20 + 60 = 120 days.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.regulatory.cascade import BASE_HORIZON_DAYS, LIQUIDITY_HORIZONS_DAYS
from riskstream.risk.measures import var_es_from_pnl

CONFIDENCE = 0.975  # MAR33.2(1)
HORIZONS_DAYS = LIQUIDITY_HORIZONS_DAYS  # MAR33.4: LH_j (T is BASE_HORIZON_DAYS)
LIQUIDITY_HORIZONS_FILE = "liquidity_horizons.toml"
RISK_CLASSES = ("interest_rate", "credit_spread", "equity", "commodity", "fx")  # MAR33.18


def expected_shortfall(pnl: ArrayLike, confidence: float = CONFIDENCE) -> float:
    """ES (a positive loss) of equally likely scenario P&L ``pnl`` (gains positive)."""
    p = np.asarray(pnl, dtype=np.float64)
    if p.ndim != 1 or p.size < 1 or not np.all(np.isfinite(p)):
        raise InputError("pnl", f"shape {p.shape}", "a non-empty 1-d array of finite P&L")
    return var_es_from_pnl(p, confidence)[1]


def overlapping_moves(daily: ArrayLike, horizon_days: int = BASE_HORIZON_DAYS) -> np.ndarray:
    """The ``h``-day moves of every overlapping window of daily additive moves.

    Parameters
    ----------
    daily : array_like of shape (n_days,) or (n_days, n_factors)
        Daily log returns / rate changes / log vol changes, oldest first.
    horizon_days : int

    Returns
    -------
    ndarray of shape (n_days - h + 1, ...)
        Row ``i`` is the sum of days ``i .. i + h - 1`` (the window ending on day
        ``i + h - 1``).
    """
    d = np.asarray(daily, dtype=np.float64)
    h = int(horizon_days)
    if h < 1 or d.shape[0] < h:
        raise InputError("daily", f"{d.shape[0]} days", f"at least horizon_days = {h} days")
    c = np.concatenate([np.zeros((1, *d.shape[1:])), np.cumsum(d, axis=0)])
    return c[h:] - c[:-h]


def load_horizon_table() -> dict[str, Any]:
    """The MAR33.12 table shipped with Riskstream (:data:`LIQUIDITY_HORIZONS_FILE`)."""
    text = resources.files(__package__).joinpath(LIQUIDITY_HORIZONS_FILE).read_text()
    return tomllib.loads(text)


@dataclass(frozen=True)
class FactorClassification:
    """Each factor's liquidity horizon and FRTB risk class.

    Attributes
    ----------
    keys : tuple of str
        Factor names (the engine's factor space).
    horizon_days : ndarray of int64, shape (n_factors,)
    risk_class : tuple of str
        One of :data:`RISK_CLASSES` per factor.
    category : tuple of str
        The MAR33.12 category that gave the horizon (for the report).
    """

    keys: tuple[str, ...]
    horizon_days: np.ndarray
    risk_class: tuple[str, ...]
    category: tuple[str, ...]

    def at_least(self, horizon_days: int) -> np.ndarray:
        """Mask of the factors whose horizon is at least ``horizon_days`` (MAR33.4)."""
        return self.horizon_days >= horizon_days

    def as_dict(self) -> dict[str, Any]:
        counts = {str(h): int(np.sum(self.horizon_days == h)) for h in HORIZONS_DAYS}
        return {"factors_by_horizon_days": counts}


def classify_factors(
    keys: tuple[str, ...],
    instruments: pl.DataFrame,
    base_currency: str,
    fx_to_base: dict[str, float] | None = None,
    table: dict[str, Any] | None = None,
) -> FactorClassification:
    """Liquidity horizon and risk class of each of the engine's factors (MAR33.12).

    ``EQ:<symbol>`` is an equity price (large or small cap by traded value, see the data
    file), ``FUT:index:*`` an equity index (large cap), ``FUT:commodity:<NAME>`` a commodity
    by name, ``FX:<CCY>`` the pair CCY/base (specified pair or not), ``IR:<CCY>:<T>Y`` an
    interest rate (specified currency or not), ``VOL:<spot factor>`` the volatility of the
    spot factor's category.
    """
    t = load_horizon_table() if table is None else table
    fx = fx_to_base or {}
    sym = instruments["symbol"].to_list()
    adv = instruments["adv"].to_numpy().astype(np.float64)
    px = instruments["ref_price"].to_numpy().astype(np.float64)
    ccy = instruments["currency"].to_list()
    traded = {s: a * p * fx.get(c, 1.0) for s, a, p, c in zip(sym, adv, px, ccy, strict=True)}
    fx_spec = set(t["fx_specified_currencies"])
    energy = set(t["commodity_energy_names"])
    metal = set(t["commodity_metal_names"])

    def spot(key: str) -> tuple[int, str, str, str]:
        """(horizon, risk class, category, volatility category key) of a price factor."""
        head, _, rest = key.partition(":")
        if head == "EQ":
            large = traded.get(rest, 0.0) >= t["equity_large_cap_min_adv_value"]
            size = "large_cap" if large else "small_cap"
            return t[f"equity_{size}"], "equity", f"equity_{size}", f"equity_volatility_{size}"
        if head == "FUT":
            kind, _, name = rest.partition(":")
            if kind == "commodity":
                group = (
                    "energy"
                    if name.upper() in energy
                    else "metal"
                    if name.upper() in metal
                    else "other"
                )
                return (
                    t[f"commodity_{group}"],
                    "commodity",
                    f"commodity_{group}",
                    f"commodity_{group}_volatility",
                )
            return (
                t["equity_large_cap"],
                "equity",
                "equity_large_cap",
                "equity_volatility_large_cap",
            )
        if head == "FX":
            # a pair is specified if both legs are (USD/x or a first-order cross)
            specified = rest in fx_spec and base_currency in fx_spec
            name = "fx_specified" if specified else "fx_other"
            return t[name], "fx", name, "fx_volatility"
        raise InputError("factor", key, "an EQ:, FUT:, FX:, IR: or VOL: risk factor")

    horizon, risk_class, category = [], [], []
    for key in keys:
        head, _, rest = key.partition(":")
        if head == "IR":
            cur = rest.partition(":")[0]
            name = (
                "interest_rate_specified"
                if cur in t["interest_rate_specified_currencies"] or cur == base_currency
                else "interest_rate_unspecified"
            )
            h, rc, cat = t[name], "interest_rate", name
        elif head == "VOL":
            _, rc, _, vol_cat = spot(rest)
            h, cat = t[vol_cat], vol_cat
        else:
            h, rc, cat, _ = spot(key)
        if int(h) not in HORIZONS_DAYS:
            raise InputError(f"liquidity horizon of {cat}", h, f"one of {HORIZONS_DAYS}")
        horizon.append(int(h))
        risk_class.append(rc)
        category.append(cat)
    return FactorClassification(
        tuple(keys), np.asarray(horizon, dtype=np.int64), tuple(risk_class), tuple(category)
    )
