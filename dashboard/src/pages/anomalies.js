// A project's anomalies: hours whose requests, error rate or p95 latency left the band the project's
// own history expected, for the project, its busiest endpoints and consumers. Newest first, in the
// project's zone, with each one's verdict (real, false, planned); new ones appear live.

import { get, patch } from "../api.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { badge, button, empty, fill, notify } from "../ui.js";

const WINDOWS = ["1h", "24h", "7d", "30d"];
const WINDOW_LABELS = { "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days" };
const METRICS = {
  requests: { label: "Requests", format: f.integer },
  error_rate: { label: "Error rate", format: (v) => f.percent(v, 2) },
  latency_p95: { label: "p95 latency", format: f.ms },
};
const FEEDBACK = {
  real: { button: "Real", label: "Mark real", done: "Marked real", note: "This hour leaves the baseline it is compared with." },
  false: { button: "False", label: "Mark false", done: "Marked false alarm",
    note: "This series' detector becomes less sensitive." },
  planned: { button: "Planned", label: "Mark planned", done: "Marked planned",
    note: "This hour leaves the baseline it is compared with." },
};
const HOUR = 3_600_000;
const metricLabel = (anomaly) => (METRICS[anomaly.metric] ? METRICS[anomaly.metric].label : anomaly.metric);

function chosenWindow(params) {
  const key = params.get("window");
  return WINDOWS.includes(key) ? key : "7d";
}

function windowPicker(current, onChange) {
  return h("div", { class: "segments", role: "group", "aria-label": "Time window" },
    WINDOWS.map((key) => h("button", { type: "button", class: "seg", "aria-pressed": String(key === current),
      "data-window": key, onclick: () => onChange(key) }, key)));
}

/** The drill-down of an endpoint ("METHOD /route") or consumer anomaly, around its hour. */
function drillDown(ctx, anomaly) {
  if (!anomaly.value || anomaly.value === "other") return null;
  const start = Date.parse(anomaly.hour);
  const range = { from: new Date(start - 12 * HOUR).toISOString().replace(".000Z", "Z") };
  if (start + 13 * HOUR < Date.now()) range.to = new Date(start + 13 * HOUR).toISOString().replace(".000Z", "Z");
  const base = `#/p/${ctx.project.id}`;
  if (anomaly.dimension === "consumer") {
    return base + "/consumer?" + new URLSearchParams({ consumer: anomaly.value, ...range }).toString();
  }
  if (anomaly.dimension === "endpoint") {
    const space = anomaly.value.indexOf(" ");
    if (space < 1) return null;
    const method = anomaly.value.slice(0, space);
    const endpoint = anomaly.value.slice(space + 1);
    return base + "/endpoint?" + new URLSearchParams({ method, endpoint, ...range }).toString();
  }
  return null;
}

function where(ctx, anomaly) {
  if (anomaly.dimension === "project") return h("span", { class: "anomaly-where" }, "Whole project");
  const kind = anomaly.dimension === "endpoint" ? "Endpoint" : "Consumer";
  const link = drillDown(ctx, anomaly);
  const text = anomaly.value === "other" ? `other (${kind.toLowerCase()}s past the project's cap)` : anomaly.value;
  const space = anomaly.dimension === "endpoint" && anomaly.value !== "other" ? anomaly.value.indexOf(" ") : -1;
  const shown = space > 0
    ? [h("span", { class: "method" }, anomaly.value.slice(0, space)), " ", h("code", null, anomaly.value.slice(space + 1))]
    : h("code", null, text);
  return h("span", { class: "anomaly-where" }, h("span", { class: "muted" }, kind, " "),
    link ? h("a", { href: link, "aria-label": `${kind} ${anomaly.value}: details around this hour` }, shown) : shown);
}

function direction(anomaly) {
  if (anomaly.direction === "up") return h("span", { class: "anomaly-direction up" }, "▲ above the band");
  if (anomaly.direction === "down") return h("span", { class: "anomaly-direction down" }, "▼ below the band");
  return h("span", { class: "anomaly-direction" }, "outside the band");
}

function feedbackState(anomaly) {
  return anomaly.feedback
    ? badge(FEEDBACK[anomaly.feedback].done, anomaly.feedback === "false" ? "" : "good")
    : h("span", { class: "muted small" }, "No verdict yet");
}

function feedbackButtons(ctx, anomaly, onRecorded) {
  if (!ctx.can("projects.manage")) return null;
  const buttons = Object.entries(FEEDBACK).map(([value, text]) => {
    const control = button(text.button, async () => {
      buttons.forEach((b) => (b.disabled = true));
      try {
        const updated = await patch(`/v1/projects/${ctx.project.id}/anomalies/${encodeURIComponent(anomaly.id)}`,
          { feedback: value });
        notify("Feedback recorded", `${FEEDBACK[updated.feedback || value].done}. ${text.note}`, "success");
        onRecorded({ ...anomaly, ...updated, feedback: updated.feedback || value });
      } catch (error) {
        buttons.forEach((b) => (b.disabled = false));
        notify("Feedback not recorded", error.message, "error");
      }
    }, { kind: "small", label: `${text.label}: ${metricLabel(anomaly)}, ${anomaly.value || "whole project"}` });
    control.dataset.feedback = value;
    control.setAttribute("aria-pressed", String(anomaly.feedback === value));
    control.title = text.label;
    return control;
  });
  return h("div", { class: "anomaly-feedback-buttons", role: "group", "aria-label": "Your verdict" }, buttons);
}

function row(ctx, anomaly, { fresh = false, onFeedback } = {}) {
  const metric = METRICS[anomaly.metric] || { label: anomaly.metric, format: f.short };
  const item = h("li", { class: ["anomaly", `severity-${anomaly.severity}`, fresh && "fresh"] });
  item.dataset.anomalyId = anomaly.id;
  const draw = (current) => mount(item,
    h("div", { class: "anomaly-head" },
      badge(anomaly.severity, anomaly.severity),
      h("strong", null, metric.label),
      where(ctx, current),
      h("span", { class: "anomaly-hour muted" }, h("time", { datetime: current.hour }, f.dateTime(current.hour, ctx.timeZone)))),
    h("dl", { class: "anomaly-figures" },
      h("div", null, h("dt", null, "Observed"), h("dd", { "data-field": "observed" }, metric.format(current.observed))),
      h("div", null, h("dt", null, "Expected"), h("dd", { "data-field": "expected" }, metric.format(current.expected),
        h("span", { class: "muted" }, " [", metric.format(current.lower), " – ", metric.format(current.upper), "]"))),
      h("div", null, h("dt", null, "Direction"), h("dd", null, direction(current))),
      h("div", null, h("dt", null, "Score"), h("dd", { "data-field": "score", title: "Anomaly likelihood, 0 to 1" },
        current.score.toFixed(2)))),
    h("div", { class: "anomaly-feedback" },
      h("span", { class: "anomaly-feedback-state", "data-field": "feedback" }, feedbackState(current)),
      feedbackButtons(ctx, current, (updated) => {
        draw(updated);
        const pressed = item.querySelector(`[data-feedback="${updated.feedback}"]`);
        if (pressed) pressed.focus(); // the redrawn row keeps the keyboard where it was
        if (onFeedback) onFeedback(updated);
      })));
  draw(anomaly);
  return item;
}

function emptyState(current, onChange) {
  return empty(`No anomalies in the ${WINDOW_LABELS[current]}`,
    h("p", null, "An anomaly is a finished hour whose requests, error rate or p95 latency fell outside the band the project's ",
      "own history expected for that hour (its trend and its daily and weekly pattern), for the whole project, its busiest ",
      "endpoints or its busiest consumers."),
    h("p", null, "The hourly pipeline judges every finished hour at a quarter past the hour. What it finds is listed here, ",
      "and appears on this page as soon as it is found while the page is open."),
    current !== "30d" ? button("Look at the last 30 days", () => onChange("30d"), { kind: "primary" }) : null);
}

export async function render(ctx, main) {
  const current = chosenWindow(ctx.params);
  const onChange = (key) => ctx.setParams({ window: key });
  const body = h("div", { class: "panel wide anomalies" });
  const count = h("small", null);
  let anomalies = [];
  let loaded = false;

  const fresh = new Set();
  const remember = (updated) => (anomalies = anomalies.map((a) => (a.id === updated.id ? updated : a)));
  const content = () => {
    mount(count, " · ", WINDOW_LABELS[current], ", ", anomalies.length === 1 ? "1 anomaly" : `${anomalies.length} anomalies`);
    if (!anomalies.length) return emptyState(current, onChange);
    return [
      h("p", { class: "muted small" }, "Newest first; hours in ", ctx.timeZone, ". The band is what the detector expected."),
      h("ol", { class: "anomaly-list", id: "anomaly-list" },
        anomalies.map((a) => row(ctx, a, { fresh: fresh.has(a.id), onFeedback: remember }))),
    ];
  };

  mount(main,
    h("div", { class: "page-head" },
      h("h1", null, "Anomalies", count),
      windowPicker(current, onChange)),
    body);

  // A new anomaly (the pipeline found it just now) goes on top while the page is open.
  const pending = [];
  ctx.onLive("anomaly", (message) => {
    const found = message.anomaly;
    if (!found) return;
    if (!loaded) return void pending.push(found);
    if (anomalies.some((a) => a.id === found.id)) return;
    anomalies = [found, ...anomalies];
    fresh.add(found.id);
    mount(body, content());
  });

  await fill(body, async () => {
    const answer = await get(`/v1/projects/${ctx.project.id}/anomalies`, { window: current });
    const known = new Set(answer.anomalies.map((a) => a.id));
    const early = pending.filter((a) => !known.has(a.id));
    early.forEach((a) => fresh.add(a.id));
    anomalies = [...early, ...answer.anomalies];
    loaded = true;
    return content();
  });
}
