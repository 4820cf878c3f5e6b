// A project's settings: its API keys (list, create, revoke, rotate with a grace period; a new secret
// is shown once and never stored) and its own settings (name, retention, IP privacy, time zone,
// pricing), with deleting the project in a danger zone. Controls only for those who may use them.

import { del, get, patch, post } from "../api.js";
import { h, mount } from "../dom.js";
import * as f from "../format.js";
import { badge, button, copyButton, empty, field, fill, notify, panel, submitting, table } from "../ui.js";

const SCOPES = [
  ["track", "track: send events"],
  ["read", "read: read this project's analytics"],
];
const GRACE = [
  [0, "None: the old secret stops now"],
  [3600, "1 hour"],
  [86400, "24 hours"],
  [604800, "7 days"],
];
const IP_PRIVACY = [
  ["full", "Full", "Callers' IP addresses are kept as sent."],
  ["hashed", "Hashed", "A keyed hash (per project) is kept: callers still count apart, but no address can be read back."],
  ["none", "None", "No IP address is kept at all."],
];

/** Roles allowed an action, for "ask an owner or admin" hints. */
export function whoMay(ctx, action) {
  const roles = (ctx.session.permissions && ctx.session.permissions.get(action)) || [];
  return roles.length ? roles.join(", ").replace(/, ([^,]*)$/, " or $1") : "an administrator";
}

/** A secret shown once: the text, a copy button, a warning, and a way to dismiss it. Nothing keeps it. */
export function secretBox(id, title, secret, note) {
  const box = h("div", { class: "secret", id, role: "status", tabindex: "-1" },
    h("strong", { class: "secret-title" }, title),
    h("code", { "data-secret": "" }, secret),
    copyButton(secret),
    h("p", { class: "secret-warning" }, "Copy it now: it will not be shown again. ", note || ""),
    button("Dismiss", () => box.remove(), { kind: "small ghost", label: "Dismiss the secret" }));
  box.querySelector("button.ghost").dataset.action = "dismiss-secret";
  return box;
}

export function zones(current) {
  const list = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set(["UTC", current, ...list].filter(Boolean))];
}

export function zoneSelect(attributes, current) {
  return h("select", attributes, zones(current).map((zone) => h("option", { value: zone, selected: zone === current }, zone)));
}

/* ---------- API keys ---------- */

function keyStatus(key) {
  if (key.status === "revoked") return badge("revoked", "bad");
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return badge("expired", "warn");
  return badge("active", "good");
}

function keyColumns(state, actions) {
  const at = (iso, none) => (iso ? f.dateTime(iso, state.tz) : h("span", { class: "muted" }, none));
  const columns = [
    { label: "Name", value: (k) => k.name },
    { label: "Prefix", value: (k) => h("code", { class: "nowrap" }, k.prefix) },
    { label: "Scopes", value: (k) => k.scopes.map((s) => [badge(s), " "]) },
    { label: "Status", value: keyStatus },
    { label: "Created", value: (k) => at(k.created_at, "–") },
    { label: "Last used", value: (k) => at(k.last_used_at, "never") },
    { label: "Expires", value: (k) => at(k.expires_at, "never") },
    { label: "Revoked", value: (k) => at(k.revoked_at, "–") },
  ];
  if (actions) columns.push({ label: "Actions", value: actions });
  return columns;
}

function rotateForm(ctx, state, key, cell, restore) {
  const grace = h("select", { name: "grace_seconds", "data-field": "grace" },
    GRACE.map(([seconds, label]) => h("option", { value: seconds, selected: seconds === 86400 }, label)));
  const form = h("form", { class: "rotate-form", "data-key-id": key.id, "aria-label": `Rotate key ${key.name}` },
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Old secret keeps working for"), grace),
    h("div", { class: "form-row" },
      h("button", { type: "submit", class: "btn small primary", "data-action": "confirm-rotate", "data-key-id": key.id },
        "Rotate"),
      button("Cancel", restore, { kind: "small ghost" })));
  submitting(form, async (data) => {
    const seconds = Number(data.get("grace_seconds"));
    const warning = `Rotate "${key.name}" with no grace period? Its current secret stops working now.`;
    if (seconds === 0 && !window.confirm(warning)) return;
    const rotated = await post(`/v1/projects/${ctx.project.id}/keys/${key.id}/rotate`, { grace_seconds: seconds });
    const until = seconds ? `The previous secret works until ${f.dateTime(rotated.previous_valid_until, state.tz)}.` : "";
    state.showSecret(`New secret for "${rotated.name}"`, rotated.key, until);
    notify("Key rotated", `"${rotated.name}" has a new secret.`, "success");
    state.loadKeys();
  });
  mount(cell, form);
  grace.focus();
}

function keyActions(ctx, state) {
  return (key) => {
    if (key.status !== "active") return h("span", { class: "muted" }, "–");
    const cell = h("div", { class: "key-actions" });
    const restore = () => mount(cell, rotate, revoke);
    const rotate = h("button", { type: "button", class: "btn small", "data-action": "rotate", "data-key-id": key.id,
      "aria-label": `Rotate key ${key.name}`, onclick: () => rotateForm(ctx, state, key, cell, restore) }, "Rotate");
    const revoke = h("button", { type: "button", class: "btn small danger", "data-action": "revoke", "data-key-id": key.id,
      "aria-label": `Revoke key ${key.name}`, onclick: () => revokeKey(ctx, state, key, revoke) }, "Revoke");
    restore();
    return cell;
  };
}

async function revokeKey(ctx, state, key, control) {
  if (!window.confirm(`Revoke the key "${key.name}" (${key.prefix})? Anything using it stops working now.`)) return;
  control.disabled = true;
  try {
    await del(`/v1/projects/${ctx.project.id}/keys/${key.id}`);
    notify("Key revoked", `"${key.name}" no longer works.`, "success");
    state.loadKeys();
  } catch (error) {
    control.disabled = false;
    notify("The key was not revoked", error.message, "error");
  }
}

function keyForm(ctx, state) {
  const name = h("input", { name: "name", id: "key-name", required: true, maxlength: 200, autocomplete: "off",
    placeholder: "e.g. production" });
  const scopes = h("fieldset", { class: "scopes" }, h("legend", null, "Scopes"),
    SCOPES.map(([scope, label]) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "scopes", value: scope, id: `key-scope-${scope}`, checked: scope === "track" }),
      " ", label)));
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const expires = h("input", { type: "date", name: "expires", id: "key-expires", min: tomorrow });
  const form = h("form", { id: "key-form", class: "key-form", "aria-label": "Create an API key" },
    h("div", { class: "form-row" },
      field("Name", name),
      field("Expires (optional)", expires, `At the start of that day, ${state.tz}. Empty: never.`)),
    scopes,
    h("button", { type: "submit", class: "btn primary", id: "create-key" }, "Create key"));
  submitting(form, async (data) => {
    const body = { name: String(data.get("name")).trim(), scopes: data.getAll("scopes") };
    if (!body.scopes.length) throw new Error("Choose at least one scope.");
    if (data.get("expires")) body.expires_at = f.zonedToUtc(data.get("expires") + "T00:00", state.tz);
    const key = await post(`/v1/projects/${ctx.project.id}/keys`, body);
    form.reset();
    state.showSecret(`Secret of the new key "${key.name}"`, key.key, "");
    notify("Key created", `"${key.name}" (${key.prefix}) is ready.`, "success");
    state.loadKeys();
  });
  return form;
}

function keysSection(ctx, state) {
  const manage = ctx.can("keys.manage");
  const slot = h("div", { class: "secret-slot" });
  const list = h("div", { id: "key-list" });
  state.showSecret = (title, secret, note) => {
    const box = secretBox("new-key-secret", title, secret, note);
    mount(slot, box);
    box.focus();
  };
  ctx.onLeave(() => slot.replaceChildren()); // a secret never outlives the page
  state.loadKeys = () => fill(list, async () => {
    const { keys } = await get(`/v1/projects/${ctx.project.id}/keys`);
    if (!keys.length) {
      const next = manage ? "Create one above to send events or read analytics."
        : `Ask an ${whoMay(ctx, "keys.manage")} to create one.`;
      return empty("No API keys", next);
    }
    return table(keyColumns(state, manage ? keyActions(ctx, state) : null), keys, { caption: "API keys" });
  });
  state.loadKeys();
  const intro = h("p", { class: "muted small" },
    "Keys send events (", h("code", null, "track"), ") or read this project's analytics (",
    h("code", null, "read"), "). Only a key's prefix is kept readable; its secret is shown once, when it is made.");
  return panel("API keys", [intro, slot, manage ? keyForm(ctx, state) : null, list], { id: "keys", wide: true });
}

/* ---------- project settings ---------- */

function priceRow(rule = { pattern: "", per_request: 0 }) {
  const row = h("div", { class: "price-row", "data-price-row": "" },
    field("Route pattern", h("input", { name: "pattern", required: true, maxlength: 520, value: rule.pattern,
      placeholder: "GET /users/{id}" })),
    field("Per request", h("input", { name: "pattern_price", type: "number", required: true, min: 0, max: 1000, step: "any",
      value: rule.per_request })),
    button("Remove", () => row.remove(), { kind: "small danger", label: `Remove the price of ${rule.pattern || "this route"}` }));
  row.querySelector("button").dataset.action = "remove-price";
  return row;
}

function ipPrivacyField(current) {
  return h("fieldset", { class: "choices" }, h("legend", null, "Callers' IP addresses"),
    IP_PRIVACY.map(([value, label, hint]) => h("label", { class: "check" },
      h("input", { type: "radio", name: "ip_privacy", value, id: `ip-privacy-${value}`, checked: value === current }),
      " ", h("strong", null, label), h("span", { class: "muted small" }, " — ", hint))));
}

function readBody(data) {
  const patterns = data.getAll("pattern");
  const prices = data.getAll("pattern_price");
  return {
    name: String(data.get("name")).trim(),
    retention_days: Number(data.get("retention_days")),
    ip_privacy: data.get("ip_privacy"),
    timezone: data.get("timezone"),
    pricing: {
      currency: String(data.get("currency")).trim().toUpperCase(),
      per_request: Number(data.get("per_request")),
      per_gb_out: Number(data.get("per_gb_out")),
      per_endpoint: patterns.map((pattern, i) => ({ pattern: pattern.trim(), per_request: Number(prices[i]) })),
    },
  };
}

function changes(body, project) {
  const changed = ([key, value]) => JSON.stringify(value) !== JSON.stringify(project[key]);
  return Object.fromEntries(Object.entries(body).filter(changed));
}

function projectForm(ctx, state, onSaved) {
  const p = state.project;
  const rows = h("div", { class: "price-rows" }, p.pricing.per_endpoint.map((rule) => priceRow(rule)));
  const add = button("Add a route price", () => {
    const row = priceRow();
    rows.append(row);
    row.querySelector("input").focus();
  }, { kind: "small" });
  add.dataset.action = "add-price";
  const pricing = h("fieldset", null, h("legend", null, "Pricing"),
    h("div", { class: "form-row" },
      field("Currency", h("input", { name: "currency", id: "pricing-currency", required: true, pattern: "[A-Za-z]{3}",
        maxlength: 3, value: p.pricing.currency, class: "short", autocomplete: "off" }), "ISO code, e.g. USD"),
      field("Per request", h("input", { name: "per_request", id: "pricing-per-request", type: "number", min: 0, max: 1000,
        step: "any", value: p.pricing.per_request }), "A call no route below matches"),
      field("Per GB out", h("input", { name: "per_gb_out", id: "pricing-per-gb", type: "number", min: 0, max: 10000, step: "any",
        value: p.pricing.per_gb_out }), "Response bytes")),
    h("h3", null, "Per route"),
    h("p", { class: "muted small" }, "\"METHOD /route/{template}\" with * and ? wildcards; the first match wins."),
    rows, add);
  const form = h("form", { id: "project-form", class: "project-form", "aria-label": "Project settings" },
    h("div", { class: "form-row" },
      field("Name", h("input", { name: "name", id: "project-name", required: true, maxlength: 200, value: p.name })),
      field("Retention (days)", h("input", { name: "retention_days", id: "project-retention", type: "number", required: true,
        min: 1, max: 3650, step: 1, value: p.retention_days }), "How long raw events are kept"),
      field("Time zone", zoneSelect({ name: "timezone", id: "project-timezone" }, p.timezone),
        "Days, charts and budgets use it")),
    ipPrivacyField(p.ip_privacy),
    pricing,
    h("button", { type: "submit", class: "btn primary", id: "save-project" }, "Save settings"));
  submitting(form, async (data) => {
    const body = changes(readBody(data), state.project);
    if (!Object.keys(body).length) return void notify("Nothing to save", "No setting was changed.");
    const updated = await patch(`/v1/projects/${state.project.id}`, body);
    await ctx.reloadProjects();
    notify("Settings saved", `"${updated.name}" is up to date.`, "success");
    onSaved(updated);
  });
  return form;
}

function routePrices(rules, money) {
  return table([
    { label: "Route pattern", value: (r) => h("code", null, r.pattern) },
    { label: "Per request", numeric: true, value: (r) => money(r.per_request) },
  ], rules, { caption: "Prices per route" });
}

function readOnly(ctx, p) {
  const privacy = IP_PRIVACY.find(([value]) => value === p.ip_privacy) || [p.ip_privacy, p.ip_privacy, ""];
  const money = (value) => f.money(value, p.pricing.currency);
  const item = (term, ...value) => [h("dt", null, term), h("dd", null, value)];
  return h("div", { id: "project-settings" },
    h("dl", { class: "settings-list" },
      item("Name", p.name),
      item("Retention", `${f.integer(p.retention_days)} days`),
      item("Callers' IP addresses", h("strong", null, privacy[1]), h("span", { class: "muted small" }, " — ", privacy[2])),
      item("Time zone", p.timezone),
      item("Currency", p.pricing.currency),
      item("Per request", money(p.pricing.per_request)),
      item("Per GB out", money(p.pricing.per_gb_out))),
    p.pricing.per_endpoint.length
      ? routePrices(p.pricing.per_endpoint, money)
      : h("p", { class: "muted small" }, "No per-route prices."),
    h("p", { class: "muted small" }, `Only an ${whoMay(ctx, "projects.manage")} can change these settings.`));
}

function dangerZone(ctx, state) {
  const body = h("div");
  const open = () => {
    const input = h("input", { id: "delete-confirm", autocomplete: "off", "aria-describedby": "delete-hint" });
    const go = h("button", { type: "submit", class: "btn danger", "data-action": "confirm-delete-project", disabled: true },
      "Delete this project");
    input.addEventListener("input", () => (go.disabled = input.value !== state.project.name));
    const form = h("form", { id: "delete-project-form", "aria-label": "Delete the project" },
      h("label", { class: "field" },
        h("span", { class: "field-label", id: "delete-hint" },
          "Type the project's name, ", h("code", null, state.project.name), ", to confirm"),
        input),
      h("div", { class: "form-row" }, go, button("Cancel", () => mount(body, start), { kind: "ghost" })));
    submitting(form, async () => {
      if (input.value !== state.project.name) return;
      if (!window.confirm(`Delete "${state.project.name}" and all its data? This cannot be undone.`)) return;
      await del(`/v1/projects/${state.project.id}`);
      await ctx.reloadProjects().catch(() => {});
      notify("Project deleted", `"${state.project.name}" and its keys no longer work; its data is removed shortly.`, "success");
      ctx.go("/projects");
    });
    mount(body, form);
    input.focus();
  };
  const start = h("button", { type: "button", class: "btn danger", "data-action": "delete-project", onclick: open },
    "Delete project…");
  mount(body, start);
  return h("section", { class: "panel wide danger-zone", id: "danger-zone", "aria-label": "Danger zone" },
    h("header", { class: "panel-head" }, h("h2", null, "Danger zone")),
    h("p", null, "Deleting a project stops its API keys at once and removes all its events, rollups, budgets and exports ",
      "shortly after. It cannot be undone."),
    body);
}

function projectSection(ctx, state) {
  const manage = ctx.can("projects.manage");
  const body = h("div");
  const show = () => mount(body, manage ? projectForm(ctx, state, saved) : readOnly(ctx, state.project));
  const saved = (updated) => {
    state.project = updated;
    state.tz = updated.timezone;
    state.heading.textContent = updated.name;
    const option = document.querySelector(`#project-picker option[value="${CSS.escape(updated.id)}"]`);
    if (option) option.textContent = updated.name;
    show();
    if (state.loadKeys) state.loadKeys();
  };
  show();
  return panel("Project settings", body, { id: "project", wide: true });
}

export async function render(ctx, main) {
  const state = { project: ctx.project, tz: ctx.timeZone, heading: h("span", null, ctx.project.name) };
  mount(main,
    h("div", { class: "page-head" }, h("h1", null, "Settings", h("small", null, " · ", state.heading))),
    h("div", { class: "grid" },
      ctx.can("keys.read") ? keysSection(ctx, state) : null,
      projectSection(ctx, state),
      ctx.can("projects.manage") ? dangerZone(ctx, state) : null));
}
