// tickroom monitor: polls /v1/admin/overview with the admin token (kept in
// sessionStorage for this tab only) and renders counters, tick health,
// rooms and players. No inline script: the page's CSP forbids it.
"use strict";

const POLL_MS = 2000;
let token = sessionStorage.getItem("tickroom-admin-token") || "";
let previous = null;
let timer = null;

const $ = (id) => document.getElementById(id);

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fixed(v) {
  return typeof v === "number" ? v.toFixed(3) : "";
}

function setStatus(text, bad) {
  const s = $("status");
  s.textContent = text;
  s.className = bad ? "status bad" : "status";
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
    cache: "no-store",
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

function renderCounters(o) {
  const box = $("counters");
  box.replaceChildren();
  const dt = previous ? (Date.parse(o.time) - Date.parse(previous.time)) / 1000 : 0;
  for (const [k, v] of Object.entries(o.gauges)) {
    const c = document.createElement("div");
    c.className = "card";
    c.append(Object.assign(document.createElement("b"), { textContent: v }), k);
    box.appendChild(c);
  }
  for (const k of Object.keys(o.counters).sort()) {
    const v = o.counters[k];
    const c = document.createElement("div");
    c.className = "card";
    const rate = previous && dt > 0 ? ((v - (previous.counters[k] || 0)) / dt).toFixed(1) + "/s" : "";
    c.append(Object.assign(document.createElement("b"), { textContent: v }), k + " ",
      Object.assign(document.createElement("small"), { textContent: rate }));
    box.appendChild(c);
  }
}

function renderGames(o) {
  const body = $("games");
  body.replaceChildren();
  for (const g of o.games) {
    const r = document.createElement("tr");
    const t = g.ticks;
    cell(r, g.game); cell(r, g.rooms); cell(r, t.ticks);
    cell(r, fixed(t.lateness_p50_ms)); cell(r, fixed(t.lateness_p99_ms));
    cell(r, fixed(t.duration_p50_ms)); cell(r, fixed(t.duration_p99_ms));
    cell(r, t.overruns, t.overruns > 0 ? "warn" : ""); cell(r, t.inbox_drops, t.inbox_drops > 0 ? "warn" : "");
    cell(r, t.state_skipped);
    body.appendChild(r);
  }
}

function actionButton(row, label, onClick) {
  const td = document.createElement("td");
  const b = document.createElement("button");
  b.className = "act";
  b.textContent = label;
  b.addEventListener("click", onClick);
  td.appendChild(b);
  row.appendChild(td);
}

function renderRooms(o) {
  const body = $("rooms");
  body.replaceChildren();
  for (const room of o.rooms) {
    const r = document.createElement("tr");
    cell(r, room.id); cell(r, room.game); cell(r, room.phase);
    cell(r, room.players + "/" + room.max_players); cell(r, room.spectators); cell(r, room.tick);
    cell(r, fixed(room.ticks.duration_p99_ms)); cell(r, room.ticks.overruns, room.ticks.overruns > 0 ? "warn" : "");
    actionButton(r, "close", () => {
      if (confirm("Close room " + room.id + "?")) api("POST", "/v1/admin/rooms/" + encodeURIComponent(room.id) + "/close", {}).then(poll, showError);
    });
    body.appendChild(r);
  }
}

function renderPlayers(o) {
  const body = $("players");
  body.replaceChildren();
  for (const p of o.players) {
    const r = document.createElement("tr");
    cell(r, p.user_id); cell(r, p.name); cell(r, p.rooms.join(", ")); cell(r, p.connections);
    cell(r, p.congested ? "yes" : "", p.congested ? "warn" : "");
    actionButton(r, "kick", () => {
      if (confirm("Kick " + p.user_id + "?")) api("POST", "/v1/admin/players/" + encodeURIComponent(p.user_id) + "/kick", {}).then(poll, showError);
    });
    body.appendChild(r);
  }
}

function showError(err) {
  setStatus(String(err.message || err), true);
}

async function poll() {
  try {
    const o = await api("GET", "/v1/admin/overview");
    renderCounters(o);
    renderGames(o);
    renderRooms(o);
    renderPlayers(o);
    previous = o;
    setStatus((o.ready ? "ready" : "shutting down") + " · up " + Math.round(o.uptime_sec) + " s · " + new Date(o.time).toLocaleTimeString(), !o.ready);
  } catch (err) {
    showError(err);
  }
}

function start() {
  if (timer) clearInterval(timer);
  previous = null;
  poll();
  timer = setInterval(poll, POLL_MS);
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("tickroom-admin-token", token);
  start();
});

if (token) start();
