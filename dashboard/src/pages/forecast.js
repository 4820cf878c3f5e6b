// A project's forecast: the month-end projection of requests and cost with 80 % and 95 % intervals,
// the next 48 hours joined to the last days' actual traffic, and the next 7 local days. The hourly
// pipeline makes the forecast; "Make a forecast now" asks the API for one from the figures so far.

import { get, post } from "../api.js";
import { COLORS, timeChart } from "../charts.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { button, empty, errorBox, fill, notify, panel, table } from "../ui.js";

const HISTORY_DAYS = 4; // actual traffic shown before the forecast starts
const HOUR = 3_600_000;

const monthFormat = new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });

/** "2026-11" (a local month) as "November 2026". */
function monthLabel(month) {
  const date = new Date(month + "-01T12:00:00Z");
  return Number.isNaN(date.getTime()) ? month : monthFormat.format(date);
}

/** "2026-11-29" (a local date) as "Sun 29 Nov". */
function dateLabel(date) {
  return f.day(date + "T12:00:00Z", "UTC");
}

/** The forecast's hours ("2026-11-29T07", UTC) as epoch seconds. */
function hourSeconds(start) {
  const text = start.length === 13 ? start + ":00:00Z" : start;
  return Date.parse(text) / 1000;
}

function interval(range, format, level) {
  return `${format(range["lower" + level])} – ${format(range["upper" + level])}`;
}

/** Whoever may read the project's analytics may make a forecast now (POST needs analytics.read). */
function makeButton(ctx, onMade, text = "Make a forecast now") {
  if (!ctx.can("analytics.read")) return null;
  const control = button(text, async () => {
    control.disabled = true;
    control.textContent = "Forecasting…";
    try {
      const made = await post(`/v1/projects/${ctx.project.id}/forecast`);
      if (made.status === "ready") notify("Forecast made", "The forecast below is from the figures so far.", "success");
      else notify("No forecast yet", "There is not enough history for a forecast yet.", "info");
      onMade(made);
    } catch (error) {
      control.disabled = false;
      control.textContent = text;
      notify("No forecast made", error.message, "error");
    }
  }, { kind: "primary" });
  control.id = "make-forecast";
  return control;
}

function noForecast(ctx, onMade) {
  return h("section", { class: "panel wide", id: "forecast-empty", "aria-label": "No forecast yet" },
    empty("No forecast yet",
      h("p", null, "The hourly pipeline forecasts every project with traffic at a quarter past each hour: the next 48 hours, ",
        "the next 7 days and the month end, each with 80 % and 95 % intervals. This project has not been forecast yet."),
      ctx.can("analytics.read") ? h("p", null, "You can also make one now from the figures so far.") : null,
      makeButton(ctx, onMade)));
}

function insufficient(ctx, forecast, onMade) {
  return h("section", { class: "panel wide", id: "forecast-insufficient", "aria-label": "Not enough history" },
    empty("Not enough history for a forecast yet",
      h("p", null, "A forecast needs at least a day (24 finished hours) of traffic after the project's first request. ",
        "It then learns from up to four weeks of hours: a daily pattern after three days of traffic, ",
        "a weekly one after three weeks."),
      h("p", null, "Keep sending events; the hourly pipeline tries again every hour."),
      makeButton(ctx, onMade, "Try again now"),
      h("p", { class: "muted small" }, "Checked ", f.dateTime(forecast.computed_at, ctx.timeZone), " (", ctx.timeZone, ")")));
}

function monthCard(label, metric, range, actual, format) {
  return h("div", { class: "card forecast-card", "data-month-end": metric },
    h("span", { class: "card-label" }, label),
    h("span", { class: "card-value", title: String(range.value) }, format(range.value)),
    h("span", { class: "card-change" }, "80 %: ", interval(range, format, "80")),
    h("span", { class: "card-change" }, "95 %: ", interval(range, format, "95")),
    h("span", { class: "card-change" }, "Actual so far: ", format(actual)));
}

function monthEnd(forecast, money) {
  const end = forecast.month_end;
  if (!end) return h("p", { class: "muted" }, "No month-end projection in this forecast.");
  return h("div", { class: "forecast-month" },
    h("h2", null, "Projected by the end of ", monthLabel(end.month),
      h("small", { class: "muted" }, " (", forecast.timezone, ", ", forecast.currency, ")")),
    h("div", { class: "cards forecast-cards" },
      monthCard("Cost by month end", "cost", end.cost, end.actual_cost, money),
      monthCard("Requests by month end", "requests", end.requests, end.actual_requests, f.integer)));
}

/** Actual hours (from the timeseries) and forecast hours on one time axis, with the bands. */
function pathChart(points, hourly, metric, { timeZone, format, label }) {
  const rows = new Map();
  const row = (ts) => {
    if (!rows.has(ts)) rows.set(ts, { actual: null, step: null });
    return rows.get(ts);
  };
  points.forEach((p) => (row(Date.parse(p.ts) / 1000).actual = p[metric] ?? null));
  hourly.forEach((step) => (row(hourSeconds(step.start)).step = step[metric]));
  const ts = [...rows.keys()].sort((a, b) => a - b);
  const value = (key) => ts.map((t) => (rows.get(t).step ? rows.get(t).step[key] : null));
  const edge = (label, key, color) => ({ label, values: value(key), color, width: 1 });
  return timeChart({
    ts, timeZone, format, label, height: 260,
    series: [
      { label: "Actual", values: ts.map((t) => rows.get(t).actual), color: COLORS.requests },
      { label: "Forecast", values: value("value"), color: COLORS.forecast, dash: [6, 4] },
      edge("Lower 95 %", "lower95", "rgba(122, 90, 245, 0.25)"),
      edge("Upper 95 %", "upper95", "rgba(122, 90, 245, 0.25)"),
      edge("Lower 80 %", "lower80", "rgba(122, 90, 245, 0.45)"),
      edge("Upper 80 %", "upper80", "rgba(122, 90, 245, 0.45)"),
    ],
    bands: [
      { upper: 3, lower: 2, fill: COLORS.band95 },
      { upper: 5, lower: 4, fill: COLORS.band80 },
    ],
  });
}

function charts(ctx, forecast, money) {
  const box = h("div", { class: "grid forecast-charts" });
  fill(box, async () => {
    const from = new Date(Date.parse(forecast.as_of) - HISTORY_DAYS * 24 * HOUR).toISOString().replace(/\.\d+Z$/, "Z");
    const series = await get(`/v1/projects/${ctx.project.id}/metrics/timeseries`,
      { granularity: "hour", from, metrics: "requests,cost" });
    const hourly = forecast.hourly || [];
    const note = h("p", { class: "muted small" }, "Solid: actual hours since ", f.dateTime(from, ctx.timeZone),
      ". Dashed: the next ", hourly.length, " hours' forecast, shaded by its 80 % (darker) and 95 % intervals. ",
      "Times in ", ctx.timeZone, ".");
    return [
      panel("Requests per hour", [pathChart(series.points, hourly, "requests",
        { timeZone: ctx.timeZone, format: f.short, label: "Requests per hour: actual and forecast with intervals" }), note],
      { wide: true }),
      panel("Cost per hour", pathChart(series.points, hourly, "cost",
        { timeZone: ctx.timeZone, format: money, label: "Cost per hour: actual and forecast with intervals" }), { wide: true }),
    ];
  });
  return box;
}

function dailyTable(forecast, money) {
  const days = forecast.daily || [];
  if (!days.length) return h("p", { class: "muted" }, "No daily forecast in this answer.");
  return table(
    [
      { label: "Day", value: (d) => [h("span", { class: "forecast-day" }, dateLabel(d.start)),
        d === days[0] ? h("small", { class: "muted forecast-today" }, "today: actual + rest") : null] },
      { label: "Requests", numeric: true, value: (d) => f.integer(d.requests.value) },
      { label: "Requests 80 %", numeric: true, value: (d) => interval(d.requests, f.integer, "80") },
      { label: "Requests 95 %", numeric: true, value: (d) => interval(d.requests, f.integer, "95") },
      { label: "Cost", numeric: true, value: (d) => money(d.cost.value) },
      { label: "Cost 80 %", numeric: true, value: (d) => interval(d.cost, money, "80") },
      { label: "Cost 95 %", numeric: true, value: (d) => interval(d.cost, money, "95") },
    ],
    days,
    { caption: "Forecast for the next 7 days" },
  );
}

const SEASONS = { 168: "weekly pattern (168 h)", 24: "daily pattern (24 h)", 1: "no pattern yet" };

function smallPrint(ctx, forecast) {
  const season = SEASONS[forecast.season_hours] || (forecast.season_hours ? `${forecast.season_hours} h season` : "–");
  return h("p", { class: "muted small forecast-meta", id: "forecast-meta" },
    "Computed ", h("span", { "data-meta": "computed_at" }, f.dateTime(forecast.computed_at, ctx.timeZone)),
    " · forecast from ", h("span", { "data-meta": "as_of" }, f.dateTime(forecast.as_of, ctx.timeZone)),
    " · learned from ", h("span", { "data-meta": "history_hours" }, f.integer(forecast.history_hours)), " hours of history",
    " · ", h("span", { "data-meta": "season_hours" }, season),
    " · times in ", ctx.timeZone, ", days in ", forecast.timezone);
}

function ready(ctx, forecast) {
  const money = (value) => f.money(value, forecast.currency);
  return [
    monthEnd(forecast, money),
    charts(ctx, forecast, money),
    h("div", { class: "grid" }, panel("Next 7 days", [dailyTable(forecast, money),
      h("p", { class: "muted small" }, "Days in ", forecast.timezone,
        ". Today is the actual so far plus the forecast of its rest.")],
    { wide: true })),
    smallPrint(ctx, forecast),
  ];
}

export async function render(ctx, main) {
  const body = h("div", { class: "forecast" });
  const actions = h("div", { class: "forecast-actions" });
  const show = (forecast) => {
    mount(actions);
    if (forecast.status === "insufficient_history") return mount(body, insufficient(ctx, forecast, show));
    mount(actions, makeButton(ctx, show, "Forecast again now"));
    return mount(body, ready(ctx, forecast));
  };
  mount(main,
    h("div", { class: "page-head" }, h("h1", null, "Forecast", h("small", null, " · ", ctx.project.name)), actions),
    body);
  await fill(body, async () => {
    try {
      const forecast = await get(`/v1/projects/${ctx.project.id}/forecast`);
      if (forecast.status === "insufficient_history") return insufficient(ctx, forecast, show);
      mount(actions, makeButton(ctx, show, "Forecast again now"));
      return ready(ctx, forecast);
    } catch (error) {
      if (error.status === 404 && error.code === "NOT_FOUND") return noForecast(ctx, show);
      return errorBox(error);
    }
  });
}
