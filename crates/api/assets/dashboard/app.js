// The Stampede dashboard: polls GET /v1/admin/stats once a second with the admin key typed
// into the form, and draws each figure. The key lives in `adminKey` only (no storage, no
// cookie). Counts in a snapshot are cumulative; rates are the difference between this
// snapshot and the previous one over the time between them.
"use strict";

const POLL_EVERY_MS = 1000;
/// A poll not answered within this is given up (the page says it is not updating).
const POLL_TIMEOUT_MS = 5000;
/// Grabs/s samples the sparkline keeps (two minutes at one poll a second).
const SPARK_SAMPLES = 120;

let adminKey = null;
let previous = null;
let nextPollAt = 0;
let timer = null;
const sparkline = [];

const $ = (id) => document.getElementById(id);

function formatCount(n) { return Math.round(n).toLocaleString("en-US"); }
function formatRate(n) { return n >= 100 ? formatCount(n) : n.toFixed(1); }
function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1) return (ms * 1000).toFixed(0) + " µs";
  if (ms < 100) return ms.toFixed(1) + " ms";
  return formatCount(ms) + " ms";
}
function formatPercent(x) { return x === null ? "–" : (x * 100).toFixed(1) + " %"; }

/// Sets an element's shown text and its raw figure (`data-value`, read by the browser test).
function show(id, text, value) {
  const element = $(id);
  element.textContent = text;
  element.dataset.value = value === undefined ? "" : String(value);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/// A horizontal bar of `fraction` (0..1) as plain SVG.
function bar(fraction, className) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 10");
  svg.setAttribute("preserveAspectRatio", "none");
  const track = document.createElementNS(ns, "rect");
  track.setAttribute("class", "track");
  track.setAttribute("width", "100");
  track.setAttribute("height", "10");
  const fill = document.createElementNS(ns, "rect");
  fill.setAttribute("class", "fill " + (className || ""));
  fill.setAttribute("width", String(Math.max(0, Math.min(1, fraction)) * 100));
  fill.setAttribute("height", "10");
  svg.append(track, fill);
  const td = document.createElement("td");
  td.className = "bar";
  td.append(svg);
  return td;
}

function replaceRows(tableId, rows) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows);
}

/// Per second between two snapshots, or 0 without an earlier one.
function rate(now, before, seconds) {
  return before === undefined || seconds <= 0 ? 0 : Math.max(0, now - before) / seconds;
}

/// The q quantile of the observations between two cumulative bucket lists, as
/// Prometheus' histogram_quantile estimates it; null without an observation.
function quantile(q, buckets, count, earlierBuckets, earlierCount) {
  const total = count - (earlierCount || 0);
  if (total <= 0) return null;
  const rank = q * total;
  let lower = [0, 0];
  for (let i = 0; i < buckets.length; i++) {
    const cumulative = buckets[i][1] - (earlierBuckets ? earlierBuckets[i][1] : 0);
    if (cumulative >= rank) {
      const inBucket = cumulative - lower[1];
      if (inBucket === 0) return buckets[i][0];
      return lower[0] + (buckets[i][0] - lower[0]) * ((rank - lower[1]) / inBucket);
    }
    lower = [buckets[i][0], cumulative];
  }
  return lower[0];
}

/// Quantiles over the last interval when it saw observations, else since the start.
function recentQuantile(q, now, before) {
  if (before && now.count > before.count && before.buckets_ms.length === now.buckets_ms.length) {
    return quantile(q, now.buckets_ms, now.count, before.buckets_ms, before.count);
  }
  return quantile(q, now.buckets_ms, now.count);
}

function drawCampaigns(stats, before, seconds) {
  const earlier = new Map((before ? before.campaigns : []).map((c) => [c.id, c]));
  const rows = stats.campaigns.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.campaign = c.id;
    const name = cell(c.name);
    name.title = c.id;
    const status = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "status " + c.status;
    badge.textContent = c.status.replace("_", " ");
    status.append(badge);
    const remaining = cell(formatCount(c.remaining) + " / " + formatCount(c.total), "num remaining");
    remaining.dataset.value = String(c.remaining);
    const was = earlier.get(c.id);
    const wonPerSecond = was ? rate(was.remaining, c.remaining, seconds) : 0;
    const fraction = c.total > 0 ? c.remaining / c.total : 0;
    tr.append(name, cell(c.kind.replace("_", " ")), status,
      bar(fraction, fraction < 0.1 ? "bad" : fraction < 0.3 ? "warn" : ""),
      remaining, cell(formatRate(wonPerSecond), "num"));
    return tr;
  });
  replaceRows("campaigns", rows);
  const left = stats.campaigns_total - stats.campaigns.length;
  $("campaigns-note").textContent = stats.campaigns_total === 0 ? "none yet"
    : left > 0 ? `${stats.campaigns.length} of ${stats.campaigns_total} (live ones first, newest first)` : "";
}

function drawGrabs(stats, before, seconds) {
  const grabs = stats.grabs;
  const earlier = new Map((before ? before.grabs.outcomes : []).map((o) => [o.outcome, o.count]));
  const rates = grabs.outcomes.map((o) => rate(o.count, earlier.get(o.outcome), seconds));
  const perSecond = rates.reduce((a, b) => a + b, 0);
  const peak = Math.max(1, ...rates);
  const rows = grabs.outcomes
    .map((o, i) => [o, rates[i]])
    .filter(([o]) => o.count > 0)
    .sort((a, b) => b[0].count - a[0].count)
    .map(([o, r]) => {
      const tr = document.createElement("tr");
      tr.dataset.outcome = o.outcome;
      const total = cell(formatCount(o.count), "num");
      total.dataset.value = String(o.count);
      tr.append(cell(o.outcome), bar(r / peak, o.outcome === "won" ? "won" : ""),
        cell(formatRate(r), "num"), total);
      return tr;
    });
  replaceRows("outcomes", rows);
  show("grabs-rate", formatRate(perSecond), perSecond);
  show("grabs-total", formatCount(grabs.total), grabs.total);
  const won = grabs.outcomes.find((o) => o.outcome === "won");
  const wonBefore = earlier.get("won") || 0;
  const answeredBefore = before ? before.grabs.total : 0;
  const recent = grabs.total > answeredBefore ? ((won ? won.count : 0) - wonBefore) / (grabs.total - answeredBefore) : grabs.win_rate;
  show("win-rate", formatPercent(recent), recent === null ? "" : recent);
  sparkline.push(perSecond);
  if (sparkline.length > SPARK_SAMPLES) sparkline.shift();
  // Spread over the width whatever the samples kept so far (at most two minutes' worth).
  const top = Math.max(1, ...sparkline);
  const step = 120 / Math.max(1, sparkline.length - 1);
  $("spark").querySelector("polyline").setAttribute("points", sparkline
    .map((v, i) => `${(i * step).toFixed(2)},${(29 - (v / top) * 28).toFixed(2)}`).join(" "));
  $("spark-label").textContent = `grabs/s over the last ${sparkline.length} s (peak ${formatRate(top)})`;
}

function drawLatency(stats, before) {
  const now = stats.grabs.latency;
  const then = before ? before.grabs.latency : null;
  const p50 = recentQuantile(0.5, now, then);
  const p99 = recentQuantile(0.99, now, then);
  show("latency-p50", formatMs(p50), p50 === null ? "" : p50);
  show("latency-p99", formatMs(p99), p99 === null ? "" : p99);
  $("latency-note").textContent = then && now.count > then.count
    ? "over the last second, from the histogram's buckets"
    : `since start (${formatCount(now.count)} grabs), from the histogram's buckets`;
}

function drawJournal(stats, before, seconds) {
  const j = stats.journal;
  const b = before ? before.journal : null;
  show("commits-rate", formatRate(rate(j.commits, b ? b.commits : undefined, seconds)));
  const commits = b ? j.commits - b.commits : j.commits;
  const records = b ? j.records - b.records : j.records;
  const batch = commits > 0 ? records / commits : (j.commits > 0 ? j.records / j.commits : null);
  show("batch-size", batch === null ? "–" : batch.toFixed(1), batch === null ? "" : batch);
  const then = b ? b.commit_latency : null;
  show("commit-p50", formatMs(recentQuantile(0.5, j.commit_latency, then)));
  show("commit-p99", formatMs(recentQuantile(0.99, j.commit_latency, then)));
  $("journal-note").textContent = `${formatCount(j.commits)} commits, ${formatCount(j.records)} records, ` +
    `${formatCount(j.fsyncs)} fsyncs; breaker ${j.breaker.replace("_", " ")}` +
    (j.failed ? "; THE JOURNAL FAILED: writes are stopped until a restart" : "");
}

function drawRejections(stats, before, seconds) {
  const key = (r) => `${r.layer}/${r.rule}/${r.outcome}`;
  const earlier = new Map((before ? before.rejections : []).map((r) => [key(r), r.count]));
  const rows = stats.rejections.filter((r) => r.count > 0).map((r) => {
    const tr = document.createElement("tr");
    tr.append(cell(r.layer), cell(r.rule || "–"), cell(r.outcome.replaceAll("_", " ")),
      cell(formatRate(rate(r.count, earlier.get(key(r)), seconds)), "num"),
      cell(formatCount(r.count), "num"));
    return tr;
  });
  replaceRows("rejections", rows);
  $("rejections-note").textContent = rows.length === 0 ? "nothing refused so far" : "";
}

function drawChannels(stats) {
  const rows = stats.payments.channels.map((c) => {
    const tr = document.createElement("tr");
    const state = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "status " + c.state;
    badge.textContent = c.state.replace("_", " ");
    state.append(badge);
    tr.append(cell(c.name), state,
      bar(c.weight > 0 ? c.effective_weight / c.weight : 0, c.state === "closed" ? "won" : "bad"),
      cell(`${c.effective_weight} / ${c.weight}`, "num"));
    return tr;
  });
  replaceRows("channels", rows);
  show("pending-refunds", formatCount(stats.payments.pending_refunds), stats.payments.pending_refunds);
  drawCluster(stats.node.cluster);
}

/// The cluster panel: live nodes, and each shard's leader and how far this node has applied
/// its log (the lag is messages known but not applied yet).
function drawCluster(cluster) {
  const single = cluster === null;
  $("cluster-note").textContent = single
    ? "Single node: stampede serve runs one engine on its own journal (no cluster to show)."
    : `Nodes: ${cluster.nodes.map((n) => `${n.node_id} (${n.address})`).join(", ")}`;
  $("cluster-shards").hidden = single;
  if (single) return;
  replaceRows("cluster-shards", cluster.shards.map((s) => {
    const tr = document.createElement("tr");
    const lag = Math.max(0, s.last_seq - s.applied_seq);
    tr.append(cell(String(s.shard), "num"), cell(s.leader ?? "none"),
      cell(formatCount(s.applied_seq), "num"), cell(formatCount(lag), lag > 0 ? "num bad" : "num"));
    return tr;
  }));
}

function draw(stats) {
  const before = previous;
  const seconds = before ? (stats.at_ms - before.at_ms) / 1000 : 0;
  $("node").textContent = stats.node.id;
  show("updated", "updated " + new Date(stats.at_ms).toLocaleTimeString("en-GB"), stats.at_ms);
  drawCampaigns(stats, before, seconds);
  drawGrabs(stats, before, seconds);
  drawLatency(stats, before);
  drawJournal(stats, before, seconds);
  drawRejections(stats, before, seconds);
  drawChannels(stats);
  previous = stats;
}

function stop(message) {
  clearTimeout(timer);
  adminKey = null;
  previous = null;
  $("board").hidden = true;
  $("login").hidden = false;
  $("live").className = "dot off";
  $("error").textContent = message;
}

async function poll() {
  if (adminKey === null) return;
  nextPollAt = Math.max(nextPollAt + POLL_EVERY_MS, Date.now());
  try {
    const response = await fetch("/v1/admin/stats", {
      headers: { Authorization: "Bearer " + adminKey },
      cache: "no-store",
      signal: AbortSignal.timeout(POLL_TIMEOUT_MS),
    });
    if (response.status === 401) {
      stop("The server refused this admin key (401 unauthorized). Check the key and try again.");
      return;
    }
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).error.message; } catch (_) { /* not JSON */ }
      throw new Error(`${response.status}: ${detail}`);
    }
    const stats = await response.json();
    $("login").hidden = true;
    $("board").hidden = false;
    $("error").textContent = "";
    $("live").className = "dot on";
    draw(stats);
  } catch (error) {
    $("live").className = "dot off";
    $("updated").textContent = "not updating: " + error.message;
  }
  if (adminKey !== null) timer = setTimeout(poll, Math.max(0, nextPollAt - Date.now()));
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = $("key").value.trim();
    $("key").value = "";
    if (typed === "") {
      $("error").textContent = "Type the server's admin key.";
      return;
    }
    clearTimeout(timer);
    adminKey = typed;
    previous = null;
    sparkline.length = 0;
    nextPollAt = Date.now() - POLL_EVERY_MS;
    $("error").textContent = "connecting…";
    poll();
  });
});
