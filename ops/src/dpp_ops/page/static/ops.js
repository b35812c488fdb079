// The live ops page: polls /api/overview and redraws tables and SVG charts in place.
// No framework and no build step. A token given as #token=... (never sent in the URL to the
// server) is kept for the tab and sent as a Bearer header when the service runs with auth=jwt.
"use strict";

const COLOURS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e"];
const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(250, Number(params.get("poll_ms")) || 2000);
const SVG = "http://www.w3.org/2000/svg";

const token = (() => {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem("dpp-ops-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("dpp-ops-token");
})();

function text(value, digits) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number" && digits !== undefined) return value.toFixed(digits);
  return String(value);
}

function cell(row, value, cls) {
  const td = row.insertCell();
  td.textContent = value;
  if (cls) td.className = cls;
  return td;
}

function renderGroups(groups) {
  const body = document.querySelector("#groups tbody");
  body.replaceChildren();
  for (const g of groups) {
    const row = body.insertRow();
    row.dataset.group = g.group;
    cell(row, g.group, "group");
    cell(row, text(g.state), "state");
    cell(row, text(g.members), "num workers");
    cell(row, g.status, "status status-" + g.status);
    cell(row, text(g.total_lag), "num total-lag");
    cell(row, text(g.max_lag_seconds, 1), "num lag-seconds");
    const scaler = g.autoscaler;
    cell(row, scaler ? `${scaler.workers} running, ${scaler.desired} wanted` : "–", "autoscaler")
      .title = scaler ? scaler.reason : "no local autoscaler publishes for this group";
    if (g.error) row.title = g.error;
  }
  const parts = document.querySelector("#partitions tbody");
  parts.replaceChildren();
  for (const g of groups) {
    for (const p of g.partitions) {
      const row = parts.insertRow();
      row.dataset.group = g.group;
      row.dataset.topic = p.topic;
      row.dataset.partition = p.partition;
      cell(row, g.group);
      cell(row, p.topic);
      cell(row, String(p.partition), "num");
      cell(row, text(p.lag), "num lag");
      cell(row, text(p.lag_seconds, 1), "num lag-seconds");
      cell(row, text(p.rate, 2), "num rate");
      cell(row, p.status, "status status-" + p.status).title = p.reason || "";
      cell(row, text(p.owner), "owner");
    }
  }
}

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// A line chart of one value per group over the series, with a y axis from 0 to the maximum.
function lineChart(svg, series, pick, step) {
  svg.replaceChildren();
  const W = 600, H = 180, L = 44, B = 20, T = 8;
  const groups = [...new Set(series.flatMap((p) => Object.keys(p.groups)))];
  const values = series.flatMap((p) => Object.values(p.groups).map(pick)).filter((v) => v != null);
  const max = Math.max(1, ...values);
  const t0 = series.length ? series[0].t : 0;
  const t1 = series.length ? series[series.length - 1].t : 1;
  const x = (t) => L + ((t - t0) / Math.max(1e-9, t1 - t0)) * (W - L - 4);
  const y = (v) => H - B - (v / max) * (H - B - T);
  el("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }, svg);
  el("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }, svg);
  el("text", { x: 2, y: T + 8 }, svg).textContent = String(Math.round(max));
  el("text", { x: 2, y: H - B }, svg).textContent = "0";
  el("text", { x: L, y: H - 4 }, svg).textContent = series.length ? new Date(t0 * 1000).toLocaleTimeString() : "";
  el("text", { x: W - 60, y: H - 4 }, svg).textContent = series.length ? new Date(t1 * 1000).toLocaleTimeString() : "";
  groups.forEach((group, i) => {
    let d = "";
    let prev = null;
    for (const point of series) {
      const entry = point.groups[group];
      const v = entry ? pick(entry) : null;
      if (v == null) continue;
      const X = x(point.t).toFixed(1), Y = y(v).toFixed(1);
      if (prev === null) d += `M${X},${Y}`;
      else d += step ? `H${X}V${Y}` : `L${X},${Y}`;
      prev = v;
    }
    const colour = COLOURS[i % COLOURS.length];
    el("path", { d, fill: "none", stroke: colour, "stroke-width": 2, "data-group": group }, svg);
    el("text", { x: L + 8 + i * 150, y: T + 10, fill: colour }, svg).textContent = group + (prev === null ? "" : ": " + prev);
  });
}

function throughputChart(svg, throughput) {
  svg.replaceChildren();
  const buckets = throughput.buckets || [];
  const W = 600, H = 180, L = 44, B = 20, T = 8;
  const max = Math.max(1, ...buckets.map((b) => b.succeeded + b.dead));
  const width = (W - L - 4) / Math.max(1, buckets.length);
  el("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }, svg);
  el("text", { x: 2, y: T + 8 }, svg).textContent = String(max);
  el("text", { x: 2, y: H - B }, svg).textContent = "0";
  let total = 0;
  buckets.forEach((b, i) => {
    total += b.succeeded;
    const hs = (b.succeeded / max) * (H - B - T), hd = (b.dead / max) * (H - B - T);
    el("rect", { x: L + i * width + 1, y: H - B - hs, width: Math.max(1, width - 2), height: hs, class: "bar" }, svg);
    if (b.dead) el("rect", { x: L + i * width + 1, y: H - B - hs - hd, width: Math.max(1, width - 2), height: hd, class: "bar dead" }, svg);
  });
  document.getElementById("bucket").textContent = text(throughput.bucket_s);
  document.getElementById("throughput-total").textContent = String(total);
  if (throughput.error) svg.setAttribute("data-error", throughput.error);
}

function renderDeadLetters(dead) {
  const body = document.querySelector("#dead-letters tbody");
  body.replaceChildren();
  for (const d of dead.recent || []) {
    const row = body.insertRow();
    row.dataset.offset = d.offset;
    cell(row, d.timestamp ? new Date(d.timestamp * 1000).toLocaleString() : "–");
    cell(row, text(d.event_type), "event-type");
    cell(row, text(d.job_id), "event-id");
    cell(row, text(d.original && d.original.topic));
    cell(row, text(d.error_type) + (d.error ? ": " + d.error.slice(0, 160) : ""));
  }
  document.getElementById("dead-total").textContent =
    dead.arrived === undefined ? "" : `(${dead.arrived} ever on ${dead.topic})`;
}

function render(view) {
  document.getElementById("seq").textContent = String(view.seq);
  document.getElementById("observed").textContent = view.observed_at ? new Date(view.observed_at * 1000).toLocaleTimeString() : "never";
  const health = document.getElementById("health");
  health.textContent = view.seq ? (view.healthy ? "healthy" : "unhealthy") : "waiting";
  health.className = "badge " + (view.healthy ? "healthy" : "unhealthy");
  renderGroups(view.groups || []);
  lineChart(document.getElementById("lag-chart"), view.series || [], (g) => g.total_lag, false);
  lineChart(document.getElementById("workers-chart"), view.series || [], (g) => g.workers, true);
  throughputChart(document.getElementById("throughput-chart"), view.throughput || {});
  renderDeadLetters(view.dead_letters || {});
  document.body.dataset.seq = String(view.seq);
}

async function poll() {
  const error = document.getElementById("error");
  try {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const response = await fetch("/api/overview", { headers, cache: "no-store" });
    if (!response.ok) throw new Error(`/api/overview answered ${response.status}`);
    render(await response.json());
    error.hidden = true;
  } catch (e) {
    error.textContent = String(e.message || e);
    error.hidden = false;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
