"""Default risk capital for non-securitisations (equities and credit), Basel MAR22.

Per exposure (MAR22.9-22.18), amounts in the reporting currency, long positive:

* gross jump-to-default ``JTD = LGD x notional + P&L`` with ``P&L = market value - notional``,
  kept as long ``max(JTD, 0)`` for a long exposure and ``min(JTD, 0)`` for a short one
  (MAR22.11); LGD by seniority: equity and non-senior debt 100 %, senior debt 75 %, covered
  bonds 25 % (MAR22.12);
* scaled by the maturity weight ``min(max(M, 3 months), 1 year) / 1 year`` (MAR22.15,
  MAR22.18; cash equity at 1 year by default, MAR22.16).

Per obligor (MAR22.19-22.21): a short offsets a long when it is of the same or lower
seniority (a short equity may offset a long bond, not the reverse); what is left is the
obligor's net long and net short JTD.

Per bucket (corporates, sovereigns, local governments; MAR22.22): the hedge benefit ratio
``HBR = sum net long / (sum net long + sum |net short|)`` (MAR22.23) and
``DRC_b = max(sum RW x net long - HBR x sum RW x |net short|, 0)`` with the risk weight of the
credit quality (MAR22.24 Table 2); the DRC is the plain sum over buckets (MAR22.26).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.regulatory.sa.params import drc as drc_params

COLUMNS: tuple[str, ...] = (
    "obligor",
    "bucket",
    "rating",
    "seniority",
    "notional",
    "market_value",
    "maturity_years",
)
"""The columns of a DRC exposure table (one row per position)."""


def credit_quality(rating: str | None) -> str:
    """The MAR22.24 credit quality category of a rating (``AA-`` -> ``AA``; none: unrated;
    ``D``/``SD``: defaulted; ``CCC+`` to ``C``: CCC)."""
    if rating is None or not str(rating).strip():
        return "unrated"
    r = str(rating).strip().upper().rstrip("+-")
    if r in ("D", "SD", "DEFAULTED"):
        return "defaulted"
    if r in ("CCC", "CC", "C"):
        return "CCC"
    if r in ("AAA", "AA", "A", "BBB", "BB", "B"):
        return r
    if r == "UNRATED" or r == "NR":
        return "unrated"
    raise InputError("rating", rating, "a rating AAA..C, D, NR or empty (unrated)")


def gross_jtd(notional: np.ndarray, market_value: np.ndarray, lgd: np.ndarray) -> np.ndarray:
    """Gross JTD of MAR22.11: ``max(LGD N + (MV - N), 0)`` for a long (``N > 0``),
    ``min(.., 0)`` for a short (``N < 0``)."""
    jtd = lgd * notional + (market_value - notional)
    return np.where(notional >= 0, np.maximum(jtd, 0.0), np.minimum(jtd, 0.0))


def maturity_weight(maturity_years: np.ndarray) -> np.ndarray:
    """``min(max(M, 0.25), 1)``: the MAR22.15 scaling with the MAR22.18 floor."""
    m = drc_params()["maturity"]
    return np.clip(maturity_years, m["floor_y"], m["capital_horizon_y"]) / m["capital_horizon_y"]


def net_obligor(jtd: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offset one obligor's scaled gross JTDs (MAR22.19): a short of seniority rank ``s``
    (higher = more junior) offsets longs of rank ``<= s``.

    Shorts are taken from the most senior (the least able to offset) to the most junior, each
    against the eligible longs from the most junior; returns what remains of each exposure
    (longs >= 0, shorts <= 0).
    """
    left = jtd.astype(np.float64).copy()
    longs = [i for i in np.argsort(-rank, kind="stable") if left[i] > 0]
    for s in np.argsort(rank, kind="stable"):
        if left[s] >= 0:
            continue
        for i in longs:
            if rank[i] > rank[s] or left[i] <= 0:
                continue
            take = min(left[i], -left[s])
            left[i] -= take
            left[s] += take
            if left[s] >= 0:
                break
    return np.maximum(left, 0.0), np.minimum(left, 0.0)


@dataclass(frozen=True)
class DrcResult:
    """The DRC: per bucket and in total (reporting currency)."""

    total: float
    buckets: list[dict[str, Any]] = field(default_factory=list)
    obligors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "buckets": self.buckets, "obligors": self.obligors}


def drc_capital(exposures: pl.DataFrame) -> DrcResult:
    """The non-securitisation DRC of ``exposures`` (columns :data:`COLUMNS`).

    ``seniority`` is one of ``covered, senior, non_senior, equity``; ``bucket`` one of
    ``corporate, sovereign, local_government``; ``notional`` signed (long > 0), bond-equivalent
    face value (equity: its market value); ``market_value`` signed.
    """
    p = drc_params()
    missing = [c for c in COLUMNS if c not in exposures.columns]
    if missing:
        raise InputError("columns", exposures.columns, f"the DRC columns {', '.join(COLUMNS)}")
    if exposures.height == 0:
        return DrcResult(0.0, [], [])
    lgd_of, rank_of = p["lgd"], p["seniority_rank"]
    for name, allowed in (("seniority", lgd_of), ("bucket", p["buckets"])):
        bad = set(exposures[name].to_list()) - set(allowed)
        if bad:
            raise InputError(name, sorted(map(str, bad))[0], f"one of {', '.join(allowed)}")
    sen = exposures["seniority"].to_list()
    lgd = np.array([lgd_of[s] for s in sen])
    rank = np.array([rank_of[s] for s in sen])
    notional = exposures["notional"].to_numpy().astype(np.float64)
    mv = exposures["market_value"].to_numpy().astype(np.float64)
    if not (np.isfinite(notional).all() and np.isfinite(mv).all()):
        raise InputError("notional/market_value", "non-finite", "finite amounts")
    jtd = gross_jtd(notional, mv, lgd) * maturity_weight(
        exposures["maturity_years"].to_numpy().astype(np.float64)
    )
    rw = np.array([p["risk_weights"][credit_quality(r)] for r in exposures["rating"].to_list()])
    obligor = exposures["obligor"].to_numpy()
    bucket = exposures["bucket"].to_numpy()
    net_long = np.zeros(jtd.size)
    net_short = np.zeros(jtd.size)
    keys = pl.DataFrame({"o": obligor, "b": bucket}).with_row_index("i")
    per_obligor = []
    for (o, b), grp in keys.group_by(["o", "b"], maintain_order=True):
        idx = grp["i"].to_numpy()
        lo, sh = net_obligor(jtd[idx], rank[idx])
        net_long[idx], net_short[idx] = lo, sh
        per_obligor.append(
            {"obligor": o, "bucket": b, "net_long": float(lo.sum()), "net_short": float(sh.sum())}
        )
    out = []
    total = 0.0
    for b in p["buckets"]:
        sel = bucket == b
        if not sel.any():
            continue
        lo, sh = net_long[sel].sum(), -net_short[sel].sum()
        hbr = lo / (lo + sh) if lo + sh > 0 else 0.0
        charge = max(
            float((rw[sel] * net_long[sel]).sum() - hbr * (rw[sel] * -net_short[sel]).sum()), 0.0
        )
        total += charge
        out.append(
            {"bucket": b, "net_long": float(lo), "net_short": float(sh), "hbr": hbr, "drc": charge}
        )
    if not math.isfinite(total):
        raise InputError("exposures", "non-finite DRC", "finite exposures")
    return DrcResult(total, out, per_obligor)


def book_exposures(
    universe: Any,
    price: np.ndarray,
    fx: np.ndarray,
    as_of: Any,
    implied_vol: np.ndarray | None = None,
    rate: np.ndarray | None = None,
    dividend_yield: float = 0.0,
) -> pl.DataFrame:
    """DRC exposures of the book's stocks and bonds, by desk (:data:`COLUMNS` plus ``desk``).

    * stocks (MAR22.12, 22.16): obligor the issuer (the symbol's first word), LGD 100 %
      (``equity``), notional = market value, maturity one year, rating the issuer's bond
      rating where the book has one, else unrated;
    * bonds: obligor the issuer, ``sovereign`` for government bonds else ``corporate``,
      ``senior`` (Riskstream's bonds are senior unsecured), notional the face value
      (``quantity x multiplier x 100``), market value at the mark, maturity to redemption.

    * options on stocks (with ``implied_vol`` and ``rate``): the loss if the issuer defaults,
      the stock going to zero (MAR22.10: the direction is whether default is a loss), ``V(S) -
      V(0)`` per unit revalued with the SA's pricers, as an ``equity`` exposure whose notional
      and market value are that amount (so JTD = the amount, LGD 100 %), maturity the
      option's expiry (MAR22.17): a long call is a long exposure, a long put a short one.

    Index futures and index options are left out: their default risk is that of the index
    members (MAR22.5 look-through), which the reference data does not list.
    """
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = universe.instruments
    asset = inst["asset_class"].to_numpy()
    issuer = np.array([str(s).split(" ")[0] for s in inst["symbol"].to_list()])
    rating = inst["rating"].to_numpy()
    bond_rating = {
        issuer[i]: rating[i] for i in np.flatnonzero(asset == "bond") if rating[i] is not None
    }
    mult = inst["multiplier"].to_numpy().astype(np.float64)
    mat = year_fraction(epoch_days(inst["maturity"]), as_of)
    held = (
        universe.positions.join(universe.books.select("book_id", "desk"), on="book_id")
        .group_by("desk", "instrument_id")
        .agg(pl.col("quantity").sum())
        .filter(pl.col("quantity") != 0)
    )
    jtd_option = _option_default_loss(universe, price, fx, as_of, implied_vol, rate, dividend_yield)
    und_id = inst["underlying_id"].to_numpy()
    rows = []
    m = drc_params()["maturity"]
    for desk, iid, qty in held.sort("desk", "instrument_id").iter_rows():
        if not (np.isfinite(price[iid]) and np.isfinite(fx[iid])):
            continue
        mv = qty * price[iid] * mult[iid] * fx[iid]
        if asset[iid] == "equity":
            rows.append((desk, issuer[iid], "corporate", bond_rating.get(issuer[iid]), "equity",
                         mv, mv, m["equity_y"]))  # fmt: skip
        elif asset[iid] == "bond" and mat[iid] > 0:
            sector = inst["sector"][int(iid)] or ""
            bucket = "sovereign" if sector == "government" else "corporate"
            face = qty * mult[iid] * 100.0 * fx[iid]
            rows.append((desk, issuer[iid], bucket, rating[iid], "senior", face, mv,
                         float(mat[iid])))  # fmt: skip
        elif asset[iid] == "option" and iid in jtd_option:
            loss, expiry = jtd_option[iid]
            name = issuer[int(und_id[iid])]
            rows.append((desk, name, "corporate", bond_rating.get(name), "equity", qty * loss,
                         qty * loss, expiry))  # fmt: skip
    return pl.DataFrame(
        rows,
        schema={"desk": pl.String, "obligor": pl.String, "bucket": pl.String,
                "rating": pl.String, "seniority": pl.String, "notional": pl.Float64,
                "market_value": pl.Float64, "maturity_years": pl.Float64},
        orient="row",
    )  # fmt: skip


def _option_default_loss(
    universe: Any,
    price: np.ndarray,
    fx: np.ndarray,
    as_of: Any,
    implied_vol: np.ndarray | None,
    rate: np.ndarray | None,
    dividend_yield: float,
) -> dict[int, tuple[float, float]]:
    """``{option id: (V(S) - V(S -> 0) per unit held, years to expiry)}`` of the options on
    stocks that can be valued (reporting currency)."""
    if implied_vol is None or rate is None:
        return {}
    from riskstream.regulatory.sa.sensitivities import option_values
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = universe.instruments
    asset = inst["asset_class"].to_numpy()
    opt = np.flatnonzero(asset == "option")
    und = inst["underlying_id"].to_numpy()[opt].astype(np.int64)
    on_stock = asset[und] == "equity"
    opt, und = opt[on_stock], und[on_stock]
    T = year_fraction(epoch_days(inst["expiry"]), as_of)[opt]
    S = price[und]
    sig, r = implied_vol[opt], rate[opt]
    ok = np.isfinite(S) & np.isfinite(sig) & (sig > 0) & np.isfinite(r) & (T > 0)
    ok &= np.isfinite(fx[opt])
    opt, und, T, S, sig, r = opt[ok], und[ok], T[ok], S[ok], sig[ok], r[ok]
    if opt.size == 0:
        return {}
    yld = inst["dividend_yield"].to_numpy().astype(np.float64)[und]
    yld = np.where(np.isfinite(yld), yld, dividend_yield)
    args = (
        inst["strike"].to_numpy().astype(np.float64)[opt], T, r, yld, sig,
        inst["right"].to_numpy()[opt] == "C", inst["exercise"].to_numpy()[opt] == "american",
        np.zeros(opt.size, dtype=bool),
    )  # fmt: skip
    scale = inst["multiplier"].to_numpy().astype(np.float64)[opt] * fx[opt]
    loss = (option_values(S, *args) - option_values(S * 1e-9, *args)) * scale
    return {int(i): (float(v), float(t)) for i, v, t in zip(opt, loss, T, strict=True)}
