// Portfolio construction and hedging panel: POST /api/v1/portfolio/optimise and /hedge on
// the served book; draws the efficient frontier (with the book before and after), weights
// before/after, risk contributions (Euler, before/after) and the proposed trades with the
// limits' pre-trade gate verdict. Uses dashboard.js's api(), layout(), CONFIG and $().
"use strict";

const pc = { busy: false };
const TOP_WEIGHTS = 25;  // the largest positions, when the sleeve holds more

function pcStatus(text) { $("pc-status").textContent = text; }

function pcTrades(out) {
  // refused first: the gate's verdict shows without scrolling
  const rows = [...out.refused.map((t) => ({ ...t, gate: `refused by ${t.refused_by}` })),
    ...out.accepted.map((t) => ({ ...t, gate: "accepted" }))];
  $("pc-trades").tBodies[0].replaceChildren(...rows.map((t) => {
    const tr = document.createElement("tr");
    tr.className = t.gate === "accepted" ? "accepted" : "refused";
    tr.title = t.reason || "";
    for (const v of [t.symbol, t.purpose, t.quantity.toLocaleString(), money(t.value),
      money(t.expected_cost), t.gate]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    return tr;
  }));
}

function pcBars(id, labels, before, after, title) {
  Plotly.react(id, [
    { type: "bar", name: "before", x: labels, y: before, marker: { color: "#8093a7" } },
    { type: "bar", name: "after", x: labels, y: after, marker: { color: "#4fa3ff" } },
  ], layout({ barmode: "group", margin: { l: 50, r: 10, t: 24, b: 80 },
    title: { text: title, font: { size: 12 } } }), CONFIG);
}

async function pcOptimise() {
  if (pc.busy) return;
  pc.busy = true; pcStatus("optimising…");
  try {
    const out = await api("/api/v1/portfolio/optimise",
      { objective: $("pc-objective").value, book: { risk: false } });
    const f = out.frontier || { returns: [], volatilities: [] };
    Plotly.react("chart-frontier", [
      { type: "scatter", mode: "lines", name: "efficient frontier", x: f.volatilities, y: f.returns },
      { type: "scatter", mode: "markers", name: "before", marker: { size: 10, color: "#8093a7" },
        x: [out.before.volatility], y: [out.before.expected_return] },
      { type: "scatter", mode: "markers", name: "after", marker: { size: 10, color: "#2fbf71" },
        x: [out.after.volatility], y: [out.after.expected_return] },
    ], layout({ margin: { l: 50, r: 10, t: 24, b: 40 }, title: { text: "frontier (vol, return)", font: { size: 12 } } }), CONFIG);
    const names = Object.keys(out.weights_after)
      .sort((a, b) => Math.abs(out.weights_after[b]) - Math.abs(out.weights_after[a])).slice(0, TOP_WEIGHTS);
    pcBars("chart-weights", names, names.map((n) => out.weights_before[n]),
      names.map((n) => out.weights_after[n]), "weights");
    pcBars("chart-rc", names, names.map((n) => out.risk_contributions_before[n]),
      names.map((n) => out.risk_contributions_after[n]), "risk contributions (vol)");
    pcTrades(out);
    pcStatus(`${out.trades.length} trades, cost ${money(out.expected_cost)}, ` +
      `${out.improvement.metric} ${out.improvement.gross >= 0 ? "+" : ""}${out.improvement.gross.toFixed(3)} gross, ` +
      `${out.improvement.net.toFixed(3)} net; ${out.refused.length} refused`);
  } catch (e) {
    pcStatus(`optimise failed: ${e.message}`);
  } finally { pc.busy = false; }
}

async function pcHedge() {
  if (pc.busy) return;
  pc.busy = true; pcStatus("proposing hedges…");
  try {
    const out = await api("/api/v1/portfolio/hedge", { book: { risk: true } });
    const steps = out.risk.map((r) => r.step);
    Plotly.react("chart-frontier", [
      { type: "bar", name: "VaR", x: steps, y: out.risk.map((r) => r.var), marker: { color: "#4fa3ff" } },
      { type: "bar", name: "ES", x: steps, y: out.risk.map((r) => r.es), marker: { color: "#ef4e4e" } },
    ], layout({ barmode: "group", margin: { l: 60, r: 10, t: 24, b: 60 }, title: { text: "VaR / ES after each hedge", font: { size: 12 } } }), CONFIG);
    const first = out.risk[0].component_es_by_asset_class;
    const last = out.risk.at(-1).component_es_by_asset_class;
    const classes = [...new Set([...Object.keys(first), ...Object.keys(last)])];
    pcBars("chart-rc", classes, classes.map((c) => first[c] || 0), classes.map((c) => last[c] || 0),
      "ES contributions by asset class");
    const hedges = Object.keys(out.trades);
    const value = (h) => out.trades[h].reduce((s, t) => s + Math.abs(t.value), 0);
    Plotly.react("chart-weights", [{ type: "bar", x: hedges, y: hedges.map(value), marker: { color: "#f0b429" } }],
      layout({ margin: { l: 60, r: 10, t: 24, b: 40 }, title: { text: "hedge notional traded", font: { size: 12 } } }), CONFIG);
    pcTrades(out);
    pcStatus(`${out.accepted.length + out.refused.length} hedge trades, cost ${money(out.expected_cost)}; ` +
      `VaR ${money(out.risk[0].var)} → ${money(out.risk.at(-1).var)}; ${out.refused.length} refused`);
  } catch (e) {
    pcStatus(`hedge failed: ${e.message}`);
  } finally { pc.busy = false; }
}

$("pc-optimise").addEventListener("click", pcOptimise);
$("pc-hedge").addEventListener("click", pcHedge);
