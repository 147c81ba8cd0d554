// The gateway dashboard: fetches /v1/dashboard/stats every 10 s and draws it as inline SVG.
// The admin key (when the gateway asks for one) lives in this tab's sessionStorage and is only ever
// sent as an Authorization header to this origin. Every text from the server is set with textContent.
"use strict";

const KEY_SLOT = "alignkit-gateway-admin-key";
const REFRESH_MS = 10000;
const SVG = "http://www.w3.org/2000/svg";
const COLORS = { requests: "#2f6fb0", blocked: "#c0392b", escalated: "#d68910", p50: "#1e8449", p99: "#7d3c98", flagged: "#e6b0aa" };
const $ = (sel) => document.querySelector(sel);
let timer = null;

function storedKey() {
  try { return sessionStorage.getItem(KEY_SLOT); } catch (e) { return null; }
}

function setStatus(text) { $("#status").textContent = text || ""; }

function showLogin(message) {
  if (timer) clearInterval(timer);
  timer = null;
  $("#board").hidden = true;
  $("#login").hidden = false;
  $("#logout").hidden = true;
  setStatus(message);
  $("#key").focus();
}

async function load() {
  const key = storedKey();
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = "Bearer " + key;
  let response;
  try {
    response = await fetch("/v1/dashboard/stats?window=" + encodeURIComponent($("#window").value), {
      headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
  } catch (e) {
    setStatus("The gateway does not answer; retrying.");
    return;
  }
  if (response.status === 401 || response.status === 403) {
    try { sessionStorage.removeItem(KEY_SLOT); } catch (e) { /* storage disabled */ }
    const body = await response.json().catch(() => ({}));
    const why = (body.error && body.error.message) || "this key cannot read the dashboard";
    showLogin(key ? "Key refused: " + why : "");
    return;
  }
  if (!response.ok) {
    setStatus("The gateway answered " + response.status + "; retrying.");
    return;
  }
  const stats = await response.json();
  $("#login").hidden = true;
  $("#board").hidden = false;
  $("#logout").hidden = !key;
  setStatus("");
  render(stats);
}

function el(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function clock(t, withDay) {
  const d = new Date(t * 1000);
  const hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  return withDay ? d.toLocaleDateString(undefined, { weekday: "short" }) + " " + hm : hm;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = Math.pow(10, Math.floor(Math.log10(value)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function format(v) {
  if (v === null || v === undefined) return "–";
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1);
}

// A line chart: t (unix seconds), series [{name, values, color}], unit for the y axis.
function lineChart(box, t, series, unit, withDay) {
  const W = 560, H = 220, L = 48, R = 12, T = 24, B = 28;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": series.map((s) => s.name).join(", ") });
  const all = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  const top = niceMax(Math.max(0, ...all));
  const x = (i) => L + (t.length < 2 ? 0 : (i * (W - L - R)) / (t.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg.append(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e9ed" }));
    svg.append(el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)));
  }
  svg.append(el("text", { x: 4, y: 12 }, unit));
  if (t.length) {
    const ticks = [[0, "start"], [Math.floor((t.length - 1) / 2), "middle"], [t.length - 1, "end"]];
    for (const [i, anchor] of ticks) svg.append(el("text", { x: x(i), y: H - 8, "text-anchor": anchor }, clock(t[i], withDay)));
  }
  series.forEach((s, n) => {
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += (d && s.values[i - 1] !== null && s.values[i - 1] !== undefined ? " L" : " M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      const dot = el("circle", { cx: x(i), cy: y(v), r: 2.2, fill: s.color, "data-series": s.name });
      dot.append(el("title", {}, `${s.name} ${clock(t[i], withDay)}: ${format(v)}`));
      svg.append(dot);
    });
    if (d) svg.append(el("path", { d: d.trim(), fill: "none", stroke: s.color, "stroke-width": 1.8, "data-series": s.name }));
    const lx = L + 40 + n * 110;
    svg.append(el("rect", { x: lx, y: 6, width: 10, height: 10, fill: s.color }));
    svg.append(el("text", { x: lx + 14, y: 15 }, s.name));
  });
  if (!all.length) svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "no data in this window"));
  box.replaceChildren(svg);
}

// Horizontal bars per validator: flagged (light) behind blocked (dark).
function barChart(box, rows) {
  const W = 560, L = 150, R = 50, row = 24;
  const H = Math.max(60, 16 + rows.length * row);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "blocks by validator" });
  const top = niceMax(Math.max(0, ...rows.map((r) => r.flagged)));
  const w = (v) => ((W - L - R) * v) / top;
  rows.forEach((r, i) => {
    const y = 8 + i * row;
    const g = el("g", { class: "bar", "data-validator": r.validator });
    g.append(el("text", { x: L - 8, y: y + 14, "text-anchor": "end" }, r.validator));
    g.append(el("rect", { x: L, y, width: w(r.flagged), height: row - 8, fill: COLORS.flagged }));
    g.append(el("rect", { x: L, y, width: w(r.blocked), height: row - 8, fill: COLORS.blocked }));
    g.append(el("text", { x: L + w(r.flagged) + 6, y: y + 14 }, `${r.blocked} / ${r.flagged}`));
    g.append(el("title", {}, `${r.validator}: ${r.blocked} blocked of ${r.flagged} flagged`));
    svg.append(g);
  });
  if (!rows.length) svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "nothing flagged in this window"));
  box.replaceChildren(svg);
}

function tiles(stats) {
  const items = [
    ["requests", stats.totals.requests, false],
    ["blocked", stats.totals.blocked, stats.totals.blocked > 0],
    ["escalated", stats.totals.escalated, false],
    ["p50 latency (ms)", stats.latency.p50_ms, false],
    ["p99 latency (ms)", stats.latency.p99_ms, false],
    ["reviews pending", stats.reviews.pending, stats.reviews.overdue > 0],
    ["reviews overdue", stats.reviews.overdue, stats.reviews.overdue > 0],
    ["open incidents", stats.incidents.open, stats.incidents.open > 0],
  ];
  $("#tiles").replaceChildren(...items.map(([name, value, alert]) => {
    const div = document.createElement("div");
    div.className = "tile" + (alert ? " alert" : "");
    div.dataset.name = name;
    const v = document.createElement("div");
    v.className = "value";
    v.textContent = format(value);
    const n = document.createElement("div");
    n.className = "name";
    n.textContent = name;
    div.append(v, n);
    return div;
  }));
}

function incidents(stats) {
  const rows = stats.incidents.items.map((inc) => {
    const tr = document.createElement("tr");
    const cells = [clock(inc.opened, true), inc.severity, inc.trigger, inc.title, inc.status, inc.owner || ""];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 1) td.className = String(inc.severity);
      tr.append(td);
    });
    return tr;
  });
  $("#incidents tbody").replaceChildren(...rows);
  $("#no-incidents").hidden = rows.length > 0;
}

function render(stats) {
  const s = stats.series, day = stats.window === "day";
  tiles(stats);
  lineChart($("#chart-traffic"), s.t, [
    { name: "requests", values: s.requests, color: COLORS.requests },
    { name: "blocked", values: s.blocked, color: COLORS.blocked },
    { name: "escalated", values: s.escalated, color: COLORS.escalated },
  ], "per " + (stats.bucket_s >= 3600 ? stats.bucket_s / 3600 + " h" : stats.bucket_s / 60 + " min"), day);
  lineChart($("#chart-latency"), s.t, [
    { name: "p50", values: s.p50_ms, color: COLORS.p50 },
    { name: "p99", values: s.p99_ms, color: COLORS.p99 },
  ], "ms", day);
  barChart($("#chart-validators"), stats.validators);
  incidents(stats);
  $("#updated").textContent = "updated " + clock(stats.now, false);
}

function start() {
  if (timer) clearInterval(timer);
  load();
  timer = setInterval(load, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("#key").value.trim();
    $("#key").value = "";
    if (!key) return;
    try { sessionStorage.setItem(KEY_SLOT, key); } catch (e) { setStatus("This browser blocks sessionStorage; the key cannot be kept."); return; }
    start();
  });
  $("#logout").addEventListener("click", () => {
    try { sessionStorage.removeItem(KEY_SLOT); } catch (e) { /* storage disabled */ }
    showLogin("");
  });
  $("#window").addEventListener("change", start);
  start();
});
