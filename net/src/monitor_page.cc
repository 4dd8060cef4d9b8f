// The page a master or worker serves at `/` (net/monitor.h): self-contained (no outside
// script, style or font), it polls ./status every second and draws what it finds.
#include "shoal/net/monitor.h"

namespace shoal::net {

const std::string& monitor_page() {
  static const std::string page = R"PAGE(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shoal</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.2em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .2em} h2{font-size:1.05em;margin:1.2em 0 .4em}
#summary{color:#555} table{border-collapse:collapse;background:#fff}
th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#eee;font-weight:600} .dot{display:inline-block;width:.7em;height:.7em;border-radius:50%;margin-right:.4em}
.up{background:#2a9d4b}.down{background:#d33}.waiting{background:#e9a100}.refused{background:#777}
.charts{display:flex;flex-wrap:wrap;gap:1.5em} .chart{background:#fff;border:1px solid #ddd}
.small{color:#666;font-size:.9em} #error{color:#d33}
</style></head><body>
<h1 id="title">shoal</h1><div id="summary">connecting...</div><div id="error"></div>
<h2 id="workers-title">Workers</h2><table id="workers"></table>
<div class="charts" id="charts">
<div><h2>Latency (answered inputs)</h2><svg id="histogram" class="chart" width="420" height="200"></svg></div>
<div><h2>Accuracy and misses (5 s windows)</h2><svg id="timeline" class="chart" width="420" height="200"></svg>
<div class="small"><span style="color:#1f6feb">&#9632; accuracy</span> &nbsp; <span style="color:#d33">&#9632; misses</span></div></div>
</div>
<h2 id="policies-title">Policies</h2><table id="policies"></table>
<script>
"use strict";
const query = location.search;  // carries ?key=... beyond loopback
const NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function ms(v) { return v === undefined || v < 0 || v === null ? "" : v.toFixed(v < 10 ? 2 : 1) + " ms"; }
function duration(s) { return s < 60 ? s.toFixed(0) + " s" : s < 3600 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h"; }
function fill(table, head, rows) {
  table.replaceChildren();
  const tr = el("tr");
  for (const h of head) tr.appendChild(el("th", {}, h));
  table.appendChild(tr);
  for (const r of rows) table.appendChild(r);
}
function row(cells, attrs) {
  const tr = el("tr", attrs);
  for (const c of cells) {
    const td = el("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}
function state(s) {
  const span = el("span");
  span.appendChild(el("span", {class: "dot " + s}));
  span.appendChild(document.createTextNode(s));
  return span;
}
function drawHistogram(bounds, counts) {
  const g = document.getElementById("histogram");
  g.replaceChildren();
  const W = 420, H = 200, left = 36, bottom = 34, n = counts.length;
  const most = Math.max(1, ...counts), bw = (W - left - 8) / n;
  g.appendChild(svg("text", {x: 4, y: 14, "font-size": 11, fill: "#666"}, most + " inputs"));
  for (let i = 0; i < n; i++) {
    const h = (H - bottom - 20) * counts[i] / most, x = left + i * bw;
    const bar = svg("rect", {x: x + 1, y: H - bottom - h, width: bw - 2, height: h, fill: "#1f6feb"});
    bar.appendChild(svg("title", {}, (i < bounds.length ? "up to " + bounds[i] + " ms" : "over " + bounds[n - 2] + " ms") + ": " + counts[i]));
    g.appendChild(bar);
    if (i % 2 === 0) g.appendChild(svg("text", {x: x + bw / 2, y: H - bottom + 14, "font-size": 10, "text-anchor": "middle", fill: "#444"},
                                      i < bounds.length ? String(bounds[i]) : ">"));
  }
  g.appendChild(svg("text", {x: W / 2, y: H - 4, "font-size": 11, "text-anchor": "middle", fill: "#444"}, "ms, at most"));
}
// timeline: [inputs, misses, labelled, correct] per second, oldest first, the last still filling.
function drawTimeline(timeline) {
  const g = document.getElementById("timeline");
  g.replaceChildren();
  const W = 420, H = 200, left = 36, bottom = 24, top = 12;
  let first = timeline.findIndex(t => t[0] > 0);
  if (first < 0) first = timeline.length - 1;
  const secs = timeline.slice(first, timeline.length - 1);
  const points = [];  // each over the 5 seconds up to it: a few inputs a second make no rate
  for (let i = 0; i < secs.length; i++) {
    let misses = 0, labelled = 0, correct = 0, n = 0;
    for (let k = Math.max(0, i - 4); k <= i; k++, n++) { misses += secs[k][1]; labelled += secs[k][2]; correct += secs[k][3]; }
    points.push({acc: labelled > 0 ? correct / labelled : null, misses: misses / n});
  }
  const most = Math.max(1, ...points.map(p => p.misses));
  // Accuracy from the nearest 10 % under its lowest to 100 %, so a few points show.
  const seen = points.filter(p => p.acc !== null).map(p => p.acc);
  const lo = seen.length ? Math.max(0, Math.floor(Math.min(...seen) * 10 - 0.5) / 10) : 0;
  const x = i => left + (W - left - 8) * i / Math.max(1, points.length - 1);
  const yAcc = v => top + (H - top - bottom) * (1 - (v - lo) / (1 - lo)), yMiss = v => top + (H - top - bottom) * (1 - v / most);
  g.appendChild(svg("line", {x1: left, y1: H - bottom, x2: W - 8, y2: H - bottom, stroke: "#999"}));
  g.appendChild(svg("text", {x: 2, y: top + 4, "font-size": 10, fill: "#1f6feb"}, "100%"));
  g.appendChild(svg("text", {x: 2, y: H - bottom, "font-size": 10, fill: "#1f6feb"}, (100 * lo).toFixed(0) + "%"));
  g.appendChild(svg("text", {x: W - 8, y: H - bottom - 4, "font-size": 10, fill: "#d33", "text-anchor": "end"},
                    "misses/s: up to " + most.toFixed(0)));
  const acc = points.map((p, i) => p.acc === null ? null : x(i) + "," + yAcc(p.acc)).filter(v => v).join(" ");
  const miss = points.map((p, i) => x(i) + "," + yMiss(p.misses)).join(" ");
  if (acc) g.appendChild(svg("polyline", {points: acc, fill: "none", stroke: "#1f6feb", "stroke-width": 2}));
  if (miss) g.appendChild(svg("polyline", {points: miss, fill: "none", stroke: "#d33", "stroke-width": 2}));
  g.appendChild(svg("text", {x: W / 2, y: H - 6, "font-size": 11, "text-anchor": "middle", fill: "#444"},
                    "the last " + points.length + " s"));
}
function showMaster(s) {
  document.getElementById("title").textContent = "shoal master";
  const c = s.counters;
  document.getElementById("summary").textContent = "up " + duration(s.uptime_s) + " \u00b7 " + c.submitted + " inputs, " +
      c.answered + " answered, " + c.insured + " insured, " + (c.missed + c.shed + c.too_short + c.no_worker + c.busy) +
      " without a label \u00b7 " + c.hedges + " hedges, " + c.late_replies + " late replies \u00b7 " +
      c.disconnects + " disconnects, " + c.reconnects + " reconnects, " + c.joins + " joined late";
  fill(document.getElementById("workers"),
       ["worker", "state", "for", "member", "predicted latency per subnet", "load", "temp.", "queue", "link rtt", "in flight"],
       s.workers.map(w => row([w.name, state(w.state), duration(w.for_s), w.local ? "(the master's own)" : w.member,
                               w.subnets.map(k => k.name + " " + ms(k.predicted_ms)).join(", "),
                               w.load >= 0 ? w.load.toFixed(2) : "", w.temperature_c >= 0 ? w.temperature_c.toFixed(0) + " \u00b0C" : "",
                               w.queue === undefined ? "" : w.queue, ms(w.rtt_ms), w.in_flight],
                              {"data-worker": w.name, "data-state": w.state})));
  const bounds = s.policies.length ? s.policies[0].latency.bounds_ms : [];
  const counts = bounds.map(() => 0).concat([0]);
  for (const p of s.policies) p.latency.counts.forEach((n, i) => counts[i] += n);
  fill(document.getElementById("policies"), ["policy", "inputs", "answered", "insured", "misses", "accuracy", "mean latency", "hedges"],
       s.policies.map(p => row([p.name, p.inputs, p.answered, p.insured, p.misses,
                                p.labelled ? (100 * p.correct / p.labelled).toFixed(2) + " %" : "",
                                p.latency.count ? ms(p.latency.sum_ms / p.latency.count) : "", p.hedges])));
  if (bounds.length) drawHistogram(bounds, counts);
  drawTimeline(s.timeline);
}
function showWorker(s) {
  document.getElementById("title").textContent = "shoal worker: " + s.member;
  const c = s.counters;
  document.getElementById("summary").textContent = "up " + duration(s.uptime_s) + " \u00b7 model " + s.model + " \u00b7 " +
      s.peers + " masters served, " + s.proving + " in their handshake \u00b7 " + c.served + " served, " + c.expired +
      " expired, " + c.busy + " busy, " + c.malformed + " malformed \u00b7 " + c.peers_refused + " peers refused";
  document.getElementById("workers-title").textContent = "Subnets";
  fill(document.getElementById("workers"), ["subnet", "width", "compute time", "queue", "load", "temp."],
       s.subnets.map(k => row([k.name, k.width, ms(k.took_ms), s.queue, s.load >= 0 ? s.load.toFixed(2) : "",
                               s.temperature_c >= 0 ? s.temperature_c.toFixed(0) + " \u00b0C" : ""], {"data-subnet": k.name})));
  document.getElementById("policies-title").textContent = "";
  document.getElementById("charts").style.display = "none";  // a master's: inputs and their answers
}
async function poll() {
  try {
    const r = await fetch("status" + query, {cache: "no-store"});
    if (!r.ok) throw new Error(r.status + " " + (await r.text()));
    const s = await r.json();
    document.getElementById("error").textContent = "";
    if (s.role === "master") showMaster(s); else showWorker(s);
    document.body.setAttribute("data-loaded", "yes");
  } catch (e) {
    document.getElementById("error").textContent = "cannot read status: " + e.message;
  }
  setTimeout(poll, 1000);
}
poll();
</script></body></html>
)PAGE";
  return page;
}

}  // namespace shoal::net
