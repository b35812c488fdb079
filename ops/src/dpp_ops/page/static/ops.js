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
  renderTopics(groups);
}

// Topics of every group, retry tiers folded under their job topic, worst first then by lag
// (the service sorts). A topic's partitions open on click; topics not OK open by themselves.
const expanded = new Set();
function renderTopics(groups) {
  const body = document.querySelector("#topics > tbody");
  body.replaceChildren();
  for (const g of groups) {
    for (const t of g.topics || []) {
      const key = g.group + "\u0000" + t.topic;
      const open = expanded.has(key) || t.not_ok > 0;
      const row = body.insertRow();
      row.className = "topic-row";
      row.dataset.group = g.group;
      row.dataset.topic = t.topic;
      cell(row, (open ? "▾ " : "▸ ") + g.group, "group");
      cell(row, t.topic + (t.tiers.length ? ` + ${t.tiers.length} retry tiers` : ""), "topic");
      cell(row, String(t.partitions.length), "num partitions");
      cell(row, text(t.lag), "num lag");
      cell(row, text(t.lag_seconds, 1), "num lag-seconds");
      cell(row, t.status, "status status-" + t.status);
      cell(row, String(t.not_ok), "num not-ok");
      row.onclick = () => {
        if (expanded.has(key)) expanded.delete(key); else expanded.add(key);
        renderTopics(groups);
      };
      const detail = body.insertRow();
      detail.className = "partitions-row";
      detail.hidden = !open;
      const holder = detail.insertCell();
      holder.colSpan = 7;
      const table = document.createElement("table");
      table.className = "partitions";
      const head = table.createTHead().insertRow();
      for (const name of ["tier", "partition", "lag", "lag seconds", "rate /s", "status", "owner"]) {
        const th = document.createElement("th");
        th.textContent = name;
        head.appendChild(th);
      }
      const rows = table.createTBody();
      for (const p of t.partitions) {
        const pr = rows.insertRow();
        pr.className = "partition-row";
        pr.dataset.group = g.group;
        pr.dataset.topic = p.topic;
        pr.dataset.partition = p.partition;
        cell(pr, p.tier ? "retry " + p.tier : "main", "tier");
        cell(pr, String(p.partition), "num");
        cell(pr, text(p.lag), "num lag");
        cell(pr, text(p.lag_seconds, 1), "num lag-seconds");
        cell(pr, text(p.rate, 2), "num rate");
        cell(pr, p.status, "status status-" + p.status).title = p.reason || "";
        cell(pr, text(p.owner), "owner");
      }
      holder.appendChild(table);
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

function button(label, action) {
  const b = document.createElement("button");
  b.textContent = label;
  b.onclick = (event) => { event.stopPropagation(); action(b); };
  return b;
}

function renderDeadLetters(dead) {
  const body = document.querySelector("#dead-letters tbody");
  body.replaceChildren();
  for (const d of dead.recent || []) {
    const row = body.insertRow();
    row.dataset.offset = d.offset;
    row.dataset.id = d.id;
    cell(row, d.timestamp ? new Date(d.timestamp * 1000).toLocaleString() : "–");
    cell(row, text(d.event_type), "event-type");
    cell(row, text(d.job_id), "event-id");
    cell(row, text(d.original && d.original.topic));
    cell(row, text(d.error_type) + (d.error ? ": " + d.error.slice(0, 160) : ""));
    const act = cell(row, d.replayed ? "replayed as " + d.replayed.new_job_id : "", "replayed");
    if (!d.replayed && me.can_write) {
      act.appendChild(button("Replay", () => act_on(`/api/dead-letters/${encodeURIComponent(d.id)}/replay`)));
    }
  }
  document.getElementById("dead-total").textContent =
    dead.arrived === undefined ? "" : `(${dead.arrived} ever on ${dead.topic})`;
}

function renderJobTypes(types) {
  const body = document.querySelector("#job-types tbody");
  body.replaceChildren();
  for (const t of types) {
    const row = body.insertRow();
    row.dataset.jobType = t.job_type;
    cell(row, t.job_type, "job-type");
    cell(row, (t.topics || [])[0] || "–", "topic");
    const state = cell(row, t.paused ? "paused" : "running", "state state-" + (t.paused ? "paused" : "running"));
    if (t.switched) state.title = `${t.paused ? "paused" : "resumed"} by ${t.switched.by} at ${new Date(t.switched.at * 1000).toLocaleString()}`;
    const act = cell(row, "", "action");
    if (me.can_write) {
      const verb = t.paused ? "resume" : "pause";
      act.appendChild(button(t.paused ? "Resume" : "Pause", () => act_on(`/api/job-types/${encodeURIComponent(t.job_type)}/${verb}`)));
    }
  }
}

function renderMaintenance(purge) {
  const line = document.getElementById("maintenance");
  if (!purge) { line.textContent = "idempotency keys: no scheduled purge (DPP_OPS_PURGE_INTERVAL_S=0)"; return; }
  const last = purge.last;
  line.textContent = `idempotency keys purged every ${purge.every_s} s; ` + (last
    ? `last run ${new Date(last.at * 1000).toLocaleTimeString()}: ` + (last.error ? `failed (${last.error})` : `${last.deleted} deleted`)
      + `; ${purge.purged_total} in all`
    : "first run pending");
}

// Who we are: the page offers actions only to a caller with ops:write.
let me = { can_write: false };
async function whoami() {
  try {
    const response = await fetch("/api/whoami", { headers: authHeaders(), cache: "no-store" });
    if (response.ok) me = await response.json();
  } catch (e) { /* the poll shows the error */ }
  document.body.dataset.canWrite = String(me.can_write);
}

function authHeaders() {
  return token ? { Authorization: "Bearer " + token } : {};
}

async function act_on(path) {
  const result = document.getElementById("action-result");
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { ...authHeaders(), "X-Requested-By": "dpp-ops-page" },
    });
    const body = await response.json().catch(() => ({}));
    result.textContent = response.ok
      ? `${path}: done` + (body.new_job_id ? ` (new job ${body.new_job_id})` : "")
      : `${path}: ${response.status} ${body.detail || body.skipped || ""}`;
    result.dataset.status = String(response.status);
  } catch (e) {
    result.textContent = `${path}: ${e.message || e}`;
  }
  clearTimeout(timer);
  poll();
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
  renderJobTypes(view.job_types || []);
  renderMaintenance((view.maintenance || {}).idempotency_purge);
  document.body.dataset.seq = String(view.seq);
}

async function poll() {
  const error = document.getElementById("error");
  try {
    const response = await fetch("/api/overview", { headers: authHeaders(), cache: "no-store" });
    if (!response.ok) throw new Error(`/api/overview answered ${response.status}`);
    render(await response.json());
    error.hidden = true;
  } catch (e) {
    error.textContent = String(e.message || e);
    error.hidden = false;
  } finally {
    clearTimeout(timer);
    timer = setTimeout(poll, POLL_MS);
  }
}

let timer = null;
whoami().then(poll);
