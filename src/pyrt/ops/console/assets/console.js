// py_rt operator console. No framework, no build step: this file is served as is by the
// control API (pyrt.ops.console.web). Every read and action is an /api/v1 call with the
// token in the Authorization header; the token lives in sessionStorage (this tab only).
// All text goes in through textContent, never as markup, so data cannot inject any.
"use strict";

const TOKEN_KEY = "pyrt.console.token";
const MIN_TOKEN = 32; // pyrt.config.secrets.MIN_TOKEN_LENGTH: every token the API accepts is at least this long
const API = "/api/v1";
const shownAt = new Map(); // fill key -> Date.now() when the page first showed it
let role = null;
let stream = null;

// ------------------------------------------------------------------ helpers
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function token() { return sessionStorage.getItem(TOKEN_KEY); }
function headers(json) {
  const h = { Authorization: "Bearer " + token() };
  if (json) h["Content-Type"] = "application/json";
  return h;
}
async function api(method, path, body) {
  const res = await fetch(API + path, {
    method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store",
  });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  return { status: res.status, ok: res.ok, data };
}
function fmtAge(s) {
  if (s === null || s === undefined) return "-";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function fmtTime(iso) { return iso ? String(iso).replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "-"; }
function rows(table, items, build) {
  const body = $(table).querySelector("tbody");
  const out = items.map(build);
  body.replaceChildren(...out);
  if (!out.length) {
    const tr = el("tr", null, "empty");
    const td = el("td", "none");
    td.colSpan = $(table).querySelectorAll("thead th").length;
    tr.append(td);
    body.append(tr);
  }
}
function tr(cells, attrs) {
  const r = el("tr");
  for (const c of cells) r.append(c instanceof Node ? wrapTd(c) : el("td", c));
  for (const [k, v] of Object.entries(attrs || {})) r.setAttribute(k, v);
  return r;
}
function wrapTd(node) { const td = el("td"); td.append(node); return td; }
function signed(v) {
  const n = Number(v);
  return Number.isFinite(n) ? (n > 0 ? "pos" : n < 0 ? "neg" : "") : "";
}
function bar(pct) {
  const outer = el("div", null, "bar");
  const inner = el("div", null, pct >= 90 ? "fill hot" : pct >= 60 ? "fill warm" : "fill");
  inner.style.width = Math.min(100, Math.max(0, pct)) + "%";
  outer.append(inner);
  outer.title = pct + " %";
  return outer;
}

// ------------------------------------------------------------------ login
async function login(ev) {
  ev.preventDefault();
  const value = $("token").value.trim();
  const err = $("login-error");
  err.textContent = "";
  if (!value) { err.textContent = "Enter a token."; return; }
  if (value.length < MIN_TOKEN) { err.textContent = `That token is too short (at least ${MIN_TOKEN} characters).`; return; }
  sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  await start();
}
async function start() {
  const who = await api("GET", "/console/whoami");
  if (!who.ok) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("login-error").textContent = who.status === 401 ? "Token refused." : `Login failed (${who.status}).`;
    return;
  }
  role = who.data.role;
  $("login").hidden = true;
  $("console").hidden = false;
  const r = $("role");
  r.textContent = role;
  r.className = "pill role-" + role;
  buildActions();
  const first = await api("GET", "/console/state");
  if (first.ok) render(first.data);
  loadReports();
  follow();
}
function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (stream) stream.abort();
  location.reload();
}

// ------------------------------------------------------------------ live updates (SSE over fetch: headers allowed)
async function follow() {
  let backoff = 500;
  for (;;) {
    stream = new AbortController();
    try {
      const res = await fetch(API + "/console/events", { headers: headers(false), signal: stream.signal, credentials: "omit", cache: "no-store" });
      if (res.status === 401 || res.status === 403) { logout(); return; }
      if (!res.ok || !res.body) throw new Error("events " + res.status);
      setLive(true);
      backoff = 500;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) render(JSON.parse(data));
        }
      }
    } catch (e) {
      if (e.name === "AbortError") return;
    }
    setLive(false);
    await new Promise((ok) => setTimeout(ok, backoff));
    backoff = Math.min(backoff * 2, 5000);
  }
}
function setLive(on) {
  const l = $("live");
  l.textContent = on ? "live" : "reconnecting";
  l.className = "pill " + (on ? "ok" : "bad");
}

// ------------------------------------------------------------------ render
function render(s) {
  document.body.dataset.version = s.version;
  if (!document.body.dataset.firstRenderMs) {
    // after this frame is painted: what benchmarks/console.py reports as the first render
    requestAnimationFrame(() => setTimeout(() => { document.body.dataset.firstRenderMs = performance.now().toFixed(1); }, 0));
  }
  const venue = (s.venue && s.venue.kind) || "?";
  const v = $("venue");
  v.textContent = venue.toUpperCase() + " · " + ((s.venue && s.venue.url) || "");
  $("banner").className = "banner venue-" + venue;
  const t = s.trading || {};
  const st = $("trading-state");
  st.textContent = "trading state: " + (t.state || "?");
  st.className = "pill " + (t.state === "ACTIVE" ? "ok" : "bad");
  st.dataset.state = t.state || "";
  const auto = $("safe-mode");
  auto.textContent = t.automatic === true ? "automatic trading on" : t.automatic === false ? "SAFE MODE (automatic trading off)" : "automatic trading ?";
  auto.className = "pill " + (t.automatic ? "ok" : "bad");
  auto.dataset.automatic = String(t.automatic);
  const b = s.breaker || {};
  const br = $("breaker");
  br.textContent = b.active ? `breaker ACTIVE (${b.mode || ""})` : "breaker off";
  br.className = "pill " + (b.active ? "bad" : "ok");
  br.dataset.active = String(!!b.active);
  $("breaker-detail").textContent = b.active
    ? `Breaker trigger: ${b.trigger || "?"} · reason: ${b.reason || "-"} · since ${fmtTime(b.activated_at)}`
    : `Daily P&L ${b.daily_pnl || "0"} · trades today ${b.trades_today ?? 0}`;
  const held = Object.entries(t.reduce_only_strategies || {});
  if (held.length) {
    $("breaker-detail").textContent += " · reduce-only: " + held.map(([k, v]) => `${k} (${v})`).join("; ");
  }

  rows("services", s.services || [], (x) => tr(
    [x.name, x.up ? "up" : "DOWN", fmtAge(x.uptime_s), x.heartbeat_age_s === null ? "-" : `${fmtAge(x.heartbeat_age_s)} ago (${x.heartbeat})`, x.bus_gaps, x.bus_drops, x.errors],
    { "data-service": x.name, "data-up": String(x.up), class: x.up ? "" : "down" }));

  const pos = s.positions || { rows: [], totals: {} };
  rows("positions", pos.rows, (p) => {
    const r = tr([p.symbol, p.qty, p.avg_entry_price, p.current_price, p.market_value, p.unrealized_pl], { "data-symbol": p.symbol, "data-qty": p.qty });
    r.lastChild.className = signed(p.unrealized_pl);
    return r;
  });
  $("positions").querySelector("tfoot").replaceChildren(tr(["total", "", "", "", pos.totals.market_value || "0", pos.totals.unrealized_pl || "0"]));

  renderPnl(s.pnl || {}, s.account || {});
  renderEquity(s.equity_curve || []);
  rows("limits", s.limits || [], (l) => tr([l.name, l.used, l.allowed, bar(l.pct)], { "data-limit": l.name }));
  rows("orders", s.orders || [], (o) => {
    const cells = [o.client_order_id, o.symbol, o.side, o.type || "", o.qty, o.filled_qty, o.limit_price || "", o.status, fmtTime(o.submitted_at)];
    const r = tr(cells, { "data-coid": o.client_order_id });
    const td = el("td");
    if (role === "operator") {
      const btn = el("button", "cancel", "small");
      btn.dataset.action = "cancel-order";
      btn.addEventListener("click", () => act("cancel-order", o.client_order_id));
      td.append(btn);
    }
    r.append(td);
    return r;
  });
  rows("fills", s.fills || [], (f) => {
    const key = `${f.client_order_id}|${f.time}|${f.qty}|${f.price}`;
    if (!shownAt.has(key)) shownAt.set(key, Date.now());
    return tr([fmtTime(f.time), f.symbol, f.side, f.qty, f.price, f.strategy, f.client_order_id],
      { "data-coid": f.client_order_id, "data-shown-at": String(shownAt.get(key)) });
  });
  rows("denials", s.denials || [], (d) => tr([fmtTime(d.time), d.strategy || "-", d.order || "-", d.reason_code, d.message], { "data-reason": d.reason_code }));
  rows("alerts", s.alerts || [], (a) => tr([fmtTime(a.time), a.kind, (a.symbol ? a.symbol + ": " : "") + a.detail]));
  rows("audit", s.audit || [], (a) => tr([
    fmtTime(new Date(a.at * 1000).toISOString()), a.who, a.from, a.action, a.reason,
    a.result && a.result.ok === false ? "failed: " + (a.result.error || a.result.detail || "") : "ok",
  ], { "data-audit-action": a.action }));
  const m = $("model");
  if (s.model && s.model.strategies) {
    m.replaceChildren(...s.model.strategies.map((x) => el("p", `${x.strategy}: ${x.model_path || "(default model)"}`)));
  } else {
    m.replaceChildren(el("p", "No model in service (no onnx_model strategy configured).", "muted"));
  }
}
function renderPnl(p, acct) {
  const box = $("pnl");
  const daily = el("p", null, "big " + signed(p.daily));
  daily.textContent = `today ${p.daily || "0.00"}`;
  const limit = el("p", `daily loss used: ${p.loss_used_pct ?? 0} % of ${p.daily_loss_limit || "?"}`);
  const lines = [daily, limit, bar(p.loss_used_pct || 0)];
  if (p.realized !== undefined && p.realized !== null) lines.push(el("p", `realised ${p.realized} · unrealised ${p.unrealized}`));
  if (acct && acct.equity) lines.push(el("p", `equity ${acct.equity} · cash ${acct.cash} · buying power ${acct.buying_power}`));
  box.replaceChildren(...lines);
}
function renderEquity(points) {
  const svg = $("equity");
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  if (points.length < 2) {
    const t = document.createElementNS(NS, "text");
    t.setAttribute("x", "10"); t.setAttribute("y", "60"); t.textContent = "equity curve: waiting for points";
    svg.append(t);
    return;
  }
  const ys = points.map((p) => Number(p[1]));
  const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
  const path = ys.map((y, i) => `${(i / (ys.length - 1) * 396 + 2).toFixed(1)},${(116 - (y - lo) / span * 110).toFixed(1)}`).join(" ");
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("points", path);
  line.setAttribute("class", "line");
  const label = document.createElementNS(NS, "text");
  label.setAttribute("x", "4"); label.setAttribute("y", "12");
  label.textContent = `${lo.toFixed(2)} – ${hi.toFixed(2)}`;
  svg.append(line, label);
}
async function loadReports() {
  const res = await api("GET", "/reports");
  const ul = $("reports");
  if (!res.ok || !res.data.length) { ul.replaceChildren(el("li", "No reports in results/.", "muted")); return; }
  ul.replaceChildren(...res.data.map((r) => {
    const a = el("a", r.path);
    a.href = r.url; a.target = "_blank"; a.rel = "noopener noreferrer";
    const li = el("li"); li.append(a); return li;
  }));
}

// ------------------------------------------------------------------ actions (operator only)
const ACTIONS = {
  "breaker-activate": { label: "Activate breaker", text: "Halt: the risk manager refuses every new order.", method: "POST", path: "/circuit-breaker/activate", body: (r) => ({ reason: r, mode: "HALTED" }) },
  "breaker-deactivate": { label: "Deactivate breaker", text: "Let orders pass again. A reason is required.", method: "POST", path: "/circuit-breaker/deactivate", body: (r, f) => ({ reason: r, force: f }), needsReason: true, force: true },
  "pause-entries": { label: "Pause new entries", text: "Breaker in REDUCING mode: only orders that reduce exposure pass.", method: "POST", path: "/circuit-breaker/activate", body: (r) => ({ reason: r || "pause new entries", mode: "REDUCING" }) },
  "trading-enable": { label: "Enable trading", text: "Strategies send orders again (leave safe mode).", method: "POST", path: "/trading/enable", body: (r) => ({ reason: r }) },
  "trading-disable": { label: "Disable trading", text: "Safe mode: strategies compute signals but send no orders.", method: "POST", path: "/trading/disable", body: (r) => ({ reason: r }) },
  "cancel-all": { label: "Cancel all orders", text: "Cancel every open order and wait for the broker to confirm none is left.", method: "DELETE", path: "/orders", body: (r) => ({ reason: r }) },
  "liquidate": { label: "Liquidate", text: "Close EVERY position with market orders.", method: "POST", path: "/positions/liquidate", body: (r) => ({ reason: r, confirm: true }), danger: true },
  "emergency-stop": { label: "EMERGENCY STOP", text: "Halt, cancel all orders, stop the four trading services, notify.", method: "POST", path: "/emergency-stop", body: (r) => ({ reason: r }), danger: true },
  "cancel-order": { label: "Cancel order", text: "Cancel this one order.", method: "DELETE", path: (id) => "/orders/" + encodeURIComponent(id), body: (r) => ({ reason: r }), hidden: true },
};
function buildActions() {
  const box = $("actions");
  box.replaceChildren();
  if (role !== "operator") { box.append(el("p", "Viewer: read-only, no actions.", "muted")); return; }
  for (const [name, a] of Object.entries(ACTIONS)) {
    if (a.hidden) continue;
    const btn = el("button", a.label, a.danger ? "danger" : "");
    btn.dataset.action = name;
    btn.type = "button";
    btn.addEventListener("click", () => act(name));
    box.append(btn);
  }
}
function confirmAction(a, subject) {
  return new Promise((resolve) => {
    const d = $("confirm");
    $("confirm-title").textContent = a.label + (subject ? " " + subject : "") + "?";
    $("confirm-text").textContent = a.text;
    $("confirm-reason").value = "";
    $("confirm-force").checked = false;
    $("confirm-force-label").hidden = !a.force;
    d.returnValue = "";
    d.addEventListener("close", () => resolve(d.returnValue === "ok"
      ? { reason: $("confirm-reason").value.trim(), force: $("confirm-force").checked } : null), { once: true });
    d.showModal();
    $("confirm-reason").focus();
  });
}
async function act(name, subject) {
  if (role !== "operator") return;
  const a = ACTIONS[name];
  const answer = await confirmAction(a, subject);
  const out = $("action-result");
  if (!answer) { out.textContent = a.label + ": not confirmed, nothing done."; return; }
  if (a.needsReason && !answer.reason) { out.textContent = a.label + ": a reason is required."; return; }
  out.textContent = a.label + ": working…";
  const path = typeof a.path === "function" ? a.path(subject) : a.path;
  const res = await api(a.method, path, a.body(answer.reason, answer.force));
  const detail = res.data && (res.data.detail || (res.data.ok === false ? "failed" : "done"));
  out.textContent = `${a.label}: ${res.ok ? "done" : "refused (" + res.status + ")"}${detail ? " · " + (typeof detail === "string" ? detail : JSON.stringify(detail)) : ""}`;
  out.className = "detail " + (res.ok ? "ok-text" : "error");
  out.dataset.status = String(res.status);
}

// ------------------------------------------------------------------ boot
document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  if (token()) start();
});
