// Raw events, newest first: filters kept in the URL (so a view can be shared), 50 a page with cursor
// paging, and a details row per event with everything it carried (ip, user agent, properties).

import { get } from "../api.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { badge, button, empty, field, fill, loading } from "../ui.js";

const PAGE_SIZE = 50;
const FILTERS = ["from", "to", "endpoint", "method", "status", "consumer"];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
let tables = 0; // makes the ids of details rows unique when a page shows several tables

/** The badge kind of a status code's class. */
export function statusKind(status) {
  if (status >= 500) return "bad";
  if (status >= 400) return "warn";
  if (status >= 200 && status < 300) return "good";
  return "";
}

/** The filters of a hash query (absent ones left out), as the events API takes them. */
export function filtersFrom(params) {
  return Object.fromEntries(FILTERS.map((key) => [key, params.get(key)]).filter(([, value]) => value));
}

/** A link to this page with some filters set. */
export function eventsLink(projectId, filters) {
  const pairs = Object.entries(filters).filter(([, value]) => value !== undefined && value !== null && value !== "");
  return `#/p/${projectId}/events` + (pairs.length ? "?" + new URLSearchParams(pairs).toString() : "");
}

function endpointHref(ctx, event) {
  return `#/p/${ctx.project.id}/endpoint?` + new URLSearchParams({ method: event.method, endpoint: event.endpoint }).toString();
}

function consumerHref(ctx, consumer) {
  return `#/p/${ctx.project.id}/consumer?` + new URLSearchParams({ consumer }).toString();
}

const given = (value) => value !== null && value !== undefined;

/** A value through a format, or null when the event did not carry it. */
const optional = (value, format) => (given(value) ? format(value) : null);

function costCell(event, currency) {
  const units = given(event.units) ? f.short(event.units) + " u" : null;
  if (!given(event.cost)) return units || f.DASH;
  return [f.money(event.cost, currency), units ? h("span", { class: "muted small" }, " · ", units) : null];
}

function propertyList(properties) {
  const entries = Object.entries(properties || {});
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h("dl", { class: "event-props" }, entries.map(([key, value]) => [
    h("dt", null, key),
    h("dd", null, value === null ? h("span", { class: "muted" }, "null") : String(value)),
  ]));
}

function details(ctx, event) {
  const item = (label, value) => [h("dt", null, label), h("dd", null, given(value) ? value : f.DASH)];
  const time = [f.dateTimeSeconds(event.timestamp, ctx.timeZone), " ", h("span", { class: "muted small" }, event.timestamp)];
  return h("dl", { class: "event-details" },
    item("Event ID", h("code", null, event.event_id)),
    item("Time", time),
    item("Path", event.path),
    item("IP", event.ip),
    item("User agent", event.user_agent),
    item("Request bytes", optional(event.request_bytes, f.integer)),
    item("Response bytes", optional(event.response_bytes, f.integer)),
    item("Cost", optional(event.cost, (cost) => f.money(cost, ctx.project.pricing.currency))),
    item("Units", optional(event.units, f.short)),
    item("Properties", propertyList(event.properties)));
}

const COLUMNS = [
  ["time", "Time", ""], ["method", "Method", ""], ["endpoint", "Endpoint", ""], ["path", "Path", ""], ["status", "Status", ""],
  ["latency", "Latency", "num"], ["bytes", "Bytes", "num"], ["consumer", "Consumer", ""], ["cost", "Cost / units", "num"],
  ["details", "", ""],
];

function cells(ctx, event, toggle) {
  return {
    time: h("td", { class: "nowrap" },
      h("time", { datetime: event.timestamp, title: event.timestamp }, f.dateTimeSeconds(event.timestamp, ctx.timeZone))),
    method: h("td", null, h("span", { class: "method" }, event.method)),
    endpoint: h("td", { class: "text" }, h("a", { href: endpointHref(ctx, event) }, event.endpoint)),
    path: h("td", { class: "text" }, event.path || f.DASH),
    status: h("td", null, badge(String(event.status), statusKind(event.status))),
    latency: h("td", { class: "num" }, f.ms(event.latency_ms)),
    bytes: h("td", { class: "num", title: "response bytes" }, f.bytes(event.response_bytes)),
    consumer: h("td", { class: "text" },
      event.consumer ? h("a", { href: consumerHref(ctx, event.consumer) }, event.consumer) : f.DASH),
    cost: h("td", { class: "num" }, costCell(event, ctx.project.pricing.currency)),
    details: h("td", null, toggle),
  };
}

function eventRows(ctx, event, detailsId, columns) {
  const detailsRow = h("tr", { class: "details hidden", id: detailsId, "data-details-for": event.event_id },
    h("td", { colspan: columns.length }, details(ctx, event)));
  const toggle = h("button", {
    type: "button", class: "btn small", "aria-expanded": "false", "aria-controls": detailsId,
    "data-action": "details", "data-event-id": event.event_id, "aria-label": `Details of the event at ${event.timestamp}`,
    onclick: () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      detailsRow.classList.toggle("hidden", !open);
      toggle.textContent = open ? "Hide" : "Details";
    },
  }, "Details");
  const all = cells(ctx, event, toggle);
  return [h("tr", { "data-event-id": event.event_id }, columns.map(([key]) => all[key])), detailsRow];
}

/**
 * A table of events with a details toggle per row (also used by the endpoint and consumer pages);
 * omit names columns every row shares there ("method", "endpoint", "consumer").
 */
export function eventsTable(ctx, events, { caption = "Events", id, omit = [] } = {}) {
  const prefix = `event-details-${++tables}`;
  const columns = COLUMNS.filter(([key]) => !omit.includes(key));
  const head = h("tr", null, columns.map(([, label, kind]) =>
    h("th", { scope: "col", class: kind || null }, label || h("span", { class: "sr-only" }, "Details"))));
  return h("div", { class: "table-wrap" },
    h("table", { class: "events-table", id },
      h("caption", { class: "sr-only" }, caption),
      h("thead", null, head),
      h("tbody", null, events.map((event, index) => eventRows(ctx, event, `${prefix}-${index}`, columns)))));
}

function filterForm(ctx, filters) {
  const zone = ctx.timeZone;
  const input = (name, attributes) => h("input", { name, id: `filter-${name}`, value: filters[name] || "", ...attributes });
  const local = (iso) => (iso ? f.utcToZoned(iso, zone) : "");
  const from = input("from", { type: "datetime-local", value: local(filters.from) });
  const to = input("to", { type: "datetime-local", value: local(filters.to) });
  const methods = h("datalist", { id: "filter-methods" }, METHODS.map((m) => h("option", { value: m })));
  const form = h("form", { id: "event-filters", class: "filters", "aria-label": "Filter events" },
    h("div", { class: "form-row" },
      field(`From (${zone})`, from),
      field(`To (${zone})`, to),
      field("Endpoint", input("endpoint", { type: "text", placeholder: "/users/{id}", maxlength: 512 })),
      field("Method", input("method", { type: "text", list: "filter-methods", placeholder: "any", maxlength: 16, size: 8 })),
      field("Status", input("status", { type: "number", min: 100, max: 599, step: 1, placeholder: "any" })),
      field("Consumer", input("consumer", { type: "text", maxlength: 256 })),
      methods),
    h("div", { class: "form-row" },
      h("button", { type: "submit", class: "btn primary", id: "events-apply" }, "Apply filters"),
      button("Clear", () => clearFilters(ctx), { kind: "ghost" }),
      h("small", { class: "muted" },
        "Endpoint is the route template, matched exactly. Without a From, the 24 hours up to To (or now).")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const updates = {};
    for (const key of FILTERS) {
      const value = String(data.get(key) || "").trim();
      if (key === "from" || key === "to") updates[key] = value ? f.zonedToUtc(value, zone) : "";
      else updates[key] = key === "method" ? value.toUpperCase() : value;
    }
    ctx.setParams(updates);
  });
  return form;
}

function clearFilters(ctx) {
  ctx.setParams(Object.fromEntries(FILTERS.map((key) => [key, ""])));
}

function nothingFound(ctx, filters) {
  const filtered = Object.keys(filters).length > 0;
  if (!filtered) {
    return empty("No events in the last 24 hours",
      h("p", null, "Track requests with one of the project's API keys (POST /v1/events),",
        " or set a From date to look further back."),
      h("p", null, h("a", { href: `#/p/${ctx.project.id}/overview` }, "Getting started on the overview")));
  }
  return empty("No events match these filters",
    h("p", null, "Widen the time range, or clear a filter.",
      " The endpoint filter takes the route template (/users/{id}), not the path."),
    button("Clear filters", () => clearFilters(ctx), { kind: "small" }));
}

export async function render(ctx, main) {
  const filters = filtersFrom(ctx.params);
  const results = h("div", { id: "events-results" }, loading("Loading events…"));
  const pageLabel = h("span", { id: "events-page", class: "muted small", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "btn", id: "events-prev", disabled: true }, "← Previous");
  const next = h("button", { type: "button", class: "btn", id: "events-next", disabled: true }, "Next →");
  const pager = h("nav", { class: "pager hidden", "aria-label": "Event pages" }, prev, pageLabel, next);
  const stack = []; // cursors of the pages before this one (null for the first)
  let cursor = null;
  let nextCursor = null;

  // Exports take the same filters; whoever may read analytics may start one (see exports.js).
  const exportHref = `#/p/${ctx.project.id}/exports?` + new URLSearchParams(filters).toString();
  const exportLink = ctx.can("analytics.read")
    ? h("a", { class: "btn small", href: exportHref, id: "events-export" }, "Export these events")
    : null;
  mount(main,
    h("div", { class: "page-head" },
      h("h1", null, "Events", h("small", null, " · newest first, times in ", ctx.timeZone)), exportLink),
    h("section", { class: "panel", "aria-label": "Filters" }, filterForm(ctx, filters)),
    h("section", { class: "panel events-panel", "aria-label": "Events" }, results, pager));

  let busy = false;
  const load = async () => {
    busy = true;
    nextCursor = null;
    mount(pageLabel);
    await fill(results, async () => {
      const params = { ...filters, limit: PAGE_SIZE, cursor: cursor || undefined };
      const page = await get(`/v1/projects/${ctx.project.id}/events`, params);
      nextCursor = page.next_cursor || null;
      mount(pageLabel, `Page ${stack.length + 1}`, page.events.length ? ` · ${f.integer(page.events.length)} events` : "");
      if (!page.events.length) {
        return stack.length ? empty("No more events", "Go back to the previous page.") : nothingFound(ctx, filters);
      }
      return eventsTable(ctx, page.events, { caption: "Events, newest first", id: "events-table" });
    });
    busy = false;
    const focused = document.activeElement;
    prev.disabled = stack.length === 0;
    next.disabled = !nextCursor;
    pager.classList.toggle("hidden", stack.length === 0 && !nextCursor);
    // Keep the keyboard where it was: a button that just turned disabled hands focus to the other one.
    if ((focused === next || focused === prev) && focused.disabled) (focused === next ? prev : next).focus();
  };
  const turn = async (forward) => {
    if (busy || (forward ? !nextCursor : !stack.length)) return;
    if (forward) {
      stack.push(cursor);
      cursor = nextCursor;
    } else {
      cursor = stack.pop();
    }
    await load();
    if (results.getBoundingClientRect().top < 0) results.scrollIntoView({ block: "start" });
  };
  next.addEventListener("click", () => turn(true));
  prev.addEventListener("click", () => turn(false));
  await load();
}
