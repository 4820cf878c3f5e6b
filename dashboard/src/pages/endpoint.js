// One endpoint (method and route template) over the shared window: its figures, requests, errors and
// latency over time, its status classes and its latest events, with links to the events page.

import { get } from "../api.js";
import { shareBars } from "../charts.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { empty, errorBox, fill, loading, panel } from "../ui.js";
import * as windows from "../window.js";
import { eventsLink, eventsTable } from "./events.js";
import { seriesCharts } from "./overview.js";

export const STATUS_COLORS = { "2xx": "#2f9e6e", "3xx": "#3a6df0", "4xx": "#e39b1b", "5xx": "#d4493b" };

/** [label, metric, value(row), format]; money is formatted in the project's currency. */
const CARDS = [
  ["Requests", "requests", (r) => r.requests, f.integer],
  ["Errors", "errors", (r) => r.errors, f.integer],
  ["Error rate", "error_rate", (r) => r.error_rate, f.percent],
  ["p50 latency", "latency_p50", (r) => r.latency_ms.p50, f.ms],
  ["p95 latency", "latency_p95", (r) => r.latency_ms.p95, f.ms],
  ["p99 latency", "latency_p99", (r) => r.latency_ms.p99, f.ms],
  ["Bytes out", "bytes_out", (r) => r.bytes_out, f.bytes],
  ["Bytes in", "bytes_in", (r) => r.bytes_in, f.bytes],
  ["Cost", "cost", (r) => r.cost, null],
  ["Units", "units", (r) => r.units, f.short],
];

function figureCards(row, currency) {
  return h("div", { class: "cards" }, CARDS.map(([label, metric, value, format]) => {
    const figure = value(row);
    return h("div", { class: "card" },
      h("span", { class: "card-label" }, label),
      h("span", { class: "card-value", "data-metric": metric, title: figure === null ? null : String(figure) },
        format ? format(figure) : f.money(figure, currency)));
  }));
}

/** The status classes of a row (or a usage answer) as share bars. */
export function statusMix(classes) {
  const items = Object.entries(classes || {}).map(([label, value]) => ({ label, value }));
  if (!items.some((item) => item.value > 0)) return h("p", { class: "muted" }, "No requests in this window.");
  return shareBars(items, { format: f.integer, colors: STATUS_COLORS });
}

/** The row's whole latency distribution (the cards show p50, p95 and p99). */
function latencyList(latency) {
  const order = ["min", "avg", "p50", "p75", "p90", "p95", "p99", "max"];
  return h("dl", { class: "latency-list", id: "endpoint-latency" }, order.map((key) =>
    h("div", null, h("dt", null, key), h("dd", { "data-latency": key }, f.ms(latency[key])))));
}

/** The window as the events API's from/to (the same range the figures cover). */
export function eventRange(window) {
  const range = windows.series(window);
  return { from: range.from, to: range.to };
}

function missing(ctx) {
  return empty("No endpoint chosen",
    h("p", null, "Open an endpoint from the overview's top endpoints."),
    h("a", { href: `#/p/${ctx.project.id}/overview` }, "Go to the overview"));
}

export async function render(ctx, main) {
  const { project, timeZone } = ctx;
  const currency = project.pricing.currency;
  const endpoint = ctx.params.get("endpoint");
  const given = ctx.params.get("method");
  const method = given && given !== "null" ? given.toUpperCase() : ""; // null: the folded "other" endpoints
  const back = h("a", { href: `#/p/${project.id}/overview?` + new URLSearchParams(windows.query(ctx.window)).toString(),
    id: "back-to-overview", class: "back" }, "← Back to overview");
  if (!endpoint) return void mount(main, back, missing(ctx));

  const filter = { endpoint, method: method || undefined };
  const label = windows.label(ctx.window, timeZone);
  const range = eventRange(ctx.window);
  const figures = h("div", { class: "summary", id: "endpoint-figures" }, loading("Loading the endpoint's figures…"));
  const charts = h("div", { class: "grid" });
  const statusBox = h("div", null, loading());
  const latencyBox = h("div", null, loading());
  const eventsBox = h("div", null, loading());
  const allEvents = h("a", { href: eventsLink(project.id, { ...filter, ...range }), id: "endpoint-events-link" },
    "All its events in this window");

  mount(main,
    back,
    h("div", { class: "page-head" },
      h("h1", { id: "endpoint-title" },
        method ? h("span", { class: "method" }, method) : null, " ", h("span", { class: "endpoint-name" }, endpoint),
        h("small", null, " · ", label)),
      windows.picker(ctx.window, timeZone, (next) => ctx.setParams(next))),
    figures,
    charts,
    h("div", { class: "grid" },
      panel("Status classes", statusBox),
      panel("Latency", latencyBox),
      panel("Latest events", eventsBox, { wide: true, actions: allEvents })));

  fill(charts, async () => {
    const series = await get(`/v1/projects/${project.id}/metrics/timeseries`, { ...windows.series(ctx.window), ...filter });
    return seriesCharts(series.points, timeZone, { title: `${method} ${endpoint}: ` });
  });
  fill(eventsBox, async () => {
    const page = await get(`/v1/projects/${project.id}/events`, { ...filter, ...range, limit: 20 });
    if (!page.events.length) return h("p", { class: "muted" }, "No events of this endpoint in this window.");
    return eventsTable(ctx, page.events, { caption: `Latest events of ${method} ${endpoint}`, id: "endpoint-events",
      omit: method ? ["method", "endpoint"] : [] });
  });
  try {
    const answer = await get(`/v1/projects/${project.id}/metrics/endpoints`, { ...windows.query(ctx.window), limit: 1000 });
    const row = answer.items.find((r) => r.endpoint === endpoint && (r.method || "") === method);
    if (!row) {
      const name = `${method} ${endpoint}`.trim();
      const why = answer.distinct > answer.items.length
        ? `${name} is not among the ${f.integer(answer.items.length)} busiest endpoints of the ${label}.`
        : `${name} had no requests in the ${label}. Pick a longer window above.`;
      mount(figures, h("div", { class: "notice", id: "endpoint-no-traffic", role: "status" },
        h("strong", null, "No traffic in this window. "), why));
      mount(statusBox, h("p", { class: "muted" }, "No requests in this window."));
      mount(latencyBox, h("p", { class: "muted" }, "No requests in this window."));
      return;
    }
    mount(figures, figureCards(row, currency));
    mount(statusBox, statusMix(row.status_classes));
    mount(latencyBox, latencyList(row.latency_ms));
  } catch (error) {
    mount(figures, errorBox(error));
    mount(statusBox, errorBox(error));
    mount(latencyBox, errorBox(error));
  }
}
