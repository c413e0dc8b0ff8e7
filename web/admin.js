// Pylon admin dashboard: polls /api/stats (and /api/cluster) with the admin token as a Bearer header.
// Plain browser JavaScript (no build step, no inline script: the page is served with a strict CSP).
(function () {
  "use strict";
  const STATS_EVERY_MS = 2000;
  const CLUSTER_EVERY_MS = 5000;
  const HISTORY = 150; // points kept for the chart (5 minutes at 2 s)
  const MIN_SLOTS = 15;
  const KEY = "pylon-admin-token";
  const store = window.sessionStorage;
  const $ = (id) => document.getElementById(id);

  let token = store.getItem(KEY) || "";
  let statsTimer = null;
  let clusterTimer = null;
  const history = [];

  const fmt = {
    int: (n) => (n == null ? "-" : Math.round(n).toLocaleString("en-US")),
    rate: (n) => (n == null ? "-" : n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(n >= 10 ? 1 : 2)),
    pct: (r) => (r == null ? "n/a" : (r * 100).toFixed(r >= 0.999 ? 1 : 2) + "%"),
    ms: (s) => (s == null ? "-" : s * 1000 >= 100 ? Math.round(s * 1000) + " ms" : (s * 1000).toFixed(s * 1000 >= 10 ? 1 : 2) + " ms"),
    bytes: (b) => {
      if (b == null) return "-";
      const u = ["B", "KB", "MB", "GB"];
      let i = 0;
      while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
      return (i === 0 ? b : b.toFixed(1)) + " " + u[i];
    },
    time: (iso) => { const d = new Date(iso); return isNaN(d) ? "-" : d.toLocaleTimeString("en-GB"); },
    uptime: (s) => { const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60); return h > 0 ? h + "h " + m + "m" : m + "m " + (s % 60) + "s"; },
  };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = el("td", c.cls || "", c.text);
      if (c.node) { td.textContent = ""; td.appendChild(c.node); }
      tr.appendChild(td);
    }
    return tr;
  }

  function fill(tbody, rows, cols, emptyText) {
    tbody.replaceChildren();
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = el("td", "empty l", emptyText);
      td.colSpan = cols;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    for (const r of rows) tbody.appendChild(row(r));
  }

  function bars(container, record, label) {
    container.replaceChildren();
    const entries = Object.entries(record || {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
    if (entries.length === 0) { container.appendChild(el("div", "empty", "none")); return; }
    const max = Math.max(...entries.map(([, v]) => v));
    for (const [k, v] of entries) {
      const b = el("div", "bar");
      b.appendChild(el("span", "", label ? label(k) : k));
      const track = el("div", "track");
      const f = el("div", "fill");
      f.style.width = Math.max(2, (v / max) * 100) + "%";
      track.appendChild(f);
      b.appendChild(track);
      b.appendChild(el("span", "val", fmt.int(v)));
      container.appendChild(b);
    }
  }

  function setKpi(id, value, sub, tone) {
    const v = $(id);
    v.textContent = value;
    v.className = "kpi-value" + (tone ? " " + tone : "");
    $(id + "-sub").textContent = sub;
  }

  function render(s) {
    $("node-id").textContent = s.nodeId;
    $("ready").textContent = s.ready ? "ready" : "not ready";
    $("ready").className = "pill " + (s.ready ? "ok" : "bad");
    $("updated").textContent = "updated " + fmt.time(s.time) + " · up " + fmt.uptime(s.uptimeSeconds);

    const c = s.connections;
    const ws = c.byTransport.websocket || 0;
    const polling = c.byTransport.polling || 0;
    setKpi("kpi-connections", fmt.int(c.total), "websocket " + fmt.int(ws) + " · polling " + fmt.int(polling));
    const u = s.upgrades;
    const rate = u.successRate;
    setKpi("kpi-upgrade", fmt.pct(rate), fmt.int(u.succeeded) + " of " + fmt.int(u.attempted) + " · " + fmt.int(u.failed) + " failed",
      rate == null ? "" : rate >= 0.99 ? "good" : rate >= 0.95 ? "warn" : "bad");
    setKpi("kpi-in", fmt.rate(s.events.inPerSec), fmt.int(s.events.inTotal) + " total · " + fmt.bytes(s.bytes.inPerSec) + "/s");
    setKpi("kpi-out", fmt.rate(s.events.outPerSec), fmt.int(s.events.outTotal) + " total" + (s.bytes.outPerSec != null ? " · " + fmt.bytes(s.bytes.outPerSec) + "/s" : ""));
    setKpi("kpi-drops", fmt.rate(s.drops.perSec), fmt.int(s.drops.total) + " total", s.drops.perSec > 0 ? "bad" : "good");
    const a = s.latency.ackClientToServer;
    setKpi("kpi-p99", fmt.ms(a.p99), "p50 " + fmt.ms(a.p50) + " · " + fmt.int(a.count) + " acks" + (a.window ? " in window" : " since start"));

    bars($("by-transport"), c.byTransport);
    bars($("by-protocol"), c.byProtocol, (k) => "EIO " + k + (k === "3" ? " (v2/v3)" : " (v4)"));
    bars($("by-namespace"), c.byNamespace);

    $("latency-window").textContent = "window " + Math.round(s.windowSeconds) + " s";
    const lat = [
      ["Ack client→server", s.latency.ackClientToServer],
      ["Ack server→client", s.latency.ackServerToClient],
      ["Time to upgrade", s.upgrades.timeToUpgrade],
    ];
    fill($("latency"), lat.map(([name, p]) => [{ text: name, cls: "l" }, { text: fmt.ms(p.p50) }, { text: fmt.ms(p.p90) }, { text: fmt.ms(p.p99) }, { text: fmt.int(p.count) }]), 5, "");

    const reasons = (r) => Object.entries(r || {}).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]).map(([k, v]) => [{ text: k, cls: "l" }, { text: fmt.int(v) }]);
    fill($("drops"), reasons(s.drops.byReason), 2, "no drops");
    fill($("disconnects"), reasons(s.disconnects.byReason), 2, "no disconnects");

    fill($("events"), s.events.byName.filter((e) => e.inTotal + e.outTotal > 0).map((e) => [
      { text: e.event, cls: "l" }, { text: fmt.rate(e.inPerSec) }, { text: fmt.rate(e.outPerSec) }, { text: fmt.int(e.inTotal) }, { text: fmt.int(e.outTotal) },
    ]), 5, "no events yet");

    fill($("clients"), s.clients.map((k) => [{ text: k.eio, cls: "l" }, { text: k.client, cls: "l" }, { text: k.version, cls: "l" }, { text: fmt.int(k.handshakes) }]), 4, "no handshakes yet");

    const bp = s.backplane || { connected: null, publishErrors: 0, rtt: {} };
    const st = s.streams || { publishedPerSec: 0, replayedPerSec: 0, subscriptions: 0, resyncs: 0 };
    const state = el("span", bp.connected === null ? "" : bp.connected ? "ok-text" : "tag", bp.connected === null ? "none (memory adapter)" : bp.connected ? "up" : "DOWN");
    fill($("backplane"), [
      [{ text: "Backplane", cls: "l" }, { node: state }],
      [{ text: "Round trip p99", cls: "l" }, { text: fmt.ms(bp.rtt && bp.rtt.p99) }],
      [{ text: "Publish errors", cls: "l" }, { text: fmt.int(bp.publishErrors) }],
      [{ text: "Stream publishes / s", cls: "l" }, { text: fmt.rate(st.publishedPerSec) }],
      [{ text: "Stream subscriptions", cls: "l" }, { text: fmt.int(st.subscriptions) }],
      [{ text: "Resyncs", cls: "l" }, { text: fmt.int(st.resyncs) }],
    ], 2, "");

    $("security-total").textContent = fmt.int(s.security.total) + " recorded";
    fill($("security"), s.security.recent.map((e) => {
      const tag = el("span", "tag", e.type);
      return [{ text: fmt.time(e.at) }, { node: tag }, { text: e.namespace || "" }, { text: e.address || "" }, { text: e.userId || "" }, { text: e.detail || "" }];
    }), 6, "no security events");

    history.push({ t: Date.now(), in: s.events.inPerSec, out: s.events.outPerSec, conn: c.total });
    if (history.length > HISTORY) history.shift();
    drawChart();
  }

  function renderCluster(cl) {
    $("cluster-scope").textContent = cl.scope === "cluster" ? cl.nodes.length + (cl.nodes.length === 1 ? " node · " : " nodes · ") + cl.registry + " registry" : "this node only";
    fill($("nodes"), cl.nodes.map((n) => {
      const name = el("span", n.self ? "self" : "", n.id);
      return [{ node: name, cls: "l" }, { text: n.version || "-", cls: "l" }, { text: fmt.int(n.connections) }, { text: n.lastSeen ? fmt.time(n.lastSeen) : "now", cls: "l" }];
    }), 4, "no nodes");
  }

  function drawChart() {
    const canvas = $("chart");
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const pad = { l: 44, r: 44, t: 10, b: 20 };
    const maxRate = Math.max(1, ...history.map((p) => Math.max(p.in, p.out)));
    const maxConn = Math.max(1, ...history.map((p) => p.conn));
    g.strokeStyle = "#eef1f6";
    g.fillStyle = "#6b7588";
    g.font = "11px system-ui, sans-serif";
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + ((h - pad.t - pad.b) * i) / 4;
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
      g.textAlign = "right";
      g.fillText(fmt.rate(maxRate * (1 - i / 4)), pad.l - 6, y + 4);
      g.textAlign = "left";
      g.fillText(fmt.int(maxConn * (1 - i / 4)), w - pad.r + 6, y + 4);
    }
    // the x axis spans at least MIN_SLOTS points so a fresh page shows a readable line, at most HISTORY
    const slots = Math.min(HISTORY, Math.max(MIN_SLOTS, history.length));
    const x = (i) => pad.l + ((w - pad.l - pad.r) * i) / Math.max(1, slots - 1);
    const line = (key, max, color, width) => {
      if (history.length < 2) return;
      const off = slots - history.length;
      g.strokeStyle = color; g.lineWidth = width; g.beginPath();
      history.forEach((p, i) => {
        const y = pad.t + (h - pad.t - pad.b) * (1 - p[key] / max);
        if (i === 0) g.moveTo(x(off + i), y); else g.lineTo(x(off + i), y);
      });
      g.stroke();
    };
    line("conn", maxConn, "#98a2b3", 1.5);
    line("in", maxRate, "#3358d4", 2);
    line("out", maxRate, "#11a37f", 2);
    g.fillStyle = "#6b7588";
    g.textAlign = "left";
    g.fillText("last " + Math.round((history.length * STATS_EVERY_MS) / 1000) + " s", pad.l, h - 4);
  }

  async function api(path) {
    const res = await fetch(path, { headers: { authorization: "Bearer " + token }, cache: "no-store" });
    if (res.status === 401) { const e = new Error("unauthorized"); e.status = 401; throw e; }
    if (!res.ok) throw new Error("HTTP " + res.status);
    return res.json();
  }

  async function pollStats() {
    try {
      render(await api("/api/stats"));
      $("fetch-error").hidden = true;
    } catch (err) {
      if (err.status === 401) return signOut("Invalid token: the server refused it.");
      $("fetch-error").textContent = "Cannot reach /api/stats: " + err.message;
      $("fetch-error").hidden = false;
    }
  }

  async function pollCluster() {
    try { renderCluster(await api("/api/cluster")); } catch (err) { if (err.status === 401) signOut("Invalid token: the server refused it."); }
  }

  function showDashboard() {
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("session").hidden = false;
    clearInterval(statsTimer);
    clearInterval(clusterTimer);
    statsTimer = setInterval(pollStats, STATS_EVERY_MS);
    clusterTimer = setInterval(pollCluster, CLUSTER_EVERY_MS);
    void pollCluster();
  }

  function signOut(message) {
    clearInterval(statsTimer);
    clearInterval(clusterTimer);
    token = "";
    store.removeItem(KEY);
    history.length = 0;
    $("dashboard").hidden = true;
    $("session").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("login-error").hidden = !message;
    $("token").value = "";
    $("token").focus();
  }

  async function signIn(candidate) {
    token = candidate;
    try {
      const stats = await api("/api/stats");
      store.setItem(KEY, token);
      $("login-error").hidden = true;
      showDashboard();
      render(stats);
    } catch (err) {
      signOut(err.status === 401 ? "Invalid token: the server refused it." : "Cannot reach the server: " + err.message);
    }
  }

  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void signIn($("token").value.trim());
  });
  $("signout").addEventListener("click", () => signOut(""));
  window.addEventListener("resize", drawChart);

  if (token) void signIn(token);
  else signOut("");
})();
