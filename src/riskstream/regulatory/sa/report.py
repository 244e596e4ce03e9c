"""The standardised-approach capital report, by desk and risk class (JSON and HTML).

The bank-level figures follow MAR20.3-20.4: SA capital = SBM (the largest of the three
correlation-scenario totals, MAR21.7) + DRC (MAR22) + RRAO (MAR23). Each desk's figures are
the same computation on that desk's positions alone (stand-alone, as MAR11 asks of each
trading desk); a risk class's figure is the largest scenario total of its three measures.
Desks' figures do not add up to the bank's: diversification across desks is recognised
only at bank level.
"""

from __future__ import annotations

import html
from typing import Any

import polars as pl

from riskstream.regulatory.sa.drc import drc_capital
from riskstream.regulatory.sa.params import SCENARIOS
from riskstream.regulatory.sa.sbm import SbmConfig, SbmResult, sbm_capital


def risk_class_capital(result: SbmResult) -> dict[str, float]:
    """Each risk class's capital: the largest scenario total of delta + vega + curvature."""
    return {
        rc: max(sum(m.charge[s] for m in measures.values()) for s in SCENARIOS)
        for rc, measures in result.by_risk_class.items()
    }


def sa_report(
    crif: pl.DataFrame,
    exposures: pl.DataFrame,
    rrao: dict[str, Any],
    reporting_currency: str,
    config: SbmConfig | None = None,
) -> dict[str, Any]:
    """The SA capital of the bank and of each desk.

    Parameters
    ----------
    crif : polars.DataFrame
        Book CRIF rows with a ``desk`` column (reporting currency).
    exposures : polars.DataFrame
        DRC exposures with a ``desk`` column (:func:`~riskstream.regulatory.sa.drc.
        book_exposures`).
    rrao : dict
        :func:`~riskstream.regulatory.sa.rrao.book_rrao`'s result.
    """
    bank = sbm_capital(crif, reporting_currency, config)
    drc = drc_capital(exposures)
    out = bank.as_dict()
    out["total"].update(
        sbm=bank.capital,
        drc=drc.total,
        rrao=rrao["total"],
        capital=bank.capital + drc.total + rrao["total"],
    )
    out["drc"] = {"total": drc.total, "buckets": drc.buckets}
    out["rrao"] = rrao
    desks = sorted(set(crif["desk"].to_list()) | set(exposures["desk"].to_list()))
    by_desk = []
    for desk in desks:
        res = sbm_capital(crif.filter(pl.col("desk") == desk), reporting_currency, config)
        d_drc = drc_capital(exposures.filter(pl.col("desk") == desk)).total
        d_rrao = rrao["by_desk"].get(desk, 0.0)
        by_desk.append(
            {
                "desk": desk,
                "by_risk_class": risk_class_capital(res),
                "sbm": res.capital,
                "drc": d_drc,
                "rrao": d_rrao,
                "capital": res.capital + d_drc + d_rrao,
            }
        )
    out["by_desk"] = by_desk
    out["reporting_currency"] = reporting_currency
    return out


def render_html(report: dict[str, Any]) -> str:
    """A self-contained HTML page of :func:`sa_report`'s figures."""
    ccy = html.escape(report["reporting_currency"])
    classes = list(report["by_risk_class"])

    def num(x: float) -> str:
        return f"{x:,.0f}"

    t = report["total"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in classes)
    desk_rows = "".join(
        "<tr><td>{}</td>{}<td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td></tr>".format(
            html.escape(d["desk"]),
            "".join(f"<td>{num(d['by_risk_class'][c])}</td>" for c in classes),
            num(d["sbm"]), num(d["drc"]), num(d["rrao"]), num(d["capital"]),
        )
        for d in report["by_desk"]
    )  # fmt: skip
    measure_rows = "".join(
        f"<tr><td>{html.escape(rc)}</td><td>{html.escape(m)}</td>"
        + "".join(f"<td>{num(v[s])}</td>" for s in SCENARIOS)
        + "</tr>"
        for rc, ms in report["by_risk_class"].items()
        for m, v in ms.items()
    )
    as_of = html.escape(str(report.get("as_of", "")))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>FRTB standardised approach capital {as_of}</title>
<style>body{{font-family:sans-serif}}td,th{{padding:2px 8px;text-align:right}}
td:first-child{{text-align:left}}table{{border-collapse:collapse}}tr:nth-child(even){{background:#f4f4f4}}</style>
</head><body>
<h1>FRTB standardised approach capital ({ccy}) {as_of}</h1>
<p>SA capital = SBM + DRC + RRAO (MAR20.3). SBM = max of the low, medium and high correlation
scenario totals (MAR21.6-21.7).</p>
<table><tr><th>low</th><th>medium</th><th>high</th><th>SBM</th><th>DRC</th><th>RRAO</th>
<th>capital</th></tr><tr><td>{num(t["low"])}</td><td>{num(t["medium"])}</td>
<td>{num(t["high"])}</td><td>{num(t["sbm"])}</td><td>{num(t["drc"])}</td>
<td>{num(t["rrao"])}</td><td><b>{num(t["capital"])}</b></td></tr></table>
<h2>By desk (stand-alone) and risk class</h2>
<table><tr><th>desk</th>{head}<th>SBM</th><th>DRC</th><th>RRAO</th><th>capital</th></tr>
{desk_rows}</table>
<h2>By risk class and measure</h2>
<table><tr><th>risk class</th><th>measure</th><th>low</th><th>medium</th><th>high</th></tr>
{measure_rows}</table>
</body></html>
"""
