"""The console page served at `/console` (console.py): one self-contained HTML document,
no external script, style or font. Every value from the emulator is inserted with
`textContent`, never as HTML."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>iotws console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#16191f}
header{background:#232f3e;color:#fff;padding:8px 16px;font-weight:600}
main{display:grid;grid-template-columns:1fr 1fr;gap:12px;padding:12px}
section{background:#fff;border:1px solid #d5dbdb;border-radius:4px;padding:8px 12px;min-width:0}
h2{font-size:14px;margin:0 0 6px}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #eee;vertical-align:top;
word-break:break-all}
.allow{color:#1d8102;font-weight:600}.deny{color:#d13212;font-weight:600}
#stream,#received{max-height:320px;overflow:auto;font-family:ui-monospace,monospace;font-size:12px}
#stream div,#received div{border-bottom:1px solid #f0f0f0;padding:1px 0}
.wide{grid-column:1 / span 2}
input,select,button{font:inherit;margin:2px}
input[type=text]{width:280px}
textarea{width:95%;height:48px;font-family:ui-monospace,monospace}
svg{background:#fafafa;border:1px solid #eee}
.muted{color:#687078}
</style></head>
<body>
<header>iotws local console <span class="muted" id="status">connecting…</span></header>
<main>
<section><h2>Connections (<span id="nconn">0</span>)</h2>
<table><thead><tr><th>client id</th><th>principal</th><th>profile</th><th>since</th>
<th>subscriptions</th></tr></thead><tbody id="conns"></tbody></table></section>
<section><h2>Rates, last 60 s</h2>
<div>messages/s <span id="mrate">0</span></div>
<svg id="mchart" width="300" height="50" role="img" aria-label="messages per second"></svg>
<div>connections/s <span id="crate">0</span></div>
<svg id="cchart" width="300" height="50" role="img" aria-label="connections per second"></svg>
</section>
<section><h2>Test client (publishes and subscribes as the backend)</h2>
<form id="pubform">
<div><input type="text" id="ptopic" placeholder="topic, e.g. demo/dev/rooms/lobby" required>
QoS <select id="pqos"><option>0</option><option>1</option></select>
<button type="submit" id="publish">Publish</button></div>
<textarea id="ppayload">{"text": "hello from the console"}</textarea>
<div id="puberr" class="deny"></div></form>
<form id="subform"><input type="text" id="sfilter" placeholder="filter, e.g. demo/dev/#" required>
<button type="submit" id="subscribe">Subscribe</button> <span id="filters"></span>
<div id="suberr" class="deny"></div></form>
<h2>Received by the test client</h2><div id="received"></div></section>
<section><h2>Decisions and messages <label class="muted"><input type="checkbox"
id="showmsgs" checked> messages</label></h2><div id="stream"></div></section>
</main>
<script>
"use strict";
let after = 0;
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function time(t) { return t ? new Date(t * 1000).toLocaleTimeString() : ""; }
async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body)});
  const data = await r.json().catch(() => ({message: "HTTP " + r.status}));
  if (!r.ok) throw new Error(data.message || ("HTTP " + r.status));
  return data;
}
function chart(svg, series) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const w = 300, h = 50, max = Math.max(1, ...series), bw = w / series.length;
  series.forEach((v, i) => {
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const bh = Math.round((v / max) * (h - 4));
    r.setAttribute("x", String(i * bw)); r.setAttribute("width", String(bw - 1));
    r.setAttribute("y", String(h - bh)); r.setAttribute("height", String(bh));
    r.setAttribute("fill", "#0073bb");
    svg.appendChild(r);
  });
}
function renderState(s) {
  const body = $("conns");
  body.replaceChildren();
  for (const c of s.connections) {
    const tr = el("tr");
    tr.dataset.clientId = c.clientId;
    tr.append(el("td", c.clientId), el("td", c.principal), el("td", c.profile || ""),
      el("td", time(c.since)), el("td", c.subscriptions.join(", ")));
    body.appendChild(tr);
  }
  $("nconn").textContent = s.connections.length;
  $("filters").textContent = s.filters.length ? "subscribed: " + s.filters.join(", ") : "";
  const m = s.rates.messages, c = s.rates.connections;
  $("mrate").textContent = m[m.length - 2] || 0;
  $("crate").textContent = c[c.length - 2] || 0;
  chart($("mchart"), m); chart($("cchart"), c);
}
function line(e) {
  const d = el("div");
  d.dataset.kind = e.kind;
  d.append(el("span", time(e.t) + " ", "muted"));
  if (e.kind === "decision") {
    d.append(el("span", e.allowed ? "ALLOW " : "DENY ", e.allowed ? "allow" : "deny"));
    d.append(el("span", e.action + " " + e.resource + " client=" + (e.client || "-") +
      (e.principal ? " principal=" + e.principal : "") + " " + e.reason +
      (e.statements.length ? " by " + e.statements.join(", ") : "")));
  } else if (e.kind === "message") {
    d.append(el("span", "MSG ", "muted"));
    d.append(el("span", e.topic + " qos=" + e.qos + " from " + (e.client || e.source) +
      " " + e.payload));
  }
  return d;
}
function addEvents(list) {
  const stream = $("stream"), rec = $("received"), showMsgs = $("showmsgs").checked;
  for (const e of list) {
    if (e.kind === "received") {
      const d = el("div", time(e.t) + " " + e.topic + " (qos " + e.qos + ") " + e.payload);
      d.dataset.topic = e.topic;
      rec.prepend(d);
    } else if (e.kind === "decision" || showMsgs) {
      stream.prepend(line(e));
    }
  }
  for (const box of [stream, rec]) while (box.childNodes.length > 300) box.lastChild.remove();
}
async function poll() {
  try {
    const ev = await (await fetch("/console/events?after=" + after)).json();
    addEvents(ev.events);
    after = ev.seq;
    renderState(await (await fetch("/console/state")).json());
    $("status").textContent = "live";
  } catch (err) {
    $("status").textContent = "emulator unreachable: " + err.message;
  }
  setTimeout(poll, 1000);
}
$("pubform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("puberr").textContent = "";
  try {
    await post("/console/publish", {topic: $("ptopic").value, qos: Number($("pqos").value),
      payload: $("ppayload").value});
  } catch (err) { $("puberr").textContent = err.message; }
});
$("subform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("suberr").textContent = "";
  try { await post("/console/subscribe", {filter: $("sfilter").value}); }
  catch (err) { $("suberr").textContent = err.message; }
});
poll();
</script>
</body></html>
"""
