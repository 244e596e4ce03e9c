"""Book sensitivities follow the MAR21.19-21.25 definitions, checked by independent bumps."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from riskstream.cli.engine import implied_vols, option_rates
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.pricing import baw_price, black76_price, bond_price_from_yield, bsm_price
from riskstream.regulatory.sa.drc import book_exposures, drc_capital
from riskstream.regulatory.sa.report import render_html, sa_report
from riskstream.regulatory.sa.rrao import book_rrao
from riskstream.regulatory.sa.sensitivities import (
    book_crif,
    equity_bucket,
    unit_sensitivities,
    vertex_weights,
)
from riskstream.risk.factors import epoch_days, year_fraction


@pytest.fixture(scope="module")
def book():
    u = generate_universe(UniverseConfig(instruments=1500, seed=11))
    rates = option_rates(u, u.as_of)
    iv = implied_vols(u, u.as_of, rates, 0.0)
    px = u.instruments["ref_price"].to_numpy().astype(np.float64)
    unit = unit_sensitivities(u, "USD", u.fx_to_base, px, iv, rates, u.as_of)
    return u, rates, iv, px, unit


def _sum(unit: pl.DataFrame, iid: int, risk_type: str) -> float:
    rows = unit.filter((pl.col("instrument_id") == iid) & (pl.col("risk_type") == risk_type))
    if risk_type == "EQ_DELTA":  # the spot sensitivity (repo rows are apart)
        rows = rows.filter(pl.col("label1") == "spot")
    return float(rows["amount"].sum())


def test_vertex_weights_split_linearly_and_sum_to_one() -> None:
    w = vertex_weights(np.array([0.1, 2.0, 4.0, 40.0]), [0.25, 1, 3, 5, 10])
    assert np.allclose(w.sum(axis=1), 1.0)
    assert w[0, 0] == 1.0 and w[1, 1] == pytest.approx(0.5) and w[2, 2] == pytest.approx(0.5)
    assert w[3, -1] == 1.0


def test_bond_girr_and_csr_delta_are_the_yield_pv01(book) -> None:
    # MAR21.19/21.20: (V(r + 1bp) - V(r)) / 1bp summed over tenors = a parallel shift of the
    # continuously compounded yield (the zero curve is the bond's flat yield).
    u, _, _, px, unit = book
    inst = u.instruments
    for iid in np.flatnonzero((inst["asset_class"] == "bond").to_numpy())[:5]:
        row = inst.row(int(iid), named=True)
        T = year_fraction(epoch_days(inst["maturity"])[[iid]], u.as_of)[0]
        from riskstream.pricing import bond_yield_from_price

        args = (row["coupon"], T, row["coupon_frequency"])
        y = bond_yield_from_price(px[iid], *args, compounding="continuous")
        h = 1e-6
        up = bond_price_from_yield(y + h, *args, compounding="continuous")
        dn = bond_price_from_yield(y - h, *args, compounding="continuous")
        pv01 = float((up - dn) / (2 * h)) * row["multiplier"] * u.fx_to_base[row["currency"]]
        assert _sum(unit, int(iid), "GIRR_DELTA") == pytest.approx(pv01, rel=1e-6)
        assert _sum(unit, int(iid), "CSR_DELTA") == pytest.approx(pv01, rel=1e-6)


def test_option_delta_vega_curvature_by_definition(book) -> None:
    u, rates, iv, px, unit = book
    inst = u.instruments
    iid = int(
        np.flatnonzero(
            ((inst["asset_class"] == "option") & (inst["exercise"] == "european")).to_numpy()
        )[0]
    )
    row = inst.row(iid, named=True)
    und = row["underlying_id"]
    T = year_fraction(epoch_days(inst["expiry"])[[iid]], u.as_of)[0]
    scale = row["multiplier"] * u.fx_to_base[row["currency"]]
    on_future = inst["asset_class"][und] == "future"
    call = row["right"] == "C"

    def v(s, sig=iv[iid]):
        if on_future:
            return float(black76_price(s, row["strike"], T, rates[iid], sig, call)) * scale
        return float(bsm_price(s, row["strike"], T, rates[iid], 0.0, sig, call)) * scale

    S = px[und]
    delta = (v(1.01 * S) - v(S)) / 0.01  # MAR21.20
    assert _sum(unit, iid, "EQ_DELTA") == pytest.approx(delta, rel=1e-9)
    vega = (v(S, iv[iid] + 0.01) - v(S, iv[iid] - 0.01)) / 0.02 * iv[iid]  # MAR21.25
    assert _sum(unit, iid, "EQ_VEGA") == pytest.approx(vega, rel=1e-9)
    rw = 0.15 if on_future else None  # index options: bucket 12 (advanced-economy index)
    curv = unit.filter((pl.col("instrument_id") == iid) & (pl.col("risk_type") == "EQ_CURV"))
    if rw is None:
        rw = {5: 0.30, 6: 0.35, 7: 0.40, 8: 0.50, 9: 0.70, 10: 0.50, 11: 0.70}[
            int(curv["bucket"][0])
        ]
    up = -(v(S * (1 + rw)) - v(S) - rw * delta)  # MAR21.5(2)
    got = dict(zip(curv["label1"], curv["amount"], strict=True))
    assert got["up"] == pytest.approx(up, rel=1e-9)


def test_american_option_is_revalued_with_baw(book) -> None:
    u, rates, iv, px, unit = book
    inst = u.instruments
    iid = int(np.flatnonzero((inst["exercise"] == "american").to_numpy())[0])
    row = inst.row(iid, named=True)
    T = year_fraction(epoch_days(inst["expiry"])[[iid]], u.as_of)[0]
    S = px[row["underlying_id"]]
    scale = row["multiplier"] * u.fx_to_base[row["currency"]]

    def v(s):
        return (
            float(baw_price(s, row["strike"], T, rates[iid], 0.0, iv[iid], row["right"] == "C"))
            * scale
        )

    assert _sum(unit, iid, "EQ_DELTA") == pytest.approx((v(1.01 * S) - v(S)) / 0.01, rel=1e-9)


def test_fx_delta_of_a_foreign_stock_is_its_value(book) -> None:
    u, _, _, px, unit = book
    inst = u.instruments
    iid = int(
        np.flatnonzero(
            ((inst["asset_class"] == "equity") & (inst["currency"] != "USD")).to_numpy()
        )[0]
    )
    row = inst.row(iid, named=True)
    value = px[iid] * row["multiplier"] * u.fx_to_base[row["currency"]]
    assert _sum(unit, iid, "FX_DELTA") == pytest.approx(value)  # MAR21.24
    assert _sum(unit, iid, "EQ_DELTA") == pytest.approx(value)  # MAR21.20 (linear)


def test_equity_buckets_mar21_72() -> None:
    assert equity_bucket("Financials", "US", 5e9) == 8
    assert equity_bucket("Financials", "BR", 5e9) == 4
    assert equity_bucket("Utilities", "US", 1e9) == 10  # small cap, advanced
    assert equity_bucket("Utilities", "US", None) == 10  # unknown cap: small (conservative)
    assert equity_bucket(None, "US", 5e9) == 11


def test_report_by_desk_and_risk_class(book) -> None:
    u, _, _, px, unit = book
    crif = book_crif(u, unit)
    ccy = u.instruments["currency"].to_list()
    fx = np.array([u.fx_to_base[c] for c in ccy])
    exp = book_exposures(u, px, fx, u.as_of)
    assert exp.height > 0 and drc_capital(exp.drop("desk")).total > 0
    mult = u.instruments["multiplier"].to_numpy()
    rrao = book_rrao(u, np.abs(px * mult * fx), {})
    rep = sa_report(crif, exp, rrao, "USD")
    t = rep["total"]
    assert t["capital"] == pytest.approx(t["sbm"] + t["drc"] + t["rrao"])
    assert t["sbm"] == max(t["low"], t["medium"], t["high"])
    desks = {d["desk"] for d in rep["by_desk"]}
    assert desks == set(u.books["desk"].unique().to_list())
    # diversification is recognised at bank level only: desks add up to at least the bank
    assert sum(d["sbm"] for d in rep["by_desk"]) >= t["sbm"] * (1 - 1e-12)
    html = render_html({**rep, "as_of": "2024-06-28"})
    assert "By desk" in html and "Equities" in html


def test_rrao_rule_only_declared_otc_instruments(book) -> None:
    u, _, _, _, _ = book
    held = u.positions["instrument_id"].to_list()
    sym = u.instruments["symbol"][held[0]]
    out = book_rrao(u, np.ones(len(u)), {sym: "exotic"})
    # the book's instruments are exchange-listed: excluded by MAR23.7, and said so
    assert out["total"] == 0.0 and out["excluded_listed"] == [sym]


def test_option_repo_and_rho_by_definition(book) -> None:
    # MAR21.22 repo: (V(q + 1bp) - V(q)) / 1bp; MAR21.19 GIRR: (V(r + 1bp) - V(r)) / 1bp,
    # summed over the tenors it is split onto.
    u, rates, iv, px, unit = book
    inst = u.instruments
    stock_opt = (inst["asset_class"] == "option") & (inst["exercise"] == "american")
    iid = int(np.flatnonzero(stock_opt.to_numpy())[0])
    row = inst.row(iid, named=True)
    T = year_fraction(epoch_days(inst["expiry"])[[iid]], u.as_of)[0]
    S = px[row["underlying_id"]]
    scale = row["multiplier"] * u.fx_to_base[row["currency"]]
    call = row["right"] == "C"

    def v(r, q):
        return float(baw_price(S, row["strike"], T, r, q, iv[iid], call)) * scale

    base = v(rates[iid], 0.0)
    repo = unit.filter((pl.col("instrument_id") == iid) & (pl.col("label1") == "repo"))[
        "amount"
    ].sum()
    assert repo == pytest.approx((v(rates[iid], 1e-4) - base) / 1e-4, rel=1e-9)
    rho = (v(rates[iid] + 1e-4, 0.0) - base) / 1e-4
    assert _sum(unit, iid, "GIRR_DELTA") == pytest.approx(rho, rel=1e-9)
    # GIRR curvature (MAR21.5, MAR21.99): the rate shifted by 1.7 %, beyond the delta.
    curv = unit.filter((pl.col("instrument_id") == iid) & (pl.col("risk_type") == "GIRR_CURV"))
    got = dict(zip(curv["label1"], curv["amount"], strict=True))
    assert got["up"] == pytest.approx(-(v(rates[iid] + 0.017, 0.0) - base - 0.017 * rho))
    assert got["down"] == pytest.approx(-(v(rates[iid] - 0.017, 0.0) - base + 0.017 * rho))


def test_unvalued_positions_are_listed_with_their_reason(book) -> None:
    from riskstream.regulatory.sa.sensitivities import excluded_positions

    u, rates, iv, px, _ = book
    inst = u.instruments
    held = set(u.positions["instrument_id"].to_list())
    stock = next(
        i for i in np.flatnonzero((inst["asset_class"] == "equity").to_numpy()) if i in held
    )
    option = next(
        i for i in np.flatnonzero((inst["asset_class"] == "option").to_numpy()) if i in held
    )
    price = px.copy()
    price[stock] = np.nan
    vols = iv.copy()
    vols[option] = np.nan
    unit = unit_sensitivities(u, "USD", u.fx_to_base, price, vols, rates, u.as_of)
    fx = np.array([u.fx_to_base[c] for c in inst["currency"]])
    out = {e["instrument_id"]: e["reason"] for e in excluded_positions(u, unit, price, fx)}
    assert out == {
        int(stock): "no price",
        int(option): "option without implied vol or rate, or expired",
    }


def test_drc_of_stock_options_is_the_loss_if_the_issuer_defaults(book) -> None:
    # MAR22.10: a long call loses its value when the stock goes to zero (a long exposure); a
    # long American put gains K - V (a short one). JTD = that amount (LGD 100 %, equity).
    u, rates, iv, px, _ = book
    inst = u.instruments
    fx = np.array([u.fx_to_base[c] for c in inst["currency"]])
    exp = book_exposures(u, px, fx, u.as_of, iv, rates)
    plain = book_exposures(u, px, fx, u.as_of)
    assert exp.height > plain.height
    held = u.positions.join(u.books.select("book_id", "desk"), on="book_id")
    am = (inst["asset_class"] == "option") & (inst["exercise"] == "american")
    for right in ("C", "P"):
        iid = next(
            int(i)
            for i in np.flatnonzero((am & (inst["right"] == right)).to_numpy())
            if i in set(held["instrument_id"].to_list())
        )
        row = inst.row(iid, named=True)
        T = year_fraction(epoch_days(inst["expiry"])[[iid]], u.as_of)[0]
        v0 = float(baw_price(px[row["underlying_id"]], row["strike"], T, rates[iid], 0.0, iv[iid],
                             right == "C"))  # fmt: skip
        default_value = 0.0 if right == "C" else row["strike"]  # a put is exercised at once
        per_unit = (v0 - default_value) * row["multiplier"] * u.fx_to_base[row["currency"]]
        qty = held.filter(pl.col("instrument_id") == iid)
        for desk, q in qty.group_by("desk").agg(pl.col("quantity").sum()).iter_rows():
            if q == 0:
                continue
            name = str(inst["symbol"][row["underlying_id"]]).split(" ")[0]
            rows = exp.filter((pl.col("desk") == desk) & (pl.col("obligor") == name))
            amounts = rows.filter((pl.col("maturity_years") - T).abs() < 1e-9)["notional"]
            assert any(a == pytest.approx(q * per_unit, rel=1e-6) for a in amounts.to_list())
