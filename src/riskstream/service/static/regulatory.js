// Regulatory panel: the newest recorded FRTB internal-models capital, its lineage id and
// the run's BCBS 239 data-quality KPIs (GET /api/v1/regulatory/ima, risk_manager and up).
// Uses dashboard.js's `state`, `api`, `money`, `layout`, `CONFIG` and `$`.
"use strict";

const REG_REFRESH_MS = 30000;
let regTimer = null;

async function refreshRegulatory() {
  if (!state.key || $("dash").hidden) return;
  if (ROLES.indexOf(state.role) < ROLES.indexOf("risk_manager")) {
    $("reg-note").textContent = "Regulatory capital needs the risk_manager role.";
    return;
  }
  try {
    const d = await api("/api/v1/regulatory/ima");
    const m = d.multiplier || {};
    const rows = [
      ["capital", money(d.capital)],
      ["CA = max(IMCC + SES, m_c IMCC_avg + SES)", money(d.ca)],
      ["IMCC (t-1) / 60-day average", `${money(d.imcc)} / ${money(d.imcc_avg_60d)}`],
      ["SES (non-modellable)", money(d.ses)],
      ["m_c (backtesting zone)", m.m_c === undefined ? "—" : `${m.m_c.toFixed(2)} (${m.zone}, ${m.exceptions} exceptions)`],
      ["ES 97.5% 10-day / liquidity-adjusted", `${money(d.es_10d_975)} / ${money(d.es_liquidity_adjusted)}`],
      ["stress window", d.stress_window ? `${d.stress_window.start} to ${d.stress_window.end}` : "—"],
      ["desks in scope", d.desks.filter((x) => x.eligible).map((x) => x.desk).join(", ") || "none"],
      ["reconciliation breaks", String(d.reconciliation.reduce((n, r) => n + r.breaks.length, 0))],
      ["lineage", d.lineage_id],
    ];
    const body = $("reg-figures").tBodies[0];
    body.replaceChildren(...rows.map(([k, v]) => {
      const tr = document.createElement("tr");
      const a = document.createElement("td"); a.textContent = k;
      const b = document.createElement("td"); b.textContent = v; b.className = "num";
      tr.append(a, b); return tr;
    }));
    const kpis = ["completeness", "accuracy", "timeliness"];
    Plotly.react("chart-dq", [{ type: "bar", orientation: "h", y: kpis,
      x: kpis.map((k) => d.data_quality[k].kpi), text: kpis.map((k) => (d.data_quality[k].kpi * 100).toFixed(1) + "%"),
      textposition: "auto", marker: { color: "#4fa3ff" } }],
      layout({ xaxis: { range: [0, 1], gridcolor: "#263445" }, margin: { l: 100, r: 10, t: 10, b: 30 } }), CONFIG);
    $("reg-note").textContent = `As of ${d.as_of}, ${d.base_currency}. Re-compute: riskstream lineage show ${d.lineage_id} --verify`;
  } catch (e) {
    $("reg-note").textContent = e.status === 404 ? "No IMA capital recorded yet (riskstream frtb ima)." : e.message;
  }
}

// Start once the dashboard is shown (sign-in), then every REG_REFRESH_MS.
const regWatch = setInterval(() => {
  if (state.key && !$("dash").hidden) {
    clearInterval(regWatch);
    refreshRegulatory();
    regTimer = setInterval(refreshRegulatory, REG_REFRESH_MS);
  }
}, 250);
