// One consumer over the shared window: its figures against the previous window, requests, errors and
// latency over time, its status classes, its daily requests and cost (30 UTC days) and its latest
// events (the endpoint ranking cannot be filtered by consumer, so its events stand in for it).

import { get } from "../api.js";
import { COLORS, timeChart } from "../charts.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { empty, errorBox, fill, loading, panel } from "../ui.js";
import * as windows from "../window.js";
import { eventRange, statusMix } from "./endpoint.js";
import { eventsLink, eventsTable } from "./events.js";
import { cards, seriesCharts } from "./overview.js";

const DAYS = 30;

/** This consumer's figures of one day; null when the day lists only its top consumers and not this one. */
function dayFigures(day, consumer) {
  const found = day.consumers.find((c) => c.consumer === consumer);
  if (found) return found;
  const complete = day.consumers.length >= day.consumers_count;
  return complete ? { requests: 0, cost: 0 } : null;
}

function dailyCharts(answer, consumer, currency) {
  const days = answer.days.map((day) => ({ date: day.date, figures: dayFigures(day, consumer) }));
  if (!days.some((d) => d.figures && d.figures.requests > 0)) {
    return h("p", { class: "muted" }, `No requests from this consumer in the last ${DAYS} days.`);
  }
  const ts = days.map((d) => Date.parse(d.date + "T00:00:00Z") / 1000);
  const pick = (key) => days.map((d) => (d.figures ? d.figures[key] : null));
  const unknown = days.filter((d) => !d.figures).length;
  return [
    h("h3", null, "Requests per day"),
    timeChart({ ts, timeZone: "UTC", height: 180, format: f.short, label: `${consumer}: requests per UTC day`,
      series: [{ label: "Requests", values: pick("requests"), color: COLORS.requests, kind: "bars", format: f.integer }] }),
    h("h3", null, "Cost per day"),
    timeChart({ ts, timeZone: "UTC", height: 180, format: (v) => f.money(v, currency), label: `${consumer}: cost per UTC day`,
      series: [{ label: "Cost", values: pick("cost"), color: COLORS.forecast, kind: "bars" }] }),
    h("p", { class: "muted small" }, "UTC days.",
      unknown ? ` ${unknown} day(s) left blank: the consumer was not among that day's listed consumers.` : ""),
  ];
}

function summaryCards(usage, currency) {
  const element = cards(usage, currency);
  // One consumer has no distinct-consumer count: drop that card.
  const unique = element.querySelector('[data-metric="unique_consumers"]');
  if (unique) unique.closest(".card").remove();
  return element;
}

function missing(ctx) {
  return empty("No consumer chosen",
    h("p", null, "Open a consumer from the overview's top consumers, or from an event's consumer."),
    h("a", { href: `#/p/${ctx.project.id}/overview` }, "Go to the overview"));
}

export async function render(ctx, main) {
  const { project, timeZone } = ctx;
  const currency = project.pricing.currency;
  const consumer = ctx.params.get("consumer");
  const back = h("a", { href: `#/p/${project.id}/overview?` + new URLSearchParams(windows.query(ctx.window)).toString(),
    id: "back-to-overview", class: "back" }, "← Back to overview");
  if (!consumer) return void mount(main, back, missing(ctx));

  const base = `/v1/projects/${project.id}`;
  const range = eventRange(ctx.window);
  const label = windows.label(ctx.window, timeZone);
  const summary = h("div", { class: "summary", id: "consumer-figures" }, loading("Loading the consumer's usage…"));
  const charts = h("div", { class: "grid" });
  const statusBox = h("div", null, loading());
  const dailyBox = h("div", { id: "consumer-daily" });
  const eventsBox = h("div", null, loading());
  const allEvents = h("a", { href: eventsLink(project.id, { consumer, ...range }), id: "consumer-events-link" },
    "All its events in this window");

  mount(main,
    back,
    h("div", { class: "page-head" },
      h("h1", { id: "consumer-title" }, h("span", { class: "consumer-name" }, consumer), h("small", null, " · ", label)),
      windows.picker(ctx.window, timeZone, (next) => ctx.setParams(next))),
    summary,
    charts,
    h("div", { class: "grid" },
      panel("Status classes", statusBox),
      panel(`Daily, last ${DAYS} days`, dailyBox, { wide: true }),
      panel("Latest events", eventsBox, { wide: true, actions: allEvents })));

  fill(charts, async () => {
    const series = await get(`${base}/consumers/${encodeURIComponent(consumer)}/timeseries`, windows.series(ctx.window));
    return seriesCharts(series.points, timeZone, { title: `${consumer}: ` });
  });
  fill(dailyBox, async () => dailyCharts(await get(`${base}/metrics/daily`, { days: DAYS, limit: 1000 }), consumer, currency));
  fill(eventsBox, async () => {
    const page = await get(`${base}/events`, { consumer, ...range, limit: 20 });
    if (!page.events.length) return h("p", { class: "muted" }, "No events from this consumer in this window.");
    return eventsTable(ctx, page.events, { caption: `Latest events of ${consumer}`, id: "consumer-events", omit: ["consumer"] });
  });
  try {
    const usage = await get(`${base}/consumers/${encodeURIComponent(consumer)}/usage`, windows.query(ctx.window));
    const quiet = usage.requests === 0 && usage.previous.requests === 0;
    mount(summary,
      quiet ? h("div", { class: "notice", id: "consumer-no-traffic", role: "status" },
        h("strong", null, "No traffic from this consumer "), `in the ${label} or the window before. `,
        "Consumer names are matched exactly; pick a longer window above.") : null,
      summaryCards(usage, currency));
    const codes = Object.entries(usage.status_codes || {}).map(([code, n]) => `${code} (${f.integer(n)})`);
    mount(statusBox, statusMix(usage.status_classes),
      codes.length ? h("p", { class: "muted small" }, "Top codes: ", codes.join(", ")) : null);
  } catch (error) {
    mount(summary, errorBox(error));
    mount(statusBox, errorBox(error));
  }
}
