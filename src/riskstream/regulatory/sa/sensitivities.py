"""SA sensitivities of the book by the definitions of Basel MAR21.8-21.25, as CRIF rows.

Each instrument's sensitivities per unit held are computed once (vectorised by asset class,
revalued with :mod:`riskstream.pricing`), then multiplied by the positions, per desk:

* **equity** (MAR21.20): spot delta ``(V(1.01 S) - V(S)) / 0.01`` = market value; cash equity
  has no repo sensitivity. Bucket (MAR21.72): market cap from ``market_caps`` (USD; without
  one a name counts as small cap, the conservative side: buckets 9/10), region by country
  (MAR21.75), sector by GICS (``regulatory/data/book_mapping.toml``);
* **index futures**: equity spot delta on the index (bucket 12 for an advanced economy's
  index, else 13), GIRR delta ``dV/dr = F T`` per unit (the cost of carry ``F = S
  e^{(r-q)T}``) at the expiry's tenors and equity repo delta ``-F T`` (MAR21.22);
  **commodity futures** (MAR21.23): commodity delta at the expiry's tenors (linear split
  between vertices), bucket by commodity;
* **options** (full revaluation: Barone-Adesi-Whaley for American, Black-Scholes-Merton /
  Black-76 for European, at the option's implied vol and rate): delta by the 1 % bump of the
  underlying, repo delta of options on stocks by a 1 bp bump of the dividend yield (MAR21.22),
  GIRR delta by a 1 bp bump of the rate at the expiry's tenors (MAR21.19) and GIRR
  curvature by the parallel shift of MAR21.99, vega
  ``vega x sigma`` (MAR21.25) split onto the option maturities 6m..10y, and
  curvature (MAR21.5) ``CVR^± = -(V(S(1 ± RW)) - V(S) ∓ RW s)`` with ``RW`` the bucket's
  delta risk weight (MAR21.98);
* **FX spot/forwards** (MAR21.24): FX delta on each leg's currency against the reporting
  currency (``(V(1.01 fx) - V) / 0.01`` = the leg's value), GIRR delta of a forward on both
  legs' curves at the delivery tenor;
* **bonds** (MAR21.19, 21.20): each cash flow's ``dV/dz`` at its time, split linearly onto
  the GIRR tenors (the currency's curve, ``label2 = "OIS"``) and onto the CSR tenors
  (issuer's bond curve), sovereigns in CSR bucket 1/9, corporates by sector and rating
  (investment grade: BBB- and better).
* every instrument in a currency other than the reporting one: FX delta of its value.

Amounts are in the reporting currency (``fx_to_reporting``). Inflation and cross-currency
basis sensitivities do not arise from Riskstream's instrument types; CRIF input carries
them (:mod:`riskstream.regulatory.sa.crif`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import polars as pl

from riskstream.pricing import baw_price, black76_price, bond_yield_from_price, bsm_price
from riskstream.pricing.bonds import _cashflows  # cash-flow grid of the bond pricers
from riskstream.regulatory.sa.params import sbm

CRIF_BOOK_COLUMNS = ("desk", "instrument_id", "risk_type", "qualifier", "bucket", "label1",
                     "label2", "amount")  # fmt: skip

INVESTMENT_GRADE = ("AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-")
LARGE_CAP_USD = 2e9  # MAR21.74


@cache
def mapping() -> dict[str, Any]:
    """The book-to-bucket classification (``regulatory/data/book_mapping.toml``)."""
    with (
        resources.files("riskstream.regulatory")
        .joinpath("data", "book_mapping.toml")
        .open("rb") as f
    ):
        return tomllib.load(f)


def vertex_weights(t: np.ndarray, vertices: list[float]) -> np.ndarray:
    """Linear-interpolation weights of times ``t`` on ``vertices`` (flat beyond the ends),
    shape (len(t), len(vertices)); each row sums to one."""
    v = np.asarray(vertices, dtype=np.float64)
    t = np.clip(np.asarray(t, dtype=np.float64), v[0], v[-1])
    hi = np.clip(np.searchsorted(v, t, side="left"), 1, v.size - 1)
    lo = hi - 1
    frac = (t - v[lo]) / (v[hi] - v[lo])
    w = np.zeros((t.size, v.size))
    w[np.arange(t.size), lo] = 1.0 - frac
    w[np.arange(t.size), hi] += frac
    return w


def _rows(ids, risk_type, qualifier, bucket, label1, label2, amount) -> pl.DataFrame:
    n = len(ids)

    def col(x: Any) -> list[str]:
        return [str(x)] * n if isinstance(x, str | int) else [str(v) for v in x]

    return pl.DataFrame(
        {
            "instrument_id": np.asarray(ids, dtype=np.int64),
            "risk_type": col(risk_type),
            "qualifier": col(qualifier),
            "bucket": col(bucket),
            "label1": col(label1),
            "label2": col(label2),
            "amount": np.asarray(amount, dtype=np.float64),
        }
    )


def _pick(x: Any, i: np.ndarray) -> Any:
    """``x`` itself when it is one label for every row, else its elements ``i``."""
    return x if isinstance(x, str | int) else np.asarray(x)[i]


def _split(ids, risk_type, qualifier, bucket, years, amount, vertices, labels, label2):
    """Rows of ``amount`` split linearly onto ``vertices`` by ``years``."""
    w = vertex_weights(years, vertices) * np.asarray(amount)[:, None]
    i, k = np.nonzero(w)
    return _rows(
        np.asarray(ids)[i], risk_type, _pick(qualifier, i), _pick(bucket, i),
        np.asarray(labels)[k], _pick(label2, i), w[i, k],
    )  # fmt: skip


def equity_bucket(sector: str | None, country: str, market_cap_usd: float | None) -> int:
    """The MAR21.72 bucket of a single name."""
    group = mapping()["equity_sector_group"].get(sector or "")
    if group is None:
        return 11
    advanced = country in mapping()["advanced_economies"]
    if market_cap_usd is None or market_cap_usd < LARGE_CAP_USD:
        return 10 if advanced else 9
    return group + 4 if advanced else group


def _eq_qualifier_bucket(inst: pl.DataFrame, ids: np.ndarray, caps: Mapping[str, float]):
    """(qualifier, bucket) of the equity risk factor of each instrument in ``ids`` (a stock,
    or an index named by ``sector = "index:<name>"``)."""
    sym = inst["symbol"].to_numpy()[ids]
    sector = inst["sector"].to_numpy()[ids]
    country = inst["country"].to_numpy()[ids]
    adv = set(mapping()["advanced_economies"])
    quals, buckets = [], []
    for s, sec, c in zip(sym, sector, country, strict=True):
        if isinstance(sec, str) and sec.startswith("index:"):
            quals.append(sec.split(":", 1)[1])
            buckets.append(12 if c in adv else 13)
        else:
            quals.append(str(s).split(" ")[0])
            buckets.append(equity_bucket(sec, c, caps.get(str(s))))
    return np.array(quals), np.array(buckets)


def unit_sensitivities(
    universe: Any,
    reporting_currency: str,
    fx_to_reporting: Mapping[str, float],
    price: np.ndarray,
    implied_vol: np.ndarray,
    rate: np.ndarray,
    as_of: dt.date,
    market_caps: Mapping[str, float] | None = None,
    dividend_yield: float = 0.0,
) -> pl.DataFrame:
    """CRIF rows per unit held of every instrument (``instrument_id`` column), reporting
    currency.

    Parameters
    ----------
    universe : Universe
        Instruments (dense ids) of the book.
    price : ndarray of shape (n_instruments,)
        Marks in instrument currency (options' underlyings read from here); NaN: not valued.
    implied_vol, rate : ndarray of shape (n_instruments,)
        Options' implied vols and zero rates to expiry (NaN elsewhere).
    market_caps : mapping, optional
        Market capitalisation in USD by equity symbol (MAR21.73-21.74).
    dividend_yield : float
        The yield of a stock whose ``dividend_yield`` is null (``risk.dividend_yield``, the
        one its options' implied vols were solved with).
    """
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = universe.instruments
    caps = market_caps or {}
    p = sbm()
    asset = inst["asset_class"].to_numpy()
    ccy = inst["currency"].to_numpy()
    fx = np.array([fx_to_reporting.get(c, np.nan) for c in ccy])
    mult = inst["multiplier"].to_numpy().astype(np.float64)
    value = price * mult * fx  # market value per unit, reporting currency
    parts: list[pl.DataFrame] = []

    # Equities: spot delta = market value (MAR21.20).
    eq = np.flatnonzero((asset == "equity") & np.isfinite(value))
    q, b = _eq_qualifier_bucket(inst, eq, caps)
    parts.append(_rows(eq, "EQ_DELTA", q, b, "spot", "", value[eq]))

    # Futures on an index or a commodity.
    fut = np.flatnonzero((asset == "future") & np.isfinite(value))
    sector = inst["sector"].to_numpy()
    years = np.maximum(year_fraction(epoch_days(inst["expiry"]), as_of), 0.0)
    is_idx = np.array([str(s).startswith("index:") for s in sector[fut]], dtype=bool)
    idx, com = fut[is_idx], fut[~is_idx]
    q, b = _eq_qualifier_bucket(inst, idx, caps)
    parts.append(_rows(idx, "EQ_DELTA", q, b, "spot", "", value[idx]))
    # F = S exp((r - q) T): dV/dq = -F T (repo, MAR21.22), dV/dr = F T (GIRR, MAR21.19)
    parts.append(_rows(idx, "EQ_DELTA", q, b, "repo", "", -value[idx] * years[idx]))
    g = p["girr"]
    parts.append(
        _split(idx, "GIRR_DELTA", ccy[idx], "", years[idx], value[idx] * years[idx],
               g["tenors_y"], g["tenor_labels"], "OIS")
    )  # fmt: skip
    names = np.array([str(s).split(":", 1)[-1] for s in sector[com]])
    cb = np.array([mapping()["commodity_bucket"].get(n, 11) for n in names])
    c = p["commodity"]
    parts.append(
        _split(com, "COMM_DELTA", names, cb, years[com], value[com], c["tenors_y"],
               c["tenor_labels"], "")
    )  # fmt: skip

    parts.extend(
        _options(inst, asset, price, fx, mult, implied_vol, rate, years, caps, dividend_yield)
    )
    parts.extend(_fx_instruments(inst, asset, price, fx_to_reporting, mult, years, ccy))
    parts.extend(_bonds(inst, asset, price, fx, mult, as_of, ccy))

    # FX delta of every non-FX instrument held in a foreign currency: its value (MAR21.24).
    # Futures carry no value of their own (variation margin), so no FX delta.
    foreign = np.flatnonzero(
        np.isin(asset, ["equity", "option", "bond"]) & (ccy != reporting_currency)
        & np.isfinite(value)
    )  # fmt: skip
    parts.append(_rows(foreign, "FX_DELTA", ccy[foreign], "", "", "", value[foreign]))
    return pl.concat([x for x in parts if x.height], how="vertical")


def option_values(
    S: Any, K: Any, T: Any, r: Any, q: Any, sigma: Any, call: Any, american: Any, on_future: Any
) -> np.ndarray:
    """Option value per underlying unit: Black-76 on a future, BAW when American (a future's
    carry is ``q = r``), else Black-Scholes-Merton with the stock's yield ``q``."""
    euro = np.where(
        on_future,
        black76_price(S, K, T, r, sigma, call),
        bsm_price(S, K, T, r, q, sigma, call),
    )
    if american.any():
        am = baw_price(S, K, T, r, np.where(on_future, r, q), sigma, call)
        euro = np.where(american, am, euro)
    return euro


def _options(inst, asset, price, fx, mult, implied_vol, rate, years, caps, dividend_yield):
    opt = np.flatnonzero(asset == "option")
    und = inst["underlying_id"].to_numpy()[opt].astype(np.int64) if opt.size else opt
    S = price[und] if opt.size else np.zeros(0)
    ok = np.isfinite(S) & np.isfinite(implied_vol[opt]) & (implied_vol[opt] > 0) & (years[opt] > 0)
    ok &= np.isfinite(rate[opt]) & np.isfinite(fx[opt])
    opt, und, S = opt[ok], und[ok], S[ok]
    if opt.size == 0:
        return []
    K = inst["strike"].to_numpy().astype(np.float64)[opt]
    T = years[opt]
    r = rate[opt]
    sig = implied_vol[opt]
    call = inst["right"].to_numpy()[opt] == "C"
    american = inst["exercise"].to_numpy()[opt] == "american"
    on_future = inst["asset_class"].to_numpy()[und] == "future"
    scale = mult[opt] * fx[opt]  # per unit held, reporting currency
    # the stock's own dividend yield, else the configured one (as the implied vols were solved)
    yld = inst["dividend_yield"].to_numpy().astype(np.float64)[und]
    yld = np.where(np.isfinite(yld), yld, dividend_yield)

    def value(s=S, v=sig, rr=r, qq=yld):
        return option_values(s, K, T, rr, qq, v, call, american, on_future) * scale

    v0 = value()
    delta = (value(S * 1.01) - v0) / 0.01  # MAR21.20
    # the equity risk factor: the stock, or the index its future follows
    q, b = _eq_qualifier_bucket(inst, und, caps)
    rows = [_rows(opt, "EQ_DELTA", q, b, "spot", "", delta)]
    # Repo (MAR21.22) of options on stocks: (V(q + 1bp) - V(q)) / 1bp (an option on a future
    # has none of its own: the future carries it).
    st = ~on_future
    repo = (value(qq=yld + 1e-4) - v0) / 1e-4
    rows.append(_rows(opt[st], "EQ_DELTA", q[st], b[st], "repo", "", repo[st]))
    # GIRR (MAR21.19): (V(r + 1bp) - V(r)) / 1bp at the expiry, the currency's curve.
    rho = (value(rr=r + 1e-4) - v0) / 1e-4
    g = sbm()["girr"]
    ccy = inst["currency"].to_numpy()[opt]
    rows.append(_split(opt, "GIRR_DELTA", ccy, "", T, rho, g["tenors_y"], g["tenor_labels"], "OIS"))
    # GIRR curvature (MAR21.5, MAR21.99): the whole curve shifted by the highest GIRR risk
    # weight (1.7 %, not reduced by sqrt(2): the conservative reading of MAR21.99), against
    # the delta summed over tenors.
    rw_r = max(g["risk_weights"])
    rows.append(_rows(opt, "GIRR_CURV", ccy, "", "up", "",
                      -(value(rr=r + rw_r) - v0 - rw_r * rho)))  # fmt: skip
    rows.append(_rows(opt, "GIRR_CURV", ccy, "", "down", "",
                      -(value(rr=r - rw_r) - v0 + rw_r * rho)))  # fmt: skip
    # Vega (MAR21.25): vega x implied vol, on the option maturities.
    vega = (value(v=sig + 0.01) - value(v=np.maximum(sig - 0.01, 1e-6))) / 0.02 * sig
    vg = sbm()["vega"]
    rows.append(
        _split(opt, "EQ_VEGA", q, b, T, vega, vg["option_maturities_y"],
               vg["option_maturity_labels"], "")
    )  # fmt: skip
    # Curvature (MAR21.5, MAR21.98): shocks of the bucket's delta risk weight.
    rw = np.asarray(sbm()["equity"]["spot_risk_weights"])[b - 1]
    up = -(value(S * (1.0 + rw)) - v0 - rw * delta)
    down = -(value(S * (1.0 - rw)) - v0 + rw * delta)
    rows.append(_rows(opt, "EQ_CURV", q, b, "up", "", up))
    rows.append(_rows(opt, "EQ_CURV", q, b, "down", "", down))
    return rows


def _fx_instruments(inst, asset, price, fx_to_reporting, mult, years, ccy):
    """FX spot and forwards: ``quantity`` units of the base currency against the quote one."""
    ids = np.flatnonzero((asset == "fx") & np.isfinite(price))
    if ids.size == 0:
        return []
    base = inst["base_currency"].to_numpy()[ids]
    quote = ccy[ids]
    fb = np.array([fx_to_reporting.get(c, np.nan) for c in base])
    fq = np.array([fx_to_reporting.get(c, np.nan) for c in quote])
    ok = np.isfinite(fb) & np.isfinite(fq)
    ids, base, quote, fb, fq = ids[ok], base[ok], quote[ok], fb[ok], fq[ok]
    notional_quote = price[ids] * mult[ids]  # quote units paid per unit of base bought
    rows = [
        _rows(ids, "FX_DELTA", base, "", "", "", mult[ids] * fb),
        _rows(ids, "FX_DELTA", quote, "", "", "", -notional_quote * fq),
    ]
    # A forward's value moves with both legs' rates: d/dr_quote = +F T, d/dr_base = -F T.
    T = np.nan_to_num(years[ids], nan=0.0)
    fwd = T > 0
    g = sbm()["girr"]
    pv01 = notional_quote[fwd] * fq[fwd] * T[fwd]
    rows.append(_split(ids[fwd], "GIRR_DELTA", quote[fwd], "", T[fwd], pv01, g["tenors_y"],
                       g["tenor_labels"], "OIS"))  # fmt: skip
    rows.append(_split(ids[fwd], "GIRR_DELTA", base[fwd], "", T[fwd], -pv01, g["tenors_y"],
                       g["tenor_labels"], "OIS"))  # fmt: skip
    return rows


def csr_bucket(sector: str | None, rating: str | None) -> int:
    """The MAR21.51 bucket of a bond issuer (sovereign or corporate by GICS sector)."""
    ig = (rating or "") in INVESTMENT_GRADE
    sec = str(sector or "")
    if sec == "government":
        return 1 if ig else 9
    base = mapping()["csr_sector_bucket"].get(sec.split(":", 1)[-1])
    if base is None:
        return 16
    return base if ig else base + 8


def _bonds(inst, asset, price, fx, mult, as_of, ccy):
    ids = np.flatnonzero((asset == "bond") & np.isfinite(price) & np.isfinite(fx))
    if ids.size == 0:
        return []
    from riskstream.risk.factors import epoch_days, year_fraction

    T = year_fraction(epoch_days(inst["maturity"])[ids], as_of)
    live = T > 0
    ids, T = ids[live], T[live]
    cpn = inst["coupon"].to_numpy()[ids]
    freq = inst["coupon_frequency"].to_numpy()[ids].astype(np.float64)
    y = bond_yield_from_price(price[ids], cpn, T, freq, compounding="continuous")
    t, cf, _ = _cashflows(cpn, T, freq)
    # dV/dz at each cash flow time (per 100 face), then per unit held in reporting currency
    dv = -t * cf * np.exp(-y[:, None] * t) * (mult[ids] * fx[ids])[:, None]
    sym = inst["symbol"].to_numpy()[ids]
    issuer = np.array([str(s).split(" ")[0] for s in sym])
    sector = inst["sector"].to_numpy()[ids]
    rating = inst["rating"].to_numpy()[ids]
    bucket = np.array([csr_bucket(s, r) for s, r in zip(sector, rating, strict=True)])
    p = sbm()
    rows = []
    for kind, vert, labels, qual, bkt, l2 in (
        ("GIRR_DELTA", p["girr"]["tenors_y"], p["girr"]["tenor_labels"], ccy[ids], "", "OIS"),
        ("CSR_DELTA", p["csr"]["tenors_y"], p["csr"]["tenor_labels"], issuer, bucket, "bond"),
    ):
        alive = t > 0
        r, c = np.nonzero(alive)
        w = vertex_weights(t[r, c], vert) * dv[r, c][:, None]
        per = np.zeros((ids.size, len(vert)))
        np.add.at(per, r, w)
        i, k = np.nonzero(per)
        rows.append(
            _rows(ids[i], kind, _pick(qual, i), _pick(bkt, i), np.asarray(labels)[k], l2, per[i, k])
        )
    return rows


def book_crif(
    universe: Any,
    unit: pl.DataFrame,
) -> pl.DataFrame:
    """CRIF rows of the book by desk: ``unit`` (:func:`unit_sensitivities`) times each
    desk's net quantity of each instrument; columns :data:`CRIF_BOOK_COLUMNS`."""
    held = (
        universe.positions.join(universe.books.select("book_id", "desk"), on="book_id")
        .group_by("desk", "instrument_id")
        .agg(pl.col("quantity").sum())
        .filter(pl.col("quantity") != 0)
        .with_columns(pl.col("instrument_id").cast(pl.Int64))
    )
    out = unit.join(held, on="instrument_id").with_columns(
        amount=pl.col("amount") * pl.col("quantity")
    )
    return out.select(CRIF_BOOK_COLUMNS).filter(pl.col("amount").is_finite())


def excluded_positions(
    universe: Any, unit: pl.DataFrame, price: np.ndarray, fx: np.ndarray
) -> list[dict[str, Any]]:
    """Held instruments without (finite) sensitivities, each with the reason: listed in the
    report, never dropped silently.

    Parameters
    ----------
    fx : ndarray of shape (n_instruments,)
        Rate to the reporting currency of each instrument's currency (NaN: none).
    """
    inst = universe.instruments
    held = universe.positions.filter(pl.col("quantity") != 0)["instrument_id"].unique()
    finite = unit.filter(pl.col("amount").is_finite())["instrument_id"].unique()
    bad_rows = unit.filter(~pl.col("amount").is_finite())["instrument_id"].unique()
    missing = set(held.to_list()) - set(finite.to_list()) | (
        set(held.to_list()) & set(bad_rows.to_list())
    )
    asset = inst["asset_class"].to_numpy()
    und = inst["underlying_id"].to_numpy()
    out = []
    for iid in sorted(missing):
        if not np.isfinite(price[iid]) and asset[iid] != "option":
            reason = "no price"
        elif not np.isfinite(fx[iid]):
            reason = "no FX rate to the reporting currency"
        elif asset[iid] == "option" and not np.isfinite(price[int(und[iid])]):
            reason = "no price of the underlying"
        elif asset[iid] == "option":
            reason = "option without implied vol or rate, or expired"
        elif asset[iid] == "bond":
            reason = "matured bond, or yield not solvable from its price"
        else:
            reason = "no sensitivity computed"
        out.append(
            {"instrument_id": int(iid), "symbol": inst["symbol"][int(iid)], "reason": reason}
        )
    return out
