"""The stress report: one self-contained HTML file (plotly inlined, no network).

Sections: the run's lineage and conventions (P&L in base currency, negative for a loss;
carry and theta included or not); every scenario's P&L with its breakdown by asset class
and desk, its top losing positions and its factor mapping (counts by method); a bar chart
of the scenarios; the sensitivity heatmaps by desk and by asset class; and the reverse
stress (the most likely scenario losing the target, its Mahalanobis distance and
probability).
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any

from riskstream.stress.book import StressBook
from riskstream.stress.run import StressRun
from riskstream.stress.sensitivity import Ladders, heatmap_figure


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def render_html(
    run: StressRun, ladders: Ladders | None, reverse: dict[str, Any] | None, book: StressBook
) -> str:
    """The report's HTML text."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    esc = html.escape
    carry = "included" if run.carry_theta_included else "not included"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Riskstream stress report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}.loss{color:#b00}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        "<h1>Stress report</h1>",
        f"<p>Book as of {esc(book.as_of.isoformat())}, {book.n_positions} positions, "
        f"base currency {esc(book.base_currency)}. P&amp;L is negative for a loss. Full "
        f"revaluation; carry and theta <b>{carry}</b> (horizon {run.horizon_days} days).</p>",
        "<h2>Lineage</h2><ul>",
    ]
    for k, v in run.lineage.items():
        parts.append(f"<li>{esc(str(k))}: {esc(str(v))}</li>")
    parts.append("</ul>")
    if run.excluded:
        parts.append(f"<p>{len(run.excluded)} position(s) excluded (not revalued):</p><ul>")
        parts.extend(
            f"<li>{esc(str(e.get('symbol')))}: {esc(e['reason'])}</li>" for e in run.excluded[:50]
        )
        parts.append("</ul>")
    names = [r.name for r in run.results]
    fig = go.Figure(go.Bar(x=names, y=[r.pnl for r in run.results]))
    fig.update_layout(title="Scenario P&L (full revaluation)", yaxis_title=book.base_currency)
    parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
    parts.append("<h2>Scenarios</h2><table><tr><th>scenario</th><th>kind</th><th>version</th>")
    parts.append("<th>P&amp;L</th></tr>")
    for r in run.results:
        cls = " class='loss'" if r.pnl < 0 else ""
        parts.append(
            f"<tr><td>{esc(r.name)}</td><td>{esc(r.kind)}</td><td>{esc(r.version)}</td>"
            f"<td{cls}>{_fmt(r.pnl)}</td></tr>"
        )
    parts.append("</table>")
    for r in run.results:
        parts.append(f"<section><h3>{esc(r.name)}</h3><p>{esc(r.description)}</p>")
        parts.append("<table><tr><th>asset class</th><th>P&amp;L</th></tr>")
        parts.extend(
            f"<tr><td>{esc(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in r.by_asset_class.items()
        )
        parts.append("</table><table><tr><th>desk</th><th>P&amp;L</th></tr>")
        parts.extend(f"<tr><td>{esc(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in r.by_desk.items())
        parts.append("</table><table><tr><th>top losing position</th><th>desk</th><th>P&amp;L</th>")
        parts.append("</tr>")
        parts.extend(
            f"<tr><td>{esc(p['symbol'])}</td><td>{esc(p['desk'])}</td><td>{_fmt(p['pnl'])}</td>"
            "</tr>"
            for p in r.top_positions
        )
        methods = Counter(m["method"] for m in r.mapping)
        parts.append("</table><p>Factor mapping: ")
        parts.append(", ".join(f"{esc(k)} {v}" for k, v in methods.most_common()))
        parts.append("</p></section>")
    if ladders is not None:
        parts.append("<h2>Sensitivities</h2>")
        for by in ("desk", "asset_class"):
            parts.append(
                heatmap_figure(ladders, by).to_html(full_html=False, include_plotlyjs=False)
            )
    if reverse is not None:
        parts.append("<h2>Reverse stress</h2>")
        if "error" in reverse:
            parts.append(f"<p>Not computed: {esc(reverse['error'])}</p>")
        else:
            parts.append(
                f"<p>The most likely move losing {_fmt(reverse['loss'])}: Mahalanobis distance "
                f"{reverse['mahalanobis']:.3f}, probability of a loss at least this large "
                f"{reverse['probability']:.3g} ({esc(reverse['method'])}).</p><table>"
                "<tr><th>factor</th><th>move</th></tr>"
            )
            shock = sorted(reverse["shock"].items(), key=lambda kv: -abs(kv[1]))[:25]
            parts.extend(f"<tr><td>{esc(k)}</td><td>{v:+.5g}</td></tr>" for k, v in shock)
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    path: str | Path,
    run: StressRun,
    ladders: Ladders | None,
    reverse: dict[str, Any] | None,
    book: StressBook,
) -> Path:
    """Write the report to ``path`` (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(run, ladders, reverse, book), encoding="utf-8")
    return path
