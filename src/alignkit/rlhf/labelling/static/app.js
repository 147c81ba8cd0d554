// alignkit labelling page. Model outputs are hostile input: every text goes in with textContent,
// never innerHTML, and the server's Content-Security-Policy allows no inline script.
"use strict";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const KEYS = { "1": "left", ArrowLeft: "left", "2": "right", ArrowRight: "right", t: "tie", T: "tie", s: "skip", S: "skip" };
const state = { item: null, busy: false, token: null, sinceStats: 0 };
const $ = (id) => document.getElementById(id);

function readToken() {
  // The token arrives once in the URL fragment (never sent to the server's logs) and stays in this tab.
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem("alignkit-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("alignkit-token");
}

async function api(path, options) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const response = await fetch(path, Object.assign({}, options || {}, { headers }));
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) throw new Error((data && data.detail) || "the server answered HTTP " + response.status);
  return data;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function setButtons(enabled) {
  for (const b of document.querySelectorAll("#buttons button")) b.disabled = !enabled;
}

function annotator() {
  return $("annotator").value.trim();
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = String(text);
  return el;
}

function renderItem(data) {
  state.item = data.item;
  const p = data.progress;
  $("progress").textContent = p ? p.done + " of " + p.total : "";
  $("prompt").replaceChildren();
  $("left").textContent = "";
  $("right").textContent = "";
  $("done").hidden = data.item !== null;
  if (!data.item) {
    setButtons(false);
    return;
  }
  for (const m of data.item.prompt) {
    const box = element("div", "msg");
    box.append(element("div", "role", m.role), element("div", "content", m.content));
    $("prompt").append(box);
  }
  $("left").textContent = data.item.left;
  $("right").textContent = data.item.right;
  setButtons(true);
}

async function loadNext() {
  const name = annotator();
  if (!NAME_RE.test(name)) {
    state.item = null;
    setButtons(false);
    setStatus("Enter your annotator name (letters, digits, . _ @ -; up to 64) to start.", true);
    return;
  }
  localStorage.setItem("alignkit-annotator", name);
  try {
    renderItem(await api("/api/next?annotator=" + encodeURIComponent(name)));
    setStatus("");
  } catch (e) {
    setStatus(e.message, true);
  }
}

async function submit(choice) {
  if (!state.item || state.busy) return;
  state.busy = true;
  setButtons(false);
  try {
    const body = JSON.stringify({ item_id: state.item.id, annotator: annotator(), choice });
    await api("/api/label", { method: "POST", body });
    state.sinceStats += 1;
    if (state.sinceStats >= 10) loadStats();
    await loadNext();
  } catch (e) {
    setStatus("not saved: " + e.message, true);
    setButtons(true);
  } finally {
    state.busy = false;
  }
}

function fmt(x, digits) {
  return x === null || x === undefined ? "-" : Number(x).toFixed(digits);
}

async function loadStats() {
  state.sinceStats = 0;
  let s;
  try {
    s = await api("/api/stats");
  } catch (e) {
    $("stats").replaceChildren(element("p", "error", e.message));
    return;
  }
  const out = [];
  const a = s.agreement;
  const bias = s.position_bias;
  out.push(element("p", "", s.labels + " labels on " + s.items + " items. Fleiss' kappa " +
    fmt(a.fleiss_kappa, 2) + " over " + a.fleiss_items + " items with 2+ labels. Left answer chosen " +
    (bias.left_rate === null ? "-" : fmt(100 * bias.left_rate, 0) + "%") + " of " + bias.decided + " decisions."));
  if (a.pairs.length) {
    const table = element("table");
    const head = element("tr");
    for (const h of ["annotators", "shared items", "agreement", "Cohen's kappa"]) head.append(element("th", "", h));
    table.append(head);
    for (const pair of a.pairs) {
      const row = element("tr");
      row.append(
        element("td", "", pair.first + " / " + pair.second),
        element("td", "", pair.items),
        element("td", "", pair.percent === null ? "-" : fmt(100 * pair.percent, 0) + "%"),
        element("td", "", fmt(pair.kappa, 2)),
      );
      table.append(row);
    }
    out.push(table);
  }
  $("stats").replaceChildren(...out);
}

document.addEventListener("keydown", (ev) => {
  const target = ev.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
    if (target.id === "annotator" && ev.key === "Enter") {
      ev.preventDefault();
      target.blur();
    }
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
  const choice = KEYS[ev.key];
  if (choice) {
    ev.preventDefault();
    submit(choice);
  }
});

document.addEventListener("DOMContentLoaded", () => {
  state.token = readToken();
  const input = $("annotator");
  input.value = localStorage.getItem("alignkit-annotator") || "";
  input.addEventListener("change", loadNext);
  for (const b of document.querySelectorAll("#buttons button")) {
    b.addEventListener("click", () => submit(b.dataset.choice));
  }
  $("refresh-stats").addEventListener("click", loadStats);
  loadNext();
  loadStats();
});
