// A project's overview: summary cards against the previous window, requests, errors and latency
// over time, status classes, methods, top endpoints and consumers; live while the page is open.

import { get } from "../api.js";
import { COLORS, shareBars, timeChart } from "../charts.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { errorBox, fill, loading, panel, table } from "../ui.js";
import * as windows from "../window.js";
import { gettingStarted } from "./start.js";

/** [label, metric, value(summary), change key, format, up is bad] */
const CARDS = [
  ["Requests", "requests", (s) => s.requests, "requests", f.integer, null],
  ["Errors", "errors", (s) => s.errors, "errors", f.integer, true],
  ["Error rate", "error_rate", (s) => s.error_rate, "error_rate", f.percent, true],
  ["p50 latency", "latency_p50", (s) => s.latency_ms.p50, "latency_p50", f.ms, true],
  ["p95 latency", "latency_p95", (s) => s.latency_ms.p95, "latency_p95", f.ms, true],
  ["p99 latency", "latency_p99", (s) => s.latency_ms.p99, "latency_p99", f.ms, true],
  ["Throughput", "throughput", (s) => s.throughput_rps, "throughput", f.rate, null],
  ["Bytes out", "bytes_out", (s) => s.bytes_out, "bytes_out", f.bytes, null],
  ["Bytes in", "bytes_in", (s) => s.bytes_in, "bytes_in", f.bytes, null],
  ["Cost", "cost", (s) => s.cost, "cost", null, true],
  ["Unique consumers", "unique_consumers", (s) => s.unique_consumers, "unique_consumers", f.short, null],
];

export function cards(summary, currency) {
  return h("div", { class: "cards" }, CARDS.map(([label, metric, value, changeKey, format, upIsBad]) => {
    const figure = value(summary);
    const text = format ? format(figure) : f.money(figure, currency);
    const delta = summary.change[changeKey];
    const shown = changeKey === "error_rate" ? (delta ? (delta > 0 ? "+" : "−") + Math.abs(delta * 100).toFixed(2) + " pt" : null) : f.change(delta);
    const tone = delta && upIsBad !== null ? ((delta > 0) === upIsBad ? "bad" : "good") : "";
    return h("div", { class: "card" },
      h("span", { class: "card-label" }, label),
      h("span", { class: "card-value", "data-metric": metric, title: figure === null ? null : String(figure) }, text),
      h("span", { class: ["card-change", tone] }, shown ? shown + " vs previous" : delta === 0 ? "no change" : "none in the previous window"));
  }));
}

export function seriesCharts(points, timeZone, { title = "" } = {}) {
  const ts = points.map((p) => Date.parse(p.ts) / 1000);
  const requests = timeChart({
    ts, timeZone, label: `${title}requests and errors over time`, format: f.short,
    series: [
      { label: "Requests", values: points.map((p) => p.requests), color: COLORS.requests, kind: "bars" },
      { label: "Errors", values: points.map((p) => p.errors), color: COLORS.errors, kind: "bars" },
    ],
  });
  const latency = timeChart({
    ts, timeZone, label: `${title}latency percentiles over time`, format: f.ms,
    series: ["p50", "p95", "p99"].map((key) => ({ label: key, values: points.map((p) => p.latency_ms[key]), color: COLORS[key] })),
  });
  return [panel("Requests and errors", requests, { wide: true }), panel("Latency percentiles", latency, { wide: true })];
}

/** The figures both ranked tables show after their first column. */
function figureColumns(ctx) {
  return [
    { label: "Requests", sort: "requests", numeric: true, value: (r) => f.integer(r.requests) },
    { label: "Errors", sort: "errors", numeric: true, value: (r) => f.integer(r.errors) },
    { label: "Error rate", sort: "error_rate", numeric: true, value: (r) => f.percent(r.error_rate) },
    { label: "p95", sort: "latency_p95", numeric: true, value: (r) => f.ms(r.latency_ms.p95) },
    { label: "Cost", numeric: true, value: (r) => f.money(r.cost, ctx.project.pricing.currency) },
  ];
}

export function endpointTable(ctx, rows, sort, onSort) {
  const keep = windows.query(ctx.window);
  const first = { label: "Endpoint", value: (r) => [h("span", { class: "method" }, r.method), " ", r.endpoint] };
  return table([first, ...figureColumns(ctx)], rows, {
    caption: "Top endpoints", sorted: sort, onSort,
    onRow: (r) => `#/p/${ctx.project.id}/endpoint?` + new URLSearchParams({ method: r.method, endpoint: r.endpoint, ...keep }),
    rowLabel: (r) => `${r.method} ${r.endpoint}: details`,
  });
}

export function consumerTable(ctx, rows, sort, onSort) {
  const keep = windows.query(ctx.window);
  return table([{ label: "Consumer", key: "consumer" }, ...figureColumns(ctx)], rows, {
    caption: "Top consumers", sorted: sort, onSort,
    onRow: (r) => `#/p/${ctx.project.id}/consumer?` + new URLSearchParams({ consumer: r.consumer, ...keep }),
    rowLabel: (r) => `${r.consumer}: details`,
  });
}

/** A ranked table whose header sorts it on the server (the top 10 by that column). */
function ranked(ctx, kind, make) {
  const body = h("div");
  const key = kind + "_sort";
  const load = (sort) =>
    fill(body, async () => {
      const answer = await get(`/v1/projects/${ctx.project.id}/metrics/${kind}`, { ...windows.query(ctx.window), limit: 10, sort });
      if (!answer.items.length) return h("p", { class: "muted" }, `No ${kind} in this window.`);
      return [make(ctx, answer.items, sort, (next) => load(next)), h("p", { class: "muted small" }, `${f.integer(answer.distinct)} in all`)];
    });
  load(ctx.params.get(key) || "requests");
  return body;
}

function liveStrip(ctx, onMinute) {
  const figures = h("span", { class: "live-figures" }, "Waiting for the next minute of traffic…");
  const strip = h("div", { class: "live-strip", "aria-live": "polite" }, h("strong", null, "This minute "), figures);
  ctx.onLive("minute", (message) => {
    mount(figures,
      h("span", { "data-live": "minute-requests" }, f.integer(message.requests)), " requests · ",
      f.integer(message.errors), " errors · p95 ", f.ms(message.latency_ms.p95), " · ",
      f.money(message.cost, ctx.project.pricing.currency),
      h("small", { class: "muted" }, " (", f.dateTime(message.minute, ctx.timeZone), ")"));
    onMinute();
  });
  return strip;
}

/** The summary request, started before the page knows its project (main.js, for a fast paint). */
export function prefetch(projectId, params) {
  const window = windows.fromParams(params);
  const summary = get(`/v1/projects/${projectId}/metrics/summary`, windows.query(window));
  summary.catch(() => {}); // the page asks again if this one failed
  return { projectId, window: JSON.stringify(window), summary };
}

export async function render(ctx, main) {
  const { project, timeZone } = ctx;
  const currency = project.pricing.currency;
  const summaryBox = h("div", { class: "summary" }, loading("Loading the summary…"));
  const chartsBox = h("div", { class: "grid" });
  const breakdowns = h("div", { class: "grid" });
  const relative = Boolean(ctx.window.window);
  let refreshing = false;
  let again = false;

  let early = ctx.early && ctx.early.projectId === project.id && ctx.early.window === JSON.stringify(ctx.window) ? ctx.early.summary : null;
  const showSummary = async () => {
    const pending = early || get(`/v1/projects/${project.id}/metrics/summary`, windows.query(ctx.window));
    early = null;
    const summary = await pending;
    if (summary.requests === 0 && summary.previous.requests === 0) {
      mount(summaryBox, cards(summary, currency), await gettingStarted(ctx));
    } else {
      mount(summaryBox, cards(summary, currency));
    }
    return summary;
  };
  const showSeries = async () => {
    const series = await get(`/v1/projects/${project.id}/metrics/timeseries`, windows.series(ctx.window));
    mount(chartsBox, seriesCharts(series.points, timeZone));
  };
  // Live: a minute message re-reads the summary (and the chart at most every 10 s), never sums it here.
  let seriesAt = Date.now();
  const refresh = async () => {
    if (refreshing) return void (again = true);
    refreshing = true;
    try {
      await showSummary();
      if (Date.now() - seriesAt > 10_000) {
        seriesAt = Date.now();
        await showSeries();
      }
    } catch {
      // the next minute tries again
    } finally {
      refreshing = false;
      if (again) (again = false), refresh();
    }
  };

  mount(main,
    h("div", { class: "page-head" },
      h("h1", null, project.name, h("small", null, " · ", windows.label(ctx.window, timeZone))),
      windows.picker(ctx.window, timeZone, (next) => ctx.setParams(next))),
    relative ? liveStrip(ctx, refresh) : null,
    summaryBox, chartsBox, breakdowns);

  const summaryDone = showSummary()
    .then(() => requestAnimationFrame(() => performance.mark("apimeter:overview-data")))
    .catch((error) => mount(summaryBox, errorBox(error)));
  mount(chartsBox, loading());
  await summaryDone; // the cards first; the rest of the page follows
  fill(chartsBox, async () => {
    const series = await get(`/v1/projects/${project.id}/metrics/timeseries`, windows.series(ctx.window));
    return seriesCharts(series.points, timeZone);
  });
  const statusBox = h("div", null, loading());
  const codesBox = h("div", null, loading());
  const methodBox = h("div", null, loading());
  mount(breakdowns,
    panel("Status classes", statusBox),
    panel("Status codes", codesBox),
    panel("Methods", methodBox),
    panel("Top endpoints", ranked(ctx, "endpoints", endpointTable), { wide: true }),
    panel("Top consumers", ranked(ctx, "consumers", consumerTable), { wide: true }));
  const codes = get(`/v1/projects/${project.id}/metrics/status-codes`, windows.query(ctx.window));
  const none = () => h("p", { class: "muted" }, "No requests in this window.");
  const tones = { "2xx": "#2f9e6e", "3xx": "#3a6df0", "4xx": "#e39b1b", "5xx": "#d4493b" };
  fill(statusBox, async () => {
    const answer = await codes;
    const classes = Object.entries(answer.status_classes).map(([label, value]) => ({ label, value }));
    return answer.requests ? shareBars(classes, { format: f.integer, colors: tones }) : none();
  });
  fill(codesBox, async () => {
    const answer = await codes;
    const items = answer.items.slice(0, 8).map((i) => ({ label: i.key, value: i.count }));
    const colors = Object.fromEntries(items.map((i) => [i.label, tones[i.label[0] + "xx"]]));
    return answer.requests ? shareBars(items, { format: f.integer, colors }) : none();
  });
  fill(methodBox, async () => {
    const answer = await get(`/v1/projects/${project.id}/metrics/methods`, windows.query(ctx.window));
    if (!answer.requests) return h("p", { class: "muted" }, "No requests in this window.");
    return shareBars(answer.items.map((i) => ({ label: i.key, value: i.count })), { format: f.integer });
  });
}
