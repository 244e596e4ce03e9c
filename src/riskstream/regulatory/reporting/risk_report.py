"""The daily management risk report: VaR, ES and L-VaR at the close, their split by desk and
asset class, the largest contributors, limit utilisation at the close with breaches, the
day's automatic actions (reduction orders, kill switches) and, where given, stress losses —
as one self-contained HTML page (Plotly inlined) and as PDF.

The figures come in as plain data (the CLI computes them through the same engine path as
``riskstream risk``); this module only lays them out, so the report shows exactly what the
system computed. The PDF is the same page printed by headless Chromium
(``--print-to-pdf``), so the two never differ in content.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from riskstream.core.errors import ConfigError


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _cell(value: Any) -> str:
    return _money(value) if isinstance(value, float) else html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_risk_report(figures: dict[str, Any]) -> str:
    """The report page. ``figures``: ``as_of``, ``base_currency``, ``measures`` (list of
    {confidence, horizon_days, var, es, lvar}), ``by_desk`` / ``by_asset_class`` (name →
    {var, es} Euler sums), ``top_contributors``, ``limits`` (rows with limit_id, scope,
    member, type, value, hard, utilisation, status), ``limits_source``, ``actions`` (audit
    entries), optional ``stress`` (rows with scenario, pnl)."""
    ccy = figures["base_currency"]
    parts = [
        f"<h1>Daily risk report — {html.escape(str(figures['as_of']))}</h1>",
        f"<p>Base currency {html.escape(ccy)}; losses positive. Method "
        f"{html.escape(figures.get('method', ''))}, {figures.get('positions', 0)} positions."
        "</p>",
        "<h2>Value at risk and expected shortfall</h2>",
        _table(figures["measures"], ["confidence", "horizon_days", "var", "es", "lvar"]),
    ]
    for key, title in (("by_desk", "By desk"), ("by_asset_class", "By asset class")):
        rows = figures.get(key) or {}
        if rows:
            names = list(rows)
            fig = go.Figure(
                [
                    go.Bar(name="component VaR", x=names, y=[rows[n]["var"] for n in names]),
                    go.Bar(name="component ES", x=names, y=[rows[n]["es"] for n in names]),
                ]
            )
            fig.update_layout(
                barmode="group", height=320, margin={"t": 30, "b": 40}, title=f"{title} ({ccy})"
            )
            parts += [
                f"<h2>{title}</h2>",
                fig.to_html(full_html=False, include_plotlyjs=False),
                _table([{"name": n, **rows[n]} for n in names], ["name", "var", "es"]),
            ]
    parts += [
        "<h2>Largest contributors (component ES)</h2>",
        _table(
            figures.get("top_contributors", []),
            ["symbol", "asset_class", "quantity", "component_var", "component_es"],
        ),
    ]
    limits = figures.get("limits", [])
    breaches = [r for r in limits if r.get("status") == "breach"]
    parts += [
        f"<h2>Limits at the close ({html.escape(figures.get('limits_source', ''))})</h2>",
        f"<p><strong>{len(breaches)} breached</strong>, "
        f"{sum(r.get('status') == 'warning' for r in limits)} in warning, "
        f"{len(limits)} checked.</p>",
        _table(
            sorted(limits, key=lambda r: -r.get("utilisation", 0.0))[:40],
            ["limit_id", "scope", "member", "type", "value", "hard", "utilisation", "status"],
        ),
        "<h2>Automatic actions during the day</h2>",
        _table(figures.get("actions", []), ["ts", "action", "actor", "target", "reason"]),
    ]
    if figures.get("stress"):
        parts += ["<h2>Stress scenarios</h2>", _table(figures["stress"], ["scenario", "pnl"])]
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:"
        "collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:right}th{background:#f3f3f3}h2{margin-top:1.5em}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Risk report "
        f"{html.escape(str(figures['as_of']))}</title><style>{style}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>{''.join(parts)}</body></html>"
    )


def print_pdf(html_path: Path, pdf_path: Path, chromium: str | None = None) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium."""
    binary = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise ConfigError("PDF output needs Chromium (apt-get install chromium)")
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf_path}",
                html_path.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return pdf_path
