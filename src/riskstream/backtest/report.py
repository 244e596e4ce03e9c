"""The validation report: the document a model validator signs off.

One self-contained HTML file (plotly.js is inlined once, so it opens offline and can be
archived with the validation evidence) with a summary table comparing the models and, per
model, a section with:

- **VaR vs P&L**: the realised P&L, the -VaR and -ES forecasts, exceptions marked;
- **exception counts**: the rolling 250-day exception count against the traffic-light
  zone boundaries;
- **traffic light**: the binomial distribution of the exception count under a correct model,
  coloured by zone, with the observed count;
- the test table (Kupiec, Christoffersen, duration, Acerbi-Székely, losses) and alerts;

and, when given, a **P&L attribution** section (daily P&L by factor, RTPL vs HPL with the
FRTB PLA zone). The same figures are written as plotly JSON (:func:`report_figures`), so a
dashboard or a notebook can show exactly what the validator saw.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from scipy import stats

from riskstream.backtest.attribution import PnLAttribution
from riskstream.backtest.losses import ModelConfidenceSet
from riskstream.backtest.traffic_light import zone_boundaries
from riskstream.backtest.validation import ForecastRun, ModelValidation

ZONE_COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "amber": "#f9a825", "red": "#c62828"}
ROLLING_DAYS = 250


def _dates(run: ForecastRun) -> list[str]:
    return [str(d)[:10] for d in run.dates]


def figure_pnl_vs_var(run: ForecastRun) -> go.Figure:
    """Realised P&L against -VaR and -ES, with exceptions marked."""
    dates = _dates(run)
    hits = run.hits.astype(bool)
    fig = go.Figure()
    fig.add_scatter(x=dates, y=run.pnl, mode="lines", name="P&L", line={"width": 1})
    fig.add_scatter(x=dates, y=-run.var, mode="lines", name=f"-VaR {run.confidence:.1%}")
    fig.add_scatter(x=dates, y=-run.es, mode="lines", name="-ES", line={"dash": "dot", "width": 1})
    fig.add_scatter(
        x=[d for d, h in zip(dates, hits, strict=True) if h],
        y=run.pnl[hits],
        mode="markers",
        name=f"exceptions ({int(hits.sum())})",
        marker={"color": ZONE_COLOURS["red"], "symbol": "x", "size": 8},
    )
    fig.update_layout(title=f"{run.model}: P&L vs VaR", yaxis_title="return", height=420)
    return fig


def figure_exception_counts(run: ForecastRun) -> go.Figure:
    """Rolling 250-day exception count against the traffic-light boundaries."""
    window = min(ROLLING_DAYS, run.pnl.size)
    counts = np.convolve(run.hits, np.ones(window, dtype=int), mode="valid")
    dates = _dates(run)[window - 1 :]
    yellow, red = zone_boundaries(window, run.confidence)
    top = max(int(counts.max(initial=0)), red) + 2
    fig = go.Figure()
    for low, high, zone in ((0, yellow, "green"), (yellow, red, "yellow"), (red, top, "red")):
        fig.add_hrect(
            y0=low - 0.5, y1=high - 0.5, fillcolor=ZONE_COLOURS[zone], opacity=0.15, line_width=0
        )
    fig.add_scatter(x=dates, y=counts, mode="lines", name=f"exceptions in {window} days")
    fig.update_layout(
        title=f"{run.model}: rolling {window}-day exceptions (zones: yellow from {yellow}, "
        f"red from {red})",
        yaxis={"title": "exceptions", "range": [-0.5, top]},
        height=320,
    )
    return fig


def figure_traffic_light(run: ForecastRun, validation: ModelValidation) -> go.Figure:
    """Binomial distribution of the exception count under H0, coloured by zone."""
    n = validation.backtest.observations
    observed = validation.backtest.exceptions
    p = 1.0 - run.confidence
    yellow, red = zone_boundaries(n, run.confidence)
    upper = max(observed, red) + 3
    k = np.arange(upper + 1)
    colours = [ZONE_COLOURS["green" if x < yellow else "yellow" if x < red else "red"] for x in k]
    fig = go.Figure()
    fig.add_bar(x=k, y=stats.binom.pmf(k, n, p), marker_color=colours, name="P(X = k | H0)")
    fig.add_vline(x=observed, line_dash="dash", annotation_text=f"observed {observed}")
    light = validation.backtest.traffic_light
    fig.update_layout(
        title=f"{run.model}: traffic light {light.zone.upper()} (plus factor "
        f"{light.plus_factor:.2f}, cumulative probability {light.cumulative_probability:.2%})",
        xaxis_title="exceptions",
        yaxis_title="probability",
        height=320,
        showlegend=False,
    )
    return fig


def figure_attribution(attribution: PnLAttribution) -> go.Figure:
    """Daily P&L by factor (stacked) with the full-revaluation total."""
    dates = [str(d)[:10] for d in attribution.dates]
    fig = go.Figure()
    for name, values in attribution.components.items():
        fig.add_bar(x=dates, y=values, name=name)
    fig.add_scatter(x=dates, y=attribution.hpl, mode="lines", name="HPL (full revaluation)")
    fig.update_layout(barmode="relative", title="P&L attribution by risk factor", height=420)
    return fig


def figure_pla(attribution: PnLAttribution) -> go.Figure:
    """RTPL against HPL with the FRTB P&L attribution test result."""
    pla = attribution.pla
    fig = go.Figure()
    fig.add_scatter(
        x=attribution.hpl,
        y=attribution.rtpl,
        mode="markers",
        marker={"color": ZONE_COLOURS[pla.zone], "size": 5},
        name="days",
    )
    fig.update_layout(
        title=f"PLA test {pla.zone.upper()}: Spearman {pla.spearman:.3f}, KS {pla.ks:.3f}",
        xaxis_title="hypothetical P&L",
        yaxis_title="risk-theoretical P&L",
        height=380,
    )
    return fig


def report_figures(
    results: Sequence[tuple[ForecastRun, ModelValidation]],
    attribution: PnLAttribution | None = None,
) -> dict[str, dict[str, go.Figure]]:
    """Every figure of the report, by section (model name or ``"attribution"``)."""
    figures: dict[str, dict[str, go.Figure]] = {}
    for run, validation in results:
        figures[run.model] = {
            "pnl_vs_var": figure_pnl_vs_var(run),
            "exception_counts": figure_exception_counts(run),
            "traffic_light": figure_traffic_light(run, validation),
        }
    if attribution is not None:
        figures["attribution"] = {
            "pnl_attribution": figure_attribution(attribution),
            "pla": figure_pla(attribution),
        }
    return figures


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _test_rows(validation: ModelValidation) -> list[tuple[str, str, str]]:
    b = validation.backtest
    rows = [
        ("Kupiec POF", b.kupiec.lr, b.kupiec.p_value),
        ("Christoffersen independence", b.christoffersen_ind.lr, b.christoffersen_ind.p_value),
        ("Christoffersen cond. coverage", b.christoffersen_cc.lr, b.christoffersen_cc.p_value),
        ("Duration (discrete Weibull)", b.duration.lr, b.duration.p_value),
        ("Acerbi-Székely Z1", validation.es_test.z1.z, validation.es_test.z1.p_value),
        ("Acerbi-Székely Z2", validation.es_test.z2.z, validation.es_test.z2.p_value),
    ]
    return [(name, _fmt(float(s)), _fmt(float(p))) for name, s, p in rows]


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.zone{color:#fff;padding:2px 8px;border-radius:4px}section{border-top:2px solid #333;
margin-top:2em}
"""


def render_html(
    results: Sequence[tuple[ForecastRun, ModelValidation]],
    *,
    title: str,
    mcs: ModelConfidenceSet | None = None,
    attribution: PnLAttribution | None = None,
) -> str:
    """The report as one self-contained HTML document (plotly.js inlined)."""
    from plotly.offline import get_plotlyjs

    figures = report_figures(results, attribution)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2><table><tr><th>model</th><th>days</th><th>exceptions</th>"
        "<th>rate</th><th>expected</th><th>traffic light</th><th>plus factor</th>"
        "<th>Kupiec p</th><th>CC p</th><th>Z2 p</th><th>FZ0 loss</th><th>in MCS</th></tr>",
    ]
    for run, v in results:
        b = v.backtest
        zone = b.traffic_light.zone
        in_mcs = "n/a" if mcs is None else ("yes" if run.model in mcs.included else "no")
        parts.append(
            f"<tr><td>{html.escape(run.model)}</td><td>{b.observations}</td>"
            f"<td>{b.exceptions}</td><td>{b.exceptions / b.observations:.2%}</td>"
            f"<td>{1 - run.confidence:.2%}</td><td><span class='zone' style='background:"
            f"{ZONE_COLOURS[zone]}'>{zone}</span></td><td>{b.traffic_light.plus_factor:.2f}"
            f"</td><td>{_fmt(b.kupiec.p_value)}</td><td>{_fmt(b.christoffersen_cc.p_value)}"
            f"</td><td>{_fmt(v.es_test.z2.p_value)}</td><td>{_fmt(v.fz0_loss)}</td>"
            f"<td>{in_mcs}</td></tr>"
        )
    parts.append("</table>")
    if mcs is not None:
        parts.append(
            "<p>Model confidence set (Hansen, Lunde &amp; Nason 2011, 90%, FZ0 loss): "
            f"{html.escape(', '.join(mcs.included))}.</p>"
        )
    for run, v in results:
        parts.append(f"<section><h2>Model {html.escape(run.model)}</h2><table>")
        parts.append("<tr><th>test</th><th>statistic</th><th>p-value</th></tr>")
        parts.extend(f"<tr><td>{n}</td><td>{s}</td><td>{p}</td></tr>" for n, s, p in _test_rows(v))
        parts.append(
            f"</table><p>Quantile loss {_fmt(v.quantile_loss)}, FZ0 loss {_fmt(v.fz0_loss)}, "
            f"walk-forward {v.fit_seconds:.1f} s.</p>"
        )
        alerts = v.drift.alerts
        if alerts:
            parts.append("<h3>Monitoring alerts</h3><ul>")
            parts.extend(
                f"<li><b>{a.severity}</b> {html.escape(a.monitor)}: {html.escape(a.message)}</li>"
                for a in alerts
            )
            parts.append("</ul>")
        for fig in figures[run.model].values():
            parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
        parts.append("</section>")
    if attribution is not None:
        totals = attribution.summary()
        parts.append("<section><h2>P&amp;L attribution</h2><table><tr><th>component</th>")
        parts.append("<th>total P&amp;L</th></tr>")
        parts.extend(f"<tr><td>{k}</td><td>{_fmt(val)}</td></tr>" for k, val in totals.items())
        parts.append("</table>")
        for fig in figures["attribution"].values():
            parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def figures_json(figures: dict[str, dict[str, go.Figure]]) -> dict[str, dict[str, Any]]:
    """The figures as plotly JSON specifications (``{"data": ..., "layout": ...}``)."""
    return {
        section: {name: json.loads(fig.to_json()) for name, fig in figs.items()}
        for section, figs in figures.items()
    }


def write_report(
    path: str | Path,
    results: Sequence[tuple[ForecastRun, ModelValidation]],
    *,
    title: str,
    mcs: ModelConfidenceSet | None = None,
    attribution: PnLAttribution | None = None,
    per_model: bool = False,
) -> tuple[Path, Path]:
    """Write the HTML report to ``path`` and its figures to ``<stem>.figures.json``.

    With ``per_model=True`` each model also gets its own self-contained report,
    ``<stem>.<model>.html`` (with the attribution section when given), the document a
    validator signs for that model alone. Returns the combined report's and the figures'
    paths.
    """
    html_path = Path(path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(
        render_html(results, title=title, mcs=mcs, attribution=attribution), encoding="utf-8"
    )
    if per_model:
        for run, validation in results:
            html_path.with_name(f"{html_path.stem}.{run.model}.html").write_text(
                render_html(
                    [(run, validation)],
                    title=f"{title}: {run.model}",
                    mcs=mcs,
                    attribution=attribution,
                ),
                encoding="utf-8",
            )
    json_path = html_path.with_name(html_path.stem + ".figures.json")
    json_path.write_text(
        json.dumps(figures_json(report_figures(results, attribution))), encoding="utf-8"
    )
    return html_path, json_path
