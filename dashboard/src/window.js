// The time window every analytics page shares: 1h, 24h (default), 7d, 30d, or a custom range in the
// project's time zone. It lives in the URL (#/p/<id>/overview?window=7d), so a view can be shared.

import { h } from "./dom.js";
import { utcToZoned, zonedToUtc } from "./format.js";

export const WINDOWS = ["1h", "24h", "7d", "30d"];
const SECONDS = { "1h": 3600, "24h": 86_400, "7d": 604_800, "30d": 2_592_000 };

export function fromParams(params) {
  if (params.get("from")) return { from: params.get("from"), to: params.get("to") || null };
  const key = params.get("window");
  return { window: WINDOWS.includes(key) ? key : "24h" };
}

/** Query parameters the metrics endpoints take for this window. */
export function query(window) {
  return window.window ? { window: window.window } : { from: window.from, to: window.to || undefined };
}

export function seconds(window) {
  if (window.window) return SECONDS[window.window];
  const end = window.to ? Date.parse(window.to) : Date.now();
  return Math.max(60, (end - Date.parse(window.from)) / 1000);
}

/** The timeseries request for a window: a granularity that gives a readable number of points. */
export function series(window) {
  const span = seconds(window);
  const granularity = span <= 6 * 3600 ? "minute" : span <= 8 * 86_400 ? "hour" : "day";
  const from = window.from || new Date(Date.now() - span * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  return { granularity, from, to: window.to || undefined };
}

export function label(window, timeZone) {
  if (window.window) return { "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days" }[window.window];
  return `${utcToZoned(window.from, timeZone).replace("T", " ")} – ${window.to ? utcToZoned(window.to, timeZone).replace("T", " ") : "now"} (${timeZone})`;
}

/** The picker: one button per window and a custom range; onChange gets the new URL parameters. */
export function picker(window, timeZone, onChange) {
  const custom = !window.window;
  const now = new Date().toISOString();
  const from = h("input", { type: "datetime-local", name: "from", required: true,
    value: utcToZoned(window.from || new Date(Date.now() - 86_400_000).toISOString(), timeZone) });
  const to = h("input", { type: "datetime-local", name: "to", value: window.to ? utcToZoned(window.to, timeZone) : utcToZoned(now, timeZone) });
  const form = h("form", { class: ["custom-range", !custom && "hidden"] },
    h("label", null, "From ", from), h("label", null, "to ", to),
    h("button", { type: "submit", class: "btn small" }, "Apply"), h("small", null, timeZone));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const start = zonedToUtc(from.value, timeZone);
    const end = to.value ? zonedToUtc(to.value, timeZone) : null;
    if (start) onChange({ from: start, to: end || "" });
  });
  const buttons = WINDOWS.map((key) =>
    h("button", { type: "button", class: "seg", "aria-pressed": String(window.window === key), onclick: () => onChange({ window: key }) }, key),
  );
  const toggle = h("button", { type: "button", class: "seg", "aria-pressed": String(custom), "aria-expanded": String(custom),
    onclick: () => {
      form.classList.toggle("hidden");
      toggle.setAttribute("aria-expanded", String(!form.classList.contains("hidden")));
      if (!form.classList.contains("hidden")) from.focus();
    } }, "Custom");
  return h("div", { class: "window-picker" }, h("div", { class: "segments", role: "group", "aria-label": "Time window" }, buttons, toggle), form);
}
