// Charts over time, on uPlot (pinned, served from this origin: vendor/uPlot.iife.min.js).

import { h } from "./dom.js";

export const COLORS = {
  requests: "#3a6df0",
  errors: "#d4493b",
  p50: "#2f9e6e",
  p95: "#e39b1b",
  p99: "#b5477f",
  forecast: "#7a5af5",
  band80: "rgba(122, 90, 245, 0.22)",
  band95: "rgba(122, 90, 245, 0.10)",
  muted: "#8a94a6",
};

const live = new Set();

/** Destroys every chart made since the last call (route changes call it). */
export function destroyCharts() {
  live.forEach((destroy) => destroy());
  live.clear();
}

function axisValues(format) {
  return (_u, ticks) => ticks.map((v) => (v === null ? "" : format(v)));
}

/**
 * A time chart in a new element.
 *   ts: epoch seconds; series: [{label, values, color, kind: "line" | "bars", dash, fill, format}]
 *   bands: [{upper: index, lower: index, fill}] fill between two series (forecast intervals)
 */
export function timeChart({ ts, series, timeZone = "UTC", height = 220, format = (v) => String(v), label, bands = [] }) {
  const element = h("div", { class: "chart", role: "img", "aria-label": label || "chart" });
  if (typeof window.uPlot !== "function") return element;
  const uPlot = window.uPlot;
  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined;
  const options = {
    width: 400,
    height,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), timeZone),
    legend: { live: true },
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.08 : 1] } },
    axes: [
      { stroke: "#5b6475", grid: { stroke: "#eef0f4" }, ticks: { stroke: "#e3e6ec" } },
      { stroke: "#5b6475", grid: { stroke: "#eef0f4" }, ticks: { stroke: "#e3e6ec" }, size: 64, values: axisValues(format) },
    ],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: s.width ?? (s.kind === "bars" ? 0 : 2),
        fill: s.fill || (s.kind === "bars" ? s.color : undefined),
        dash: s.dash,
        paths: s.kind === "bars" ? bars : undefined,
        // A line needs two neighbours to show; sparse series get their points drawn.
        points: { show: s.kind !== "bars" && s.values.filter((v) => v !== null && v !== undefined).length < 24, size: 5 },
        spanGaps: false,
        value: (_u, v) => (v === null || v === undefined ? "–" : (s.format || format)(v)),
      })),
    ],
    bands: bands.map((b) => ({ series: [b.upper + 1, b.lower + 1], fill: b.fill })),
  };
  const data = [ts, ...series.map((s) => s.values)];
  const chart = new uPlot(options, data, element);
  const resize = () => {
    const width = Math.max(200, element.clientWidth);
    if (width !== chart.width) chart.setSize({ width, height });
  };
  const observer = new ResizeObserver(resize);
  observer.observe(element);
  requestAnimationFrame(resize);
  live.add(() => {
    observer.disconnect();
    chart.destroy();
  });
  return element;
}

/** Horizontal share bars (status classes, methods): plain elements, readable without a canvas. */
export function shareBars(items, { format = (v) => String(v), colors = {} } = {}) {
  const total = items.reduce((sum, item) => sum + item.value, 0) || 1;
  return h(
    "ul",
    { class: "bars" },
    items.map((item) => {
      const fill = h("span", { class: "bar-fill" });
      fill.style.width = ((100 * item.value) / total).toFixed(2) + "%";
      if (colors[item.label]) fill.style.background = colors[item.label];
      return h("li", null, h("span", { class: "bar-label" }, item.label), h("span", { class: "bar-track" }, fill),
        h("span", { class: "bar-value" }, format(item.value)));
    }),
  );
}
