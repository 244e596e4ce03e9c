// Riskstream live dashboard: one WebSocket for snapshots and alerts, REST for drill-down.
// The API key lives in sessionStorage (this tab only) and is sent as the first WebSocket
// message and in the X-API-Key header — never in a URL.
"use strict";

const KEY = "riskstream.apiKey";
const MAX_POINTS = 600;
// The limits package's scopes and limit types, in its order (heatmap rows and columns).
const SCOPES = ["firm", "desk", "strategy", "trader", "instrument", "asset_class"];
const LIMIT_TYPES = ["var", "es", "lvar", "gross_notional", "net_notional", "position_size",
  "delta", "gamma", "vega", "concentration", "drawdown", "liquidation_days", "stress_loss"];
const MAX_HEAT_ROWS = 20;  // the most used scopes, when there are more
const ROLES = ["viewer", "analyst", "compliance", "risk_manager", "admin"];
// A fresh layout object per call: Plotly writes into layouts (axis types, ranges), so
// charts must never share one.
const layout = (extra) => ({
  paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  font: { color: "#d8e1ea", size: 11 }, margin: { l: 60, r: 50, t: 10, b: 35 },
  xaxis: { gridcolor: "#263445" }, yaxis: { gridcolor: "#263445" },
  legend: { orientation: "h", y: 1.12 }, ...extra,
});
const CONFIG = { displayModeBar: false, responsive: true };

const $ = (id) => document.getElementById(id);
const state = { key: null, ws: null, series: { t: [], var: [], es: [], lvar: [], pnl: [] },
  regimes: { t: [], p: {} }, count: 0, drill: { by: "desk", filters: {} }, lastDrill: 0,
  drillSeq: 0, alerts: 0, retry: null, role: null, switches: null };

const money = (x) => (x === null || x === undefined || Number.isNaN(x)) ? "—" :
  (Math.abs(x) >= 1e6 ? (x / 1e6).toFixed(2) + "M" : Math.abs(x) >= 1e3 ? (x / 1e3).toFixed(1) + "k" : x.toFixed(0));
const toDate = (ns) => new Date(ns / 1e6);

async function api(path, body) {
  const init = { headers: { "X-API-Key": state.key } };
  if (body !== undefined) {
    init.method = "POST"; init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    const err = new Error(body.detail || res.statusText);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

function showLogin(message) {
  $("login").hidden = false; $("dash").hidden = true; $("logout").hidden = true;
  $("login-error").textContent = message || "";
}

async function signIn(key) {
  state.key = key;
  try {
    const me = await api("/api/v1/whoami");
    sessionStorage.setItem(KEY, key);
    state.role = me.role;
    $("who").textContent = `${me.name} · ${me.role}`;
    $("login").hidden = true; $("dash").hidden = false; $("logout").hidden = false;
    initCharts();
    refreshLimits();
    if (ROLES.indexOf(state.role) >= ROLES.indexOf("analyst")) refreshStress();
    else $("stress-card").hidden = true;  // stress results need the analyst role
    refreshCapital();
    refreshSurveillance();
    connect();
  } catch (e) {
    sessionStorage.removeItem(KEY);
    showLogin(e.status === 401 ? "That key is not valid." : "Cannot reach the service.");
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/stream`);
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", api_key: state.key }));
  ws.onmessage = (ev) => handle(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    setStatus("offline", "offline");
    if (ev.code === 4401) { showLogin("The key was rejected."); return; }
    clearTimeout(state.retry);
    state.retry = setTimeout(connect, 1000);
  };
}

function setStatus(cls, text) { const s = $("status"); s.className = "status " + cls; s.textContent = text; }

function handle(msg) {
  switch (msg.type) {
    case "history": msg.items.forEach((r) => addPoint(r)); render(msg.items[msg.items.length - 1]); break;
    case "snapshot": addPoint(msg); render(msg); break;
    case "alert": addAlert(msg); break;
    case "heartbeat":
      if (msg.age_s === null) setStatus("stale", "waiting for risk");
      else setStatus(msg.stale ? "stale" : "live", msg.stale ? `stale ${msg.age_s.toFixed(0)}s` : "live");
      break;
    default: break;
  }
}

function addPoint(r) {
  const s = state.series, t = toDate(r.ts_ns);
  s.t.push(t); s.var.push(r.var); s.es.push(r.es); s.lvar.push(r.lvar); s.pnl.push(r.pnl);
  for (const k of Object.keys(s)) if (s[k].length > MAX_POINTS) s[k].shift();
  if (r.regime_probabilities) {
    const g = state.regimes; g.t.push(t);
    for (const [name, p] of Object.entries(r.regime_probabilities)) {
      if (!g.p[name]) g.p[name] = new Array(g.t.length - 1).fill(null);
      g.p[name].push(p);
    }
    for (const k of Object.keys(g.p)) { while (g.p[k].length < g.t.length) g.p[k].push(null);
      if (g.p[k].length > MAX_POINTS) g.p[k].shift(); }
    if (g.t.length > MAX_POINTS) g.t.shift();
  }
  state.count += 1;
}

function initCharts() {
  Plotly.newPlot("chart-risk", [], layout({
    yaxis2: { overlaying: "y", side: "right", gridcolor: "rgba(0,0,0,0)", title: "P&L" } }), CONFIG);
  Plotly.newPlot("chart-regime", [], layout({ yaxis: { range: [0, 1], gridcolor: "#263445" } }), CONFIG);
  Plotly.newPlot("chart-heatmap", [], layout({ margin: { l: 130, r: 10, t: 10, b: 40 } }), CONFIG);
  Plotly.newPlot("chart-drill", [], layout({ barmode: "group", margin: { l: 60, r: 10, t: 10, b: 90 } }), CONFIG);
  $("chart-drill").on("plotly_click", (ev) => drillInto(ev.points[0].x));
}

function render(r) {
  if (!r) return;
  const s = state.series;
  const head = (r.measures && r.measures[0]) || {};
  const label = head.confidence ? `${(head.confidence * 100).toFixed(1)}% ${head.horizon_days}d` : "";
  $("l-var").textContent = `VaR ${label}`; $("l-es").textContent = `ES ${label}`;
  $("l-lvar").textContent = `L-VaR ${label}`;
  $("t-var").textContent = money(r.var); $("t-es").textContent = money(r.es);
  $("t-lvar").textContent = money(r.lvar);
  const pnl = $("t-pnl"); pnl.textContent = money(r.pnl);
  pnl.className = "big " + (r.pnl < 0 ? "neg" : r.pnl > 0 ? "pos" : "");
  $("t-count").textContent = state.count.toLocaleString();
  $("asof").textContent = "as of " + toDate(r.ts_ns).toISOString().replace("T", " ").slice(0, 23) + " UTC";
  if (r.stale !== undefined) setStatus(r.stale ? "stale" : "live", r.stale ? "stale" : "live");
  const rp = r.regime_probabilities;
  if (rp) { const best = Object.entries(rp).sort((a, b) => b[1] - a[1])[0];
    $("t-regime").textContent = `${best[0]} ${(best[1] * 100).toFixed(0)}%`; }
  const pl = r.pipeline;  // end-to-end latency per event, from the stages' histograms
  if (pl) {
    const us = (v) => (v === null || v === undefined ? "—" : v >= 1000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(0)} µs`);
    const ms = (v) => (v === null || v === undefined ? "—" : `${v.toFixed(v < 10 ? 1 : 0)} ms`);
    $("t-latency").textContent =
      `${us(pl.tick_to_book_p50_us)} / ${us(pl.tick_to_book_p99_us)} · ${ms(pl.tick_to_risk_p50_ms)} / ${ms(pl.tick_to_risk_p99_ms)}`;
    const rate = pl.events_per_s ? `${Math.round(pl.events_per_s).toLocaleString()} events/s` : "";
    const lag = pl.feed_lag_p99_ms ? ` · feed lag p99 ${ms(pl.feed_lag_p99_ms)}` : "";
    $("t-flow").textContent = rate + lag;
  }
  const rc = r.regime_conditioning;  // the regime the risk figures are conditioned on
  $("l-regime").textContent = rc
    ? `Regime · risk on ${rc.regime} (vol ×${rc.vol_multiplier.toFixed(2)})` : "Regime";

  // Plotly.react redraws only what changed by reference: hand it fresh arrays each time.
  const t = s.t.slice();
  Plotly.react("chart-risk", [
    { x: t, y: s.var.slice(), name: "VaR", mode: "lines", line: { color: "#4fa3ff" } },
    { x: t, y: s.es.slice(), name: "ES", mode: "lines", line: { color: "#a78bfa" } },
    { x: t, y: s.lvar.slice(), name: "L-VaR", mode: "lines", line: { color: "#f0b429" } },
    { x: t, y: s.pnl.slice(), name: "P&L", mode: "lines", yaxis: "y2", line: { color: "#2fbf71", dash: "dot" } },
  ], layout({ yaxis2: { overlaying: "y", side: "right", gridcolor: "rgba(0,0,0,0)" } }), CONFIG);

  const g = state.regimes;
  const gt = g.t.slice();
  Plotly.react("chart-regime", Object.keys(g.p).map((name) => ({
    x: gt, y: g.p[name].slice(), name, stackgroup: "one", mode: "lines" })),
    layout({ yaxis: { range: [0, 1], gridcolor: "#263445" } }), CONFIG);

  if (r.utilisation) renderHeatmap(r.utilisation, r.limits_available);
  if (r.kill_switches) renderSwitches(r.kill_switches);
  const now = Date.now();
  if (now - state.lastDrill > 2000) { state.lastDrill = now; refreshDrill(); }
}

// Limits: the limits stage's figures as the service publishes them (REST at sign-in and
// after a kill-switch action, then with every snapshot on the stream).
async function refreshLimits() {
  try {
    const d = await api("/api/v1/limits");
    renderHeatmap(d.utilisation, d.available); renderSwitches(d.kill_switches);
  } catch (e) { $("heat-note").textContent = e.message; }
}

const scopeLabel = (r) => r.scope === "firm" ? "firm" : `${r.scope}:${r.key}`;
const amount = (type, x) => x === null || x === undefined ? "n/a" :
  type === "concentration" ? (x * 100).toFixed(1) + "%" :
  type === "liquidation_days" ? x.toFixed(2) + " d" : money(x);

function renderHeatmap(rows, available) {
  const types = LIMIT_TYPES.filter((t) => rows.some((r) => r.limit_type === t));
  const scopes = new Map();
  for (const r of rows) {
    const label = scopeLabel(r);
    if (!scopes.has(label)) scopes.set(label, { scope: r.scope, top: -1, cells: {} });
    const s = scopes.get(label); s.cells[r.limit_type] = r;
    s.top = Math.max(s.top, r.utilisation === null ? -1 : r.utilisation);
  }
  let shown = [...scopes.entries()];
  if (shown.length > MAX_HEAT_ROWS) shown = shown.sort((a, b) => b[1].top - a[1].top).slice(0, MAX_HEAT_ROWS);
  shown.sort((a, b) => SCOPES.indexOf(a[1].scope) - SCOPES.indexOf(b[1].scope) || a[0].localeCompare(b[0]));
  const cell = (s, t, f) => { const c = s.cells[t]; return c ? f(c) : null; };
  const z = shown.map(([, s]) => types.map((t) => cell(s, t, (c) => c.utilisation)));
  // the colour is the utilisation; the text also names the monitor's state (its soft
  // threshold differs per limit, and hysteresis holds a state a band past it)
  const mark = { ok: "", warning: " · warn", breach: " · breach" };
  const text = shown.map(([, s]) => types.map((t) => cell(s, t, (c) =>
    c.utilisation === null ? "n/a" : (c.utilisation * 100).toFixed(0) + "%" + (mark[c.status] || "")) || ""));
  const hover = shown.map(([label, s]) => types.map((t) => cell(s, t, (c) =>
    `${label} ${t}: ${amount(t, c.exposure)} of hard ${amount(t, c.hard)} (soft ${amount(t, c.soft)}) — ${c.status}`) || ""));
  Plotly.react("chart-heatmap", [{ type: "heatmap", x: types, y: shown.map(([label]) => label), z, text,
    customdata: hover, zmin: 0, zmax: 1.2, hovertemplate: "%{customdata}<extra></extra>",
    texttemplate: "%{text}", xgap: 2, ygap: 2,
    colorscale: [[0, "#1d6b45"], [0.55, "#2fbf71"], [0.667, "#f0b429"], [0.833, "#ef4e4e"], [1, "#8b1c1c"]] }],
    layout({ margin: { l: 150, r: 10, t: 10, b: 70 }, yaxis: { autorange: "reversed", gridcolor: "#263445" } }), CONFIG);
  const notes = [];
  if (!available) notes.push("Utilisation not available: no limits stage is publishing; limits as stored in the reference DB.");
  if (scopes.size > shown.length) notes.push(`The ${shown.length} most used of ${scopes.size} scopes.`);
  if (!rows.length) notes.push("No limits in force.");
  $("heat-note").textContent = notes.join(" ");
}

function renderSwitches(rows) {
  const seen = JSON.stringify(rows);
  if (seen === state.switches) return;  // redraw on change only: a button must stay clickable
  state.switches = seen;
  const body = $("switches").tBodies[0];
  const manager = ROLES.indexOf(state.role) >= ROLES.indexOf("risk_manager");
  body.replaceChildren(...rows.map((s) => {
    const tr = document.createElement("tr");
    tr.className = s.state; tr.dataset.scope = s.scope_id; tr.dataset.state = s.state;
    const name = document.createElement("td");
    name.textContent = s.scope_id === "firm:firm" ? "firm (global)" : s.scope_id;
    const st = document.createElement("td"); st.className = "state"; st.textContent = s.state;
    const why = document.createElement("td"); why.className = "why";
    why.textContent = s.trigger ? `${s.trigger} · ${s.actor}: ${s.reason}` : "";
    const act = document.createElement("td");
    if (manager && s.state !== "active") {
      const b = document.createElement("button"); b.className = "ghost release"; b.textContent = "Release";
      b.addEventListener("click", () => release(s.scope_id)); act.append(b);
    }
    tr.append(name, st, why, act);
    return tr;
  }));
}

async function release(scopeId) {
  const reason = window.prompt(`Reason for releasing the ${scopeId} kill switch (audited):`);
  if (!reason) return;
  try {
    await api(`/api/v1/killswitches/${encodeURIComponent(scopeId)}/release`, { reason });
    $("switch-note").textContent = `${scopeId} released.`;
  } catch (e) { $("switch-note").textContent = e.message; }
  refreshLimits();
}

function addAlert(a) {
  const list = $("alerts");
  const empty = list.querySelector(".empty"); if (empty) empty.remove();
  const li = document.createElement("li");
  li.className = a.severity; li.dataset.alertId = a.alert_id; li.dataset.severity = a.severity;
  li.dataset.scope = a.scope_id; li.dataset.limitType = a.limit_type; li.dataset.limitId = a.limit_id;
  const sev = document.createElement("span"); sev.className = "sev"; sev.textContent = a.severity;
  const time = document.createElement("span"); time.className = "time";
  time.textContent = new Date(a.ts_ns / 1e6).toISOString().slice(11, 19);
  li.append(sev, document.createTextNode(a.message), time);
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

async function refreshDrill() {
  const { by, filters } = state.drill;
  const q = new URLSearchParams({ by, ...filters });
  const seq = ++state.drillSeq;  // a slower, older answer must not overwrite a newer one
  try {
    const d = await api("/api/v1/risk/drilldown?" + q.toString());
    if (seq !== state.drillSeq) return;
    const rows = d.rows.slice(0, 30);
    const x = rows.map((r) => String(r[by]));
    Plotly.react("chart-drill", [
      { type: "bar", x, y: rows.map((r) => r.component_var), name: "component VaR", marker: { color: "#4fa3ff" } },
      { type: "bar", x, y: rows.map((r) => r.component_es), name: "component ES", marker: { color: "#a78bfa" } },
    ], layout({ barmode: "group", margin: { l: 60, r: 10, t: 10, b: 90 } }), CONFIG);
    const crumbs = Object.entries(filters).map(([k, v]) => `${k}=${v}`).join(" › ");
    $("crumbs").textContent = crumbs ? "— " + crumbs : "— portfolio";
    $("drill-detail").textContent = by === "instrument" && rows.length ?
      `Largest: ${rows[0].instrument} contributes ${money(rows[0].component_es)} ES, ${money(rows[0].component_var)} VaR.` : "";
  } catch (e) {
    if (seq !== state.drillSeq) return;
    $("drill-detail").textContent = e.status === 403 ? "Drill-down needs the analyst role." :
      e.status === 503 ? "Waiting for the first risk snapshot." : e.message;
  }
}

function drillInto(label) {
  const { by } = state.drill;
  if (by === "instrument") return;
  state.drill = { by, filters: { ...state.drill.filters, [by]: label } };
  const next = { asset_class: "instrument", desk: "trader", strategy: "instrument", trader: "instrument" }[by];
  state.drill.by = next; $("drill-by").value = next; refreshDrill();
}

// Stress panel: the latest stored stress results, polled every refresh_s (5 minutes by
// default; the service recomputes a stale result), and run on demand.
const STRESS_POLL_MS = 300000;
async function refreshStress(force) {
  clearTimeout(state.stressTimer);
  let out = null;
  try {
    out = force ? await api("/api/v1/stress/run", {}) : await api("/api/v1/stress/latest");
    if (!out.configured) { $("stress-note").textContent = "Stress testing is not configured."; return; }
    renderStress(out);
  } catch (e) {
    $("stress-note").textContent = "Stress: " + e.message;
  }
  const every = out && out.refresh_s ? out.refresh_s * 1000 : STRESS_POLL_MS;
  state.stressTimer = setTimeout(() => refreshStress(false), out && out.refreshing ? 5000 : every);
}

function renderStress(out) {
  const r = out.result;
  const body = $("stress-table").querySelector("tbody");
  if (!r) { $("stress-note").textContent = out.refreshing ? "Running…" : "No results yet"; return; }
  const lin = r.lineage || {};
  $("stress-note").textContent = `market ${lin.market_as_of || "?"} · positions v${lin.positions_version ?? "?"}` +
    ` · ${out.refreshing ? "refreshing…" : "updated " + Math.round(out.age_s || 0) + " s ago"}` +
    ` · carry/theta ${r.carry_theta_included ? "in" : "not included"}`;
  body.replaceChildren(...r.scenarios.map((s) => {
    const tr = document.createElement("tr");
    const worst = Object.entries(s.by_desk).sort((a, b) => a[1] - b[1])[0] || ["", 0];
    for (const text of [s.name, s.kind, money(s.pnl), `${worst[0]} ${money(worst[1])}`]) {
      const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
    }
    if (s.pnl < 0) tr.children[2].className = "loss";
    return tr;
  }));
}

$("stress-run").addEventListener("click", () => {
  $("stress-note").textContent = "Running…"; refreshStress(true); });
$("drill-by").addEventListener("change", (e) => { state.drill.by = e.target.value; refreshDrill(); });
$("drill-reset").addEventListener("click", () => {
  state.drill = { by: "desk", filters: {} }; $("drill-by").value = "desk"; refreshDrill(); });
$("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("api-key").value.trim()); });
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY); if (state.ws) state.ws.close(); location.reload(); });

const saved = sessionStorage.getItem(KEY);
if (saved) signIn(saved); else showLogin();

// Regulatory capital (risk managers and up): the FRTB SA figures by desk, stacked by risk
// class, with each desk's DRC and RRAO; the service computes the report on request and
// keeps it a few minutes (/api/v1/frtb/sa/desks).
const CAPITAL_PARTS = ["GIRR", "CSR_NONSEC", "EQ", "COMM", "FX"];
async function refreshCapital() {
  const card = $("capital-card");
  if (!["risk_manager", "admin"].includes(state.role)) { card.hidden = true; return; }
  card.hidden = false;
  $("capital-note").textContent = "Computing the standardised approach…";
  try {
    const d = await api("/api/v1/frtb/sa/desks");
    const desks = d.by_desk.map((r) => r.desk);
    const bars = CAPITAL_PARTS.map((rc) => ({ type: "bar", name: rc, x: desks,
      y: d.by_desk.map((r) => r.by_risk_class[rc] || 0) }));
    bars.push({ type: "bar", name: "DRC", x: desks, y: d.by_desk.map((r) => r.drc) });
    bars.push({ type: "bar", name: "RRAO", x: desks, y: d.by_desk.map((r) => r.rrao) });
    Plotly.react("chart-capital", bars, layout({ barmode: "stack", margin: { l: 60, r: 10, t: 10, b: 80 } }), CONFIG);
    const t = d.total;
    $("capital-note").textContent = `Bank (${d.reporting_currency}, ${d.as_of}): SA capital ${money(t.capital)} = ` +
      `SBM ${money(t.sbm)} (low ${money(t.low)}, medium ${money(t.medium)}, high ${money(t.high)}) + ` +
      `DRC ${money(t.drc)} + RRAO ${money(t.rrao)}. Desks are stand-alone; the bank's figure recognises diversification.`;
  } catch (e) {
    $("capital-note").textContent = e.status === 404 ? "Regulatory capital is not configured on this service." : e.message;
  }
}

// Surveillance (compliance and above): the model inventory and its documentation review.
async function refreshSurveillance() {
  const allowed = ROLES.indexOf(state.role) >= ROLES.indexOf("compliance");
  $("surveillance").hidden = !allowed;
  if (!allowed) return;
  const [models, findings] = await Promise.all([api("/api/v1/models"), api("/api/v1/models/review")]);
  const body = $("models").querySelector("tbody");
  body.replaceChildren(...models.map((m) => {
    const tr = document.createElement("tr");
    tr.dataset.model = m.model_id;
    for (const v of [m.model_id, m.family, m.state, m.validation_date || "—", m.owner]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    return tr;
  }));
  const list = $("model-review");
  list.replaceChildren(...(findings.length ? findings.map((f) => {
    const li = document.createElement("li");
    li.className = f.severity === "error" ? "breach" : "warning";
    li.textContent = `${f.model_id}: ${f.check} — ${f.detail}`;
    return li;
  }) : [Object.assign(document.createElement("li"), { className: "empty", textContent: "No findings" })]));
  const alerts = await api("/api/v1/surveillance/abuse/alerts?limit=20");
  const rows = $("abuse-alerts").querySelector("tbody");
  const px = (v) => (v === null ? "—" : v.toPrecision(6));
  rows.replaceChildren(...(alerts.length ? alerts.map((a) => {
    const tr = document.createElement("tr");
    const when = new Date(a.ts_alert / 1e6).toISOString().slice(11, 23);
    const book = `${px(a.bid_px[0])} × ${a.bid_sz[0] ?? "—"} / ${px(a.ask_px[0])} × ${a.ask_sz[0] ?? "—"}`;
    for (const v of [a.typology, a.participant_id, a.instrument_id, when, a.order_ids, book]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    return tr;
  }) : [Object.assign(document.createElement("tr"), { innerHTML: '<td colspan="6" class="empty">No alerts</td>' })]));
}
