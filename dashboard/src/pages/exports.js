// Exports of raw events: start one (a range in the project's zone, CSV or JSON lines, the API's
// filters), see the recent ones, follow a running one every 2 s while the page is open, download it.

import { get, post } from "../api.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { badge, empty, field, fill, notify, panel, submitting } from "../ui.js";

const POLL_MS = 2000;
const LIST_SIZE = 20;
const FILTERS = ["endpoint", "method", "status", "consumer"];
const STATUS_KINDS = { queued: "", running: "warn", ready: "good", failed: "bad" };
const pending = (e) => e.status === "queued" || e.status === "running";

function filtersText(filters) {
  const entries = Object.entries(filters || {});
  if (!entries.length) return h("span", { class: "muted" }, "all events");
  return h("ul", { class: "plain-list" },
    entries.map(([key, value]) => h("li", null, h("span", { class: "muted" }, key, ": "), String(value))));
}

function downloadCell(exp) {
  if (exp.status === "failed") return h("span", { class: "error-text" }, exp.error || "The export failed.");
  if (pending(exp)) {
    return h("span", { class: "muted", role: "status" }, exp.status === "queued" ? "Waiting to start…" : "Writing…");
  }
  if (!exp.download_url) return h("span", { class: "muted" }, "No link: reload the page for a fresh one.");
  return h("a", { href: exp.download_url, download: "", class: "btn small", "data-action": "download", "data-export-id": exp.id,
    rel: "noopener" }, `Download ${exp.format.toUpperCase()}`);
}

function exportRow(ctx, exp) {
  const zone = ctx.timeZone;
  return h("tr", { "data-export-id": exp.id, "data-status": exp.status },
    h("td", null, h("time", { datetime: exp.created_at }, f.dateTime(exp.created_at, zone))),
    h("td", null, badge(exp.status, STATUS_KINDS[exp.status] || ""),
      exp.finished_at ? h("div", { class: "muted small" }, "finished ", f.dateTime(exp.finished_at, zone)) : null),
    h("td", null, exp.format.toUpperCase()),
    h("td", null, f.dateTime(exp.from, zone), " – ", f.dateTime(exp.to, zone)),
    h("td", { class: "filters" }, filtersText(exp.filters)),
    h("td", { class: "num" }, f.integer(exp.rows)),
    h("td", { class: "num" }, f.bytes(exp.bytes)),
    h("td", { class: "download" }, downloadCell(exp)));
}

function exportsTable(ctx, list, rows) {
  const head = h("tr", null, ["Created", "Status", "Format", `Range (${ctx.timeZone})`, "Filters", "Rows", "Size", "File"]
    .map((label, i) => h("th", { scope: "col", class: i === 5 || i === 6 ? "num" : null }, label)));
  const body = h("tbody", null, list.map((exp) => {
    const row = exportRow(ctx, exp);
    rows.set(exp.id, row);
    return row;
  }));
  return h("div", { class: "table-wrap" }, h("table", { id: "exports-table" },
    h("caption", { class: "sr-only" }, "Recent exports, newest first"), h("thead", null, head), body));
}

function exportForm(ctx, onCreated) {
  const zone = ctx.timeZone;
  const params = ctx.params;
  const now = new Date();
  const fromIso = params.get("from") || new Date(now.getTime() - 86_400_000).toISOString();
  const toIso = params.get("to") || now.toISOString();
  const input = (name, attributes) => h("input", { name, id: `export-${name}`, value: params.get(name) || "", ...attributes });
  const form = h("form", { id: "export-form", "aria-label": "Create an export" },
    h("div", { class: "form-row" },
      field(`From (${zone})`, input("from", { type: "datetime-local", required: true, value: f.utcToZoned(fromIso, zone) })),
      field(`To (${zone})`, input("to", { type: "datetime-local", required: true, value: f.utcToZoned(toIso, zone) })),
      field("Format", h("select", { name: "format", id: "export-format" },
        h("option", { value: "csv" }, "CSV"), h("option", { value: "jsonl" }, "JSON lines")))),
    h("fieldset", null, h("legend", null, "Only events with (optional)"),
      h("div", { class: "form-row" },
        field("Endpoint", input("endpoint", { type: "text", maxlength: 512, placeholder: "/users/{id}" })),
        field("Method", input("method", { type: "text", maxlength: 16, size: 8, placeholder: "any" })),
        field("Status", input("status", { type: "number", min: 100, max: 599, step: 1, placeholder: "any" })),
        field("Consumer", input("consumer", { type: "text", maxlength: 256 })))),
    h("div", { class: "form-row" },
      h("button", { type: "submit", class: "btn primary", id: "export-create" }, "Create export"),
      h("small", { class: "muted" }, "The range ends before To; at most 400 days. Files are kept for 7 days.")));
  return submitting(form, async (data) => {
    const from = f.zonedToUtc(String(data.get("from")), zone);
    const to = f.zonedToUtc(String(data.get("to")), zone);
    const filters = {};
    for (const key of FILTERS) {
      const value = String(data.get(key) || "").trim();
      if (value) filters[key] = key === "status" ? Number(value) : key === "method" ? value.toUpperCase() : value;
    }
    const body = { from, to, format: String(data.get("format")), filters: Object.keys(filters).length ? filters : null };
    const created = await post(`/v1/projects/${ctx.project.id}/exports`, body);
    const range = `${f.dateTime(created.from, zone)} – ${f.dateTime(created.to, zone)}`;
    notify("Export started", `${created.format.toUpperCase()} of ${range}`, "success");
    onCreated(created);
  });
}

export async function render(ctx, main) {
  const base = `/v1/projects/${ctx.project.id}/exports`;
  // The API lets whoever may read analytics create exports (logic/exports.py: create() checks analytics.read).
  const mayCreate = ctx.can("analytics.read");
  const listBox = h("div", { id: "exports-list" });
  const rows = new Map(); // export id -> its <tr>
  const following = new Set(); // ids of queued or running exports
  let timer = null;
  let left = false;
  ctx.onLeave(() => {
    left = true;
    clearTimeout(timer);
  });

  const show = (exp) => {
    const old = rows.get(exp.id);
    if (!old || left) return;
    const row = exportRow(ctx, exp);
    old.replaceWith(row);
    rows.set(exp.id, row);
  };
  const fetchOne = async (id) => {
    if (left) return null;
    try {
      const exp = await get(`${base}/${encodeURIComponent(id)}`);
      show(exp);
      return exp;
    } catch (error) {
      const row = rows.get(id);
      if (row && !left) mount(row.querySelector(".download"), h("span", { class: "error-text" }, error.message));
      return null;
    }
  };
  const poll = async () => {
    timer = null;
    await Promise.all([...following].map(async (id) => {
      const exp = await fetchOne(id);
      if (exp && !pending(exp)) following.delete(id);
    }));
    schedule();
  };
  const schedule = () => {
    if (!left && following.size && timer === null) timer = setTimeout(poll, POLL_MS);
  };

  const load = () => fill(listBox, async () => {
    const answer = await get(base, { limit: LIST_SIZE });
    rows.clear();
    following.clear();
    if (!answer.exports.length) {
      return empty("No exports yet", mayCreate ? "Create one above: the events of a range, as a CSV or JSON-lines file." : "");
    }
    const element = exportsTable(ctx, answer.exports, rows);
    if (left) return element;
    answer.exports.forEach((exp) => {
      if (pending(exp)) following.add(exp.id);
    });
    schedule();
    return element;
  });

  const onCreated = async () => {
    if (left) return;
    clearTimeout(timer);
    timer = null;
    await load();
  };
  mount(main,
    h("div", { class: "page-head" }, h("h1", null, "Exports", h("small", null, " · raw events to a file"))),
    h("div", { class: "grid" },
      mayCreate ? panel("New export", exportForm(ctx, onCreated), { wide: true }) : null,
      panel("Recent exports", listBox, { wide: true })));
  await load();
}
