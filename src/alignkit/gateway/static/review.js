// alignkit reviewer page. Conversations are hostile input: every text goes in with textContent, never
// innerHTML, and the server's Content-Security-Policy allows no inline script. The reviewer's API key is
// typed into the sign-in form, kept in this tab's sessionStorage (gone when the tab closes), sent only as
// an Authorization header, and never put in a URL.
"use strict";

const KEY_SLOT = "alignkit-review-key";
const state = { key: null, reviews: [], selected: null, skew: 0, busy: false };
const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined && text !== null) el.textContent = String(text);
  return el;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function api(path, options, key) {
  const headers = { "Content-Type": "application/json" };
  const token = key === undefined ? state.key : key;
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, Object.assign({}, options || {}, { headers, cache: "no-store" }));
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const error = new Error((data && data.error && data.error.message) || "the server answered HTTP " + response.status);
    error.status = response.status;
    throw error;
  }
  return data;
}

function signedIn(on) {
  $("login").hidden = on;
  $("queue").hidden = !on;
  $("logout").hidden = !on;
}

async function signIn(ev) {
  ev.preventDefault();
  const key = $("key").value.trim();
  $("key").value = "";
  if (!key) return;
  try {
    await api("/v1/reviews?limit=1", {}, key); // the key must be a live reviewer (or admin) key
  } catch (e) {
    setStatus("not signed in: " + e.message, true);
    return;
  }
  sessionStorage.setItem(KEY_SLOT, key);
  state.key = key;
  signedIn(true);
  setStatus("");
  await loadList();
}

function signOut(message) {
  sessionStorage.removeItem(KEY_SLOT);
  state.key = null;
  state.reviews = [];
  state.selected = null;
  $("reviews").replaceChildren();
  $("detail").hidden = true;
  $("counts").textContent = "";
  signedIn(false);
  setStatus(message || "", Boolean(message));
}

function failed(e, what) {
  if (e.status === 401) signOut("signed out: " + e.message);
  else setStatus(what + ": " + e.message, true);
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? h + "h " + String(m).padStart(2, "0") + "m" : m + "m " + rest + "s";
}

function timerText(review) {
  if (review.status !== "pending") return review.status;
  const left = review.due - (Date.now() / 1000 + state.skew);
  return left >= 0 ? duration(left) + " left" : "overdue " + duration(-left);
}

function tick() {
  for (const li of $("reviews").children) {
    const review = state.reviews.find((r) => r.id === li.dataset.id);
    if (!review) continue;
    const timer = li.querySelector(".timer");
    timer.textContent = timerText(review);
    const late = review.status === "pending" && review.due < Date.now() / 1000 + state.skew;
    timer.classList.toggle("overdue", late);
  }
}

async function loadList() {
  let data;
  try {
    data = await api("/v1/reviews?status=" + encodeURIComponent($("listing").value) + "&limit=200");
  } catch (e) {
    failed(e, "could not load the queue");
    return;
  }
  state.skew = data.now - Date.now() / 1000;
  state.reviews = data.data;
  $("counts").textContent = data.pending + " pending, " + data.overdue + " overdue";
  const items = state.reviews.map((r) => {
    const li = element("li");
    li.dataset.id = r.id;
    li.tabIndex = 0;
    li.classList.toggle("selected", r.id === state.selected);
    li.append(element("span", "timer"), element("strong", "", r.validator + " (" + r.rail + ")"));
    li.append(element("span", "meta", r.model + " · " + new Date(r.created * 1000).toLocaleString()));
    li.addEventListener("click", () => select(r.id));
    li.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select(r.id); });
    return li;
  });
  $("reviews").replaceChildren(...items);
  $("empty").hidden = items.length > 0;
  tick();
}

function text(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function renderDetail(r) {
  $("review-id").textContent = r.id;
  const facts = [["status", r.status], ["model", r.model], ["validator", r.validator], ["rail", r.rail],
    ["reason", r.reason], ["request", r.request_id], ["due", new Date(r.due * 1000).toLocaleString()]];
  if (r.status !== "pending") facts.push(["reviewer", r.reviewer || "-"], ["note", r.note || "-"]);
  $("facts").replaceChildren(...facts.flatMap(([k, v]) => [element("dt", "", k), element("dd", "", v)]));
  $("conversation").replaceChildren(...r.messages.map((m) => {
    const box = element("div", "msg");
    box.append(element("div", "role", m.role), element("div", "content", text(m.content)));
    return box;
  }));
  $("held").textContent = r.answer === null ? "(none: the request was held before the model answered)" : r.answer;
  $("final").value = r.final_answer !== null ? r.final_answer : r.answer || "";
  $("harmful").checked = Boolean(r.harmful);
  $("note").value = r.note || "";
  const open = r.status === "pending";
  for (const el of document.querySelectorAll("#decision button, #decision textarea, #decision input")) el.disabled = !open;
  $("detail").hidden = false;
}

async function select(id) {
  state.selected = id;
  for (const li of $("reviews").children) li.classList.toggle("selected", li.dataset.id === id);
  try {
    renderDetail(await api("/v1/reviews/" + encodeURIComponent(id)));
  } catch (e) {
    failed(e, "could not open the review");
  }
}

async function decide(decision) {
  if (!state.selected || state.busy) return;
  const body = { decision, harmful: $("harmful").checked, note: $("note").value.trim() || null };
  if (decision === "edit") {
    body.final_answer = $("final").value;
    if (!body.final_answer.trim()) {
      setStatus("write the answer to send before choosing Send edit", true);
      return;
    }
  }
  state.busy = true;
  try {
    const r = await api("/v1/reviews/" + encodeURIComponent(state.selected) + "/decision", {
      method: "POST",
      body: JSON.stringify(body),
    });
    setStatus("Saved: review " + r.id + " " + r.status + (r.harmful ? ", marked harmful" : "") + ".");
    renderDetail(r);
    await loadList();
  } catch (e) {
    failed(e, "not saved");
    if (e.status === 409) await select(state.selected);
  } finally {
    state.busy = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", signIn);
  $("logout").addEventListener("click", () => signOut(""));
  $("listing").addEventListener("change", loadList);
  $("refresh").addEventListener("click", loadList);
  $("decision").addEventListener("submit", (ev) => ev.preventDefault());
  for (const b of document.querySelectorAll("#buttons button")) {
    b.addEventListener("click", () => decide(b.dataset.decision));
  }
  setInterval(tick, 1000);
  setInterval(() => { if (state.key !== null && !state.busy) loadList(); }, 30000);
  state.key = sessionStorage.getItem(KEY_SLOT);
  signedIn(state.key !== null);
  if (state.key !== null) {
    loadList();
    return;
  }
  // A gateway with `auth: none` (loopback only) needs no key: then the queue opens at once.
  api("/v1/reviews?limit=1", {}, "").then(() => {
    state.key = "";
    signedIn(true);
    $("logout").hidden = true;
    loadList();
  }, () => {});
});
