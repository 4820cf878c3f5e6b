// The app: configuration, session, routes (in the URL's hash), the frame around every page and
// the live feed for the project on screen.

import * as api from "./api.js";
import { h, mount } from "./dom.js";
import { destroyCharts } from "./charts.js";
import { LiveFeed } from "./live.js";
import { short } from "./format.js";
import { errorBox, loading, notify } from "./ui.js";
import { fromParams } from "./window.js";
import * as overview from "./pages/overview.js";
import * as login from "./pages/login.js";

const PROJECT_PAGES = [
  ["overview", "Overview"],
  ["events", "Events"],
  ["forecast", "Forecast"],
  ["budgets", "Budgets"],
  ["anomalies", "Anomalies"],
  ["exports", "Exports"],
  ["settings", "Settings"],
];
const LOADERS = {
  overview: async () => overview,
  endpoint: () => import("./pages/endpoint.js"),
  consumer: () => import("./pages/consumer.js"),
  events: () => import("./pages/events.js"),
  exports: () => import("./pages/exports.js"),
  forecast: () => import("./pages/forecast.js"),
  budgets: () => import("./pages/budgets.js"),
  anomalies: () => import("./pages/anomalies.js"),
  settings: () => import("./pages/settings.js"),
  team: () => import("./pages/team.js"),
  projects: () => import("./pages/projects.js"),
};

const session = { me: null, tenant: null, permissions: new Map(), projects: null };
const root = () => document.getElementById("app");
let feed = null;
let cleanups = [];
let rendering = 0;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, search] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search || "") };
}

export function go(path, params) {
  const search = params ? new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString() : "";
  const target = "#" + path + (search ? "?" + search : "");
  if (window.location.hash === target) render();
  else window.location.hash = target;
}

function can(action) {
  const roles = session.permissions.get(action);
  return Boolean(roles && session.me && roles.includes(session.me.role));
}

async function loadSession() {
  if (session.me) return;
  const [me, roles, projects] = await Promise.all([api.get("/v1/auth/me"), api.get("/v1/roles"), api.get("/v1/projects")]);
  session.me = me.user;
  session.tenant = me.tenant;
  session.permissions = new Map(roles.permissions.map((p) => [p.action, p.roles]));
  session.projects = projects.projects;
}

async function reloadProjects() {
  session.projects = (await api.get("/v1/projects")).projects;
  return session.projects;
}

function liveFeed() {
  const url = api.settings().live_url;
  if (!url) return null;
  if (!feed) {
    feed = new LiveFeed(url, api.accessToken);
    feed.on("alert", (message) => notify("Budget alert", message.alert.message, "warning"));
    feed.on("anomaly", (message) => {
      const a = message.anomaly;
      const where = a.value ? `${a.dimension} ${a.value}` : "the project";
      const band = `${short(a.lower)}–${short(a.upper)}`;
      notify(`Anomaly: ${a.severity}`, `${a.metric.replace("_", " ")} of ${where}: ${short(a.observed)}, expected ${band}`, "warning");
    });
    feed.on("status", (status) => {
      const dot = document.getElementById("live-status");
      if (dot) {
        dot.dataset.status = status;
        dot.textContent = status === "live" ? "live" : status === "connecting" ? "connecting" : "offline";
      }
    });
  }
  return feed;
}

function header(project, page) {
  const picker = h("select", { id: "project-picker", "aria-label": "Project", onchange: (event) => go(`/p/${event.target.value}/${page === "team" || page === "projects" ? "overview" : page}`) },
    (session.projects || []).map((p) => h("option", { value: p.id, selected: project && p.id === project.id }, p.name)));
  const nav = project
    ? PROJECT_PAGES.map(([key, label]) => h("a", { href: `#/p/${project.id}/${key}`, "aria-current": page === key ? "page" : null }, label))
    : [];
  const team = can("users.read") ? h("a", { href: "#/team", "aria-current": page === "team" ? "page" : null }, "Team") : null;
  const status = feed ? feed.status : "off";
  return h("header", { class: "top" },
    h("div", { class: "top-row" },
      h("a", { class: "brand", href: "#/" }, "apimeter"),
      h("span", { class: "org", title: "Organization" }, session.tenant ? session.tenant.name : ""),
      project ? picker : h("a", { href: "#/projects" }, "Projects"),
      h("span", { class: "spacer" }),
      project ? h("span", { id: "live-status", class: "live", "data-status": status, role: "status", "aria-label": "Live updates" }, status === "live" ? "live" : status) : null,
      h("span", { class: "who" }, session.me.email, " · ", session.me.role),
      h("button", { type: "button", class: "btn ghost", id: "sign-out", onclick: signOut }, "Sign out"),
    ),
    h("nav", { class: "tabs", "aria-label": "Pages" }, nav, project ? h("a", { href: "#/projects", "aria-current": page === "projects" ? "page" : null }, "Projects") : null, team),
  );
}

async function signOut() {
  if (feed) feed.close();
  feed = null;
  await api.logout();
}

function resetSession() {
  session.me = null;
  session.projects = null;
}

async function render() {
  const ticket = ++rendering;
  cleanups.forEach((cleanup) => cleanup());
  cleanups = [];
  destroyCharts();
  const { parts, params } = parseHash();
  const app = root();
  if (!api.signedIn()) {
    await api.refresh().catch(() => {});
    if (ticket !== rendering) return;
  }
  if (!api.signedIn()) {
    mount(app, login.render({ next: parts[0] === "login" ? params.get("next") : window.location.hash }));
    document.title = "Sign in · apimeter";
    return;
  }
  // The overview's summary is what its first paint waits for: ask for it beside the session.
  const early = parts[0] === "p" && (parts[2] || "overview") === "overview" ? overview.prefetch(parts[1], params) : null;
  try {
    await loadSession();
  } catch (error) {
    mount(app, h("main", { id: "main", class: "page" }, errorBox(error)));
    return;
  }
  if (ticket !== rendering) return;
  let page = parts[0] === "p" ? parts[2] || "overview" : parts[0] || "";
  let project = null;
  if (parts[0] === "p") {
    project = session.projects.find((p) => p.id === parts[1]) || null;
    if (!project) {
      await reloadProjects().catch(() => {});
      project = session.projects.find((p) => p.id === parts[1]) || null;
    }
    if (!project) page = "projects";
  } else if (page === "" || page === "login") {
    if (session.projects.length === 1) return go(`/p/${session.projects[0].id}/overview`);
    page = "projects";
  }
  if (!LOADERS[page]) page = project ? "overview" : "projects";
  const live = project ? liveFeed() : null;
  if (live) live.watch(project.id);
  const main = h("main", { id: "main", class: "page", tabindex: "-1" }, loading());
  mount(app, header(project, page), main);
  document.title = `${page[0].toUpperCase() + page.slice(1)}${project ? " · " + project.name : ""} · apimeter`;
  const context = {
    session,
    project,
    params,
    window: fromParams(params),
    timeZone: (project && project.timezone) || "UTC",
    can,
    go,
    live,
    onLive: (type, handler) => {
      if (live) cleanups.push(live.on(type, handler));
    },
    onLeave: (cleanup) => cleanups.push(cleanup),
    setParams: (updates) => {
      const next = new URLSearchParams(params);
      for (const [key, value] of Object.entries(updates)) {
        if (value === undefined || value === null || value === "") next.delete(key);
        else next.set(key, value);
      }
      if (updates.window) next.delete("from"), next.delete("to");
      if (updates.from) next.delete("window");
      go("/" + parts.join("/"), Object.fromEntries(next));
    },
    reloadProjects,
    args: parts.slice(3),
    early,
  };
  try {
    const module = await LOADERS[page]();
    if (ticket !== rendering) return;
    await module.render(context, main);
  } catch (error) {
    if (ticket === rendering) mount(main, errorBox(error));
  }
}

async function start() {
  try {
    await api.configure();
  } catch (error) {
    mount(root(), h("main", { class: "page" }, errorBox(error)));
    return;
  }
  api.onSession((on) => {
    if (!on) {
      resetSession();
      if (feed) feed.close();
      feed = null;
    }
    render();
  });
  window.addEventListener("hashchange", render);
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault(); // the hash is the route
    const main = document.getElementById("main");
    if (main) main.focus();
  });
  render();
}

start();
